//! Command-line interface. Every option can also come from the environment, as
//! `ECS_POC_<NAME>` or, inside GitHub Actions, as the action input `INPUT_<NAME>`; the
//! merge with `ecs-poc.yml` and the defaults happens in [`crate::config`].

use clap::{Parser, Subcommand};

pub use crate::config::{Options, OutputFormat};
pub use crate::domain::Command;

const ABOUT: &str =
    "From a pull request to a running, autoscaled service on AWS ECS, and back down again.";

const LONG_ABOUT: &str = "\
From a pull request to a running, autoscaled service on AWS ECS, and back down again.

In a GitHub Actions run the command and the stack follow from the event:
  pull_request opened/synchronize/reopened -> deploy stack pr-<N>
  pull_request closed                      -> destroy stack pr-<N>
  push to the default branch               -> deploy stack main
  workflow_dispatch with pull-request      -> destroy stack pr-<N>
  schedule                                 -> sweep

With `environments:` in ecs-poc.yml, --environment picks one; unset, a pull request uses the
environment with `previews: true` and anything else the one environment without `promote-from`.

Every option below can also be given as an environment variable ECS_POC_<NAME> (e.g.
ECS_POC_STATE_BUCKET) or, in an action, as the input <name> (which GitHub passes as
INPUT_<NAME>). Precedence: flag > environment/input > ecs-poc.yml > built-in default.";

const AFTER_HELP: &str = "\
Examples:
  # Preview what a deploy would change, from your machine (default AWS credential chain):
  ecs-poc plan --state-bucket my-tf-state --stack pr-12

  # Deploy the main stack:
  ecs-poc deploy --state-bucket my-tf-state --stack main

  # Deploy staging, then run exactly staging's image in production:
  ecs-poc deploy --environment staging --stack main
  ecs-poc promote --from staging --to production

  # Tear down pull request 12's stack and images:
  ecs-poc destroy --state-bucket my-tf-state --pull-request 12

  # List preview stacks whose pull request is closed, without destroying them:
  GITHUB_TOKEN=... ecs-poc sweep --state-bucket my-tf-state --repository owner/name --dry-run

Exit codes: 0 ok, 1 unexpected, 2 configuration, 3 credentials, 4 terraform, 5 image,
6 rollout (incl. smoke check), 7 GitHub.";

#[derive(Debug, Parser)]
#[command(name = "ecs-poc", version, about = ABOUT, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<SubCommand>,
    #[command(flatten)]
    pub options: Options,
}

#[derive(Debug, Clone, Subcommand)]
pub enum SubCommand {
    /// Plan and apply the stacks, build and push the image, roll out, wait, smoke-check, comment.
    Deploy,
    /// Plan both stacks and comment the plan; apply nothing, build nothing.
    Plan,
    /// Tear down one preview stack (pr-<N>) and its images; refuses `main` without --force.
    Destroy,
    /// Destroy the preview stacks whose pull request is closed (--dry-run lists them).
    Sweep,
    /// Copy the image the --from environment runs (same digest) to the --to environment and
    /// roll it out there; refused unless --to has `promote-from: <from>` and --from is healthy.
    Promote,
    /// Print the JSON schema of ecs-poc.yml.
    Schema,
}

impl SubCommand {
    pub fn command(&self) -> Option<Command> {
        match self {
            SubCommand::Deploy => Some(Command::Deploy),
            SubCommand::Plan => Some(Command::Plan),
            SubCommand::Destroy => Some(Command::Destroy),
            SubCommand::Sweep => Some(Command::Sweep),
            SubCommand::Promote => Some(Command::Promote),
            SubCommand::Schema => None,
        }
    }
}
