"""IAM enforced in the test harness: the fidelity proxy refuses what AWS would refuse (see README.md)."""

from tests.harness.iam_gate.gate import IamGate

__all__ = ["IamGate"]
