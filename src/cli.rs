//! Command-line interface. Every option can also come from the environment, as
//! `ECS_POC_<NAME>` or, inside GitHub Actions, as the action input `INPUT_<NAME>`; the
//! merge with `ecs-poc.yml` and the defaults happens in [`crate::config`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    ValueEnum,
    serde::Serialize,
    serde::Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Command {
    /// Plan and apply the stacks, build and push the image, roll out, wait, smoke-check, comment.
    Deploy,
    /// Plan both stacks and comment the plan; apply nothing, build nothing.
    Plan,
    /// Tear down one preview stack and its images; never the shared stack.
    Destroy,
    /// Destroy every preview stack whose pull request is closed.
    Sweep,
}

impl Command {
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Deploy => "deploy",
            Command::Plan => "plan",
            Command::Destroy => "destroy",
            Command::Sweep => "sweep",
        }
    }
}

impl std::str::FromStr for Command {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        <Self as ValueEnum>::from_str(s, true)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable lines on stderr only.
    #[default]
    Text,
    /// The result as one JSON document on stdout (logs stay on stderr).
    Json,
}

impl std::str::FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        <Self as ValueEnum>::from_str(s, true)
    }
}

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

Every option below can also be given as an environment variable ECS_POC_<NAME> (e.g.
ECS_POC_STATE_BUCKET) or, in an action, as the input <name> (which GitHub passes as
INPUT_<NAME>). Precedence: flag > environment/input > ecs-poc.yml > built-in default.";

const AFTER_HELP: &str = "\
Examples:
  # Preview what a deploy would change, from your machine (default AWS credential chain):
  ecs-poc plan --state-bucket my-tf-state --stack pr-12

  # Deploy the main stack:
  ecs-poc deploy --state-bucket my-tf-state --stack main

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
            SubCommand::Schema => None,
        }
    }
}

/// Options shared by every command. All are optional here: absence means "look further"
/// (environment, input, file, default).
#[derive(Debug, Clone, Default, Args)]
pub struct Options {
    /// deploy | plan | destroy | sweep (same as the subcommand). [env: ECS_POC_COMMAND, input: command]
    #[arg(long, global = true, value_name = "COMMAND")]
    pub command: Option<Command>,

    /// IAM role ARN to assume with the run's OIDC token (Actions only).
    /// [env: ECS_POC_ROLE_TO_ASSUME, input: role-to-assume]
    #[arg(long, global = true, value_name = "ARN")]
    pub role_to_assume: Option<String>,

    /// AWS region. [default: eu-west-2] [env: ECS_POC_AWS_REGION, input: aws-region]
    #[arg(long, global = true, value_name = "REGION")]
    pub aws_region: Option<String>,

    /// STS session name; derived from the repository and run when unset.
    /// [env: ECS_POC_ROLE_SESSION_NAME, input: role-session-name]
    #[arg(long, global = true, value_name = "NAME")]
    pub role_session_name: Option<String>,

    /// Lifetime of the assumed role's credentials, 900-43200. [default: 3600]
    /// [env: ECS_POC_ROLE_DURATION_SECONDS, input: role-duration-seconds]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub role_duration_seconds: Option<u32>,

    /// Token for pull request comments and state; prefer the environment (GITHUB_TOKEN) to a
    /// flag, which other processes can read. [env: ECS_POC_GITHUB_TOKEN, GITHUB_TOKEN, input: github-token]
    #[arg(long, global = true, value_name = "TOKEN", hide_env_values = true)]
    pub github_token: Option<String>,

    /// S3 bucket holding the terraform state (made by terraform/bootstrap).
    /// [env: ECS_POC_STATE_BUCKET, input: state-bucket]
    #[arg(long, global = true, value_name = "BUCKET")]
    pub state_bucket: Option<String>,

    /// Preview stack: `main` or `pr-<N>`; follows the event when unset. [env: ECS_POC_STACK, input: stack]
    #[arg(long, global = true, value_name = "STACK")]
    pub stack: Option<String>,

    /// Pull request number (destroy from workflow_dispatch, or by hand).
    /// [env: ECS_POC_PULL_REQUEST, input: pull-request]
    #[arg(long, global = true, value_name = "N")]
    pub pull_request: Option<u64>,

    /// `owner/name`; needed outside Actions for comments and sweep. [env: ECS_POC_REPOSITORY, GITHUB_REPOSITORY]
    #[arg(long, global = true, value_name = "OWNER/NAME")]
    pub repository: Option<String>,

    /// Project config file. [default: ecs-poc.yml] [env: ECS_POC_CONFIG, input: config]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// `terraform`, `tofu`, or a path. [default: terraform] [env: ECS_POC_TERRAFORM_BINARY, input: terraform-binary]
    #[arg(long, global = true, value_name = "BIN")]
    pub terraform_binary: Option<String>,

    /// Seconds to wait for the rollout before failing. [default: 900]
    /// [env: ECS_POC_WAIT_TIMEOUT, input: wait-timeout]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub wait_timeout: Option<u64>,

    /// GET <endpoint>/healthz after the rollout and require the deployed version. [default: true]
    /// [env: ECS_POC_SMOKE_CHECK, input: smoke-check]
    #[arg(long, global = true, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub smoke_check: Option<bool>,

    /// Allow destroying the `main` stack. [default: false] [env: ECS_POC_FORCE, input: force]
    #[arg(long, global = true, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub force: Option<bool>,

    /// Show what would happen; change nothing (sweep lists, destroy plans).
    /// [default: false] [env: ECS_POC_DRY_RUN, input: dry-run]
    #[arg(long, global = true, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub dry_run: Option<bool>,

    /// text | json (json: the result on stdout). [default: text] [env: ECS_POC_OUTPUT, input: output]
    #[arg(long, global = true, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}
