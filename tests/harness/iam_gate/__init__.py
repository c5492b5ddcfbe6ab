"""IAM enforced in the test harness: the fidelity proxy refuses what AWS would refuse (see README.md)."""
