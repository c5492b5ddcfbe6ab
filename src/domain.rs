//! The project's values, typed once at the edge and trusted everywhere after: the command, the
//! name of a preview stack, what a sweep did to a stack, and what the stages produce (a plan's
//! summary, the image, the rollout) for the report to record.
//!
//! Everything here is plain data; it talks to no outside system and imports no other module of
//! the crate except the error type.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::{Error, Result};

/// What a run does.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    clap::ValueEnum,
    Serialize,
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
    /// Run the image another environment runs (by digest, copied, never rebuilt) here.
    Promote,
}

impl Command {
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Deploy => "deploy",
            Command::Plan => "plan",
            Command::Destroy => "destroy",
            Command::Sweep => "sweep",
            Command::Promote => "promote",
        }
    }
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Command {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        <Self as clap::ValueEnum>::from_str(s, true)
    }
}

/// A preview stack: `main` (the default branch) or `pr-<N>` (a pull request). Nothing else can
/// be named, so no stack name can address the shared stack's state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct StackName(String);

impl StackName {
    /// The default branch's stack.
    pub fn main() -> Self {
        Self("main".into())
    }

    /// A pull request's stack, `pr-<number>`; `None` for pull request 0.
    pub fn for_pull_request(number: u64) -> Option<Self> {
        (number > 0).then(|| Self(format!("pr-{number}")))
    }

    pub fn parse(name: &str) -> Result<Self> {
        if name == "main" || pr_number(name).is_some() {
            Ok(Self(name.to_string()))
        } else {
            Err(
                Error::config(format!("stack `{name}` is not `main` or `pr-<number>`")).with_hint(
                    "stacks are named after the default branch (main) or a pull request (pr-12)",
                ),
            )
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_main(&self) -> bool {
        self.0 == "main"
    }

    /// `pr-12` -> 12; `main` -> `None`.
    pub fn pull_request(&self) -> Option<u64> {
        pr_number(&self.0)
    }
}

impl fmt::Display for StackName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for StackName {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

impl AsRef<str> for StackName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for StackName {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for StackName {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

/// `pr-12` -> 12 (no leading zeros, no sign).
fn pr_number(stack: &str) -> Option<u64> {
    let n = stack.strip_prefix("pr-")?;
    if n.is_empty() || n.starts_with('0') || !n.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    n.parse().ok()
}

/// What a sweep did with one preview stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SweepAction {
    /// Its pull request is closed and the stack was torn down.
    #[serde(rename = "destroyed")]
    Destroyed,
    /// Its pull request is closed; a dry run left it.
    #[serde(rename = "would destroy")]
    WouldDestroy,
    /// Its pull request is open, or its state could not be read.
    #[serde(rename = "kept")]
    Kept,
    /// The teardown failed.
    #[serde(rename = "failed")]
    Failed,
}

impl SweepAction {
    pub fn as_str(self) -> &'static str {
        match self {
            SweepAction::Destroyed => "destroyed",
            SweepAction::WouldDestroy => "would destroy",
            SweepAction::Kept => "kept",
            SweepAction::Failed => "failed",
        }
    }
}

impl fmt::Display for SweepAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a terraform plan changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PlanSummary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    pub replace: usize,
    /// (address, action) for every resource that changes; action is one of create/update/delete/replace/read.
    pub resources: Vec<ResourceChange>,
}

impl PlanSummary {
    /// Resources that change (reads of data sources do not count).
    pub fn total(&self) -> usize {
        self.add + self.change + self.destroy + self.replace
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceChange {
    pub address: String,
    pub action: String,
}

/// What a plan of the shared stack was made from (its configuration, variables and binary, as
/// one fingerprint, and the state's lineage and serial) and what it found. A pull request's
/// next run that finds the same inputs has the same plan, so it need not plan again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SharedPlanStamp {
    pub configuration: String,
    pub lineage: String,
    pub serial: u64,
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    pub replace: usize,
}

impl SharedPlanStamp {
    /// The plan's counts (the resource list is not kept).
    pub fn summary(&self) -> PlanSummary {
        PlanSummary {
            add: self.add,
            change: self.change,
            destroy: self.destroy,
            replace: self.replace,
            resources: Vec::new(),
        }
    }

    /// Whether a plan from `other` would be this plan.
    pub fn same_inputs(&self, other: &SharedPlanStamp) -> bool {
        self.configuration == other.configuration
            && self.lineage == other.lineage
            && self.serial == other.serial
    }
}

/// The image a deploy runs.
#[derive(Debug, Clone, Serialize)]
pub struct BuiltImage {
    pub repository_uri: String,
    pub tag: String,
    pub digest: String,
    /// `repository_uri@digest`, what the task definition gets.
    pub image_ref: String,
    /// True when ECR already held the tag and nothing was built.
    pub reused: bool,
}

/// The task definition a rollout left running.
#[derive(Debug, Clone, Serialize)]
pub struct RolloutOutcome {
    pub task_definition_arn: String,
    pub revision: i32,
    pub deployment_id: Option<String>,
    /// True when the service already ran exactly this task definition content.
    pub unchanged: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_main_and_pull_request_stacks_have_names() {
        assert_eq!(
            StackName::parse("pr-12").map(|s| s.pull_request()).ok(),
            Some(Some(12))
        );
        assert!(StackName::parse("main").is_ok_and(|s| s.is_main()));
        for bad in ["shared", "../shared", "pr-", "pr-012", "pr-1x", "PR-1", ""] {
            assert!(StackName::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            StackName::for_pull_request(7)
                .map(|s| s.to_string())
                .as_deref(),
            Some("pr-7")
        );
        assert!(StackName::for_pull_request(0).is_none());
    }
}
