//! The result of one run, as plain data: per-stage timings, plans, image, rollout, endpoint,
//! error. [`crate::comment`] renders it for the pull request and the step summary,
//! [`crate::github`] writes its step outputs, and `--output json` prints it.
//!
//! It imports no stage: the values it records are the [`crate::domain`] types the stages
//! produce.

use std::time::{Duration, Instant};

use serde::Serialize;

pub use crate::domain::{BuiltImage, PlanSummary, RolloutOutcome, SharedPlanStamp, SweepAction};
use crate::domain::{Command, StackName};
use crate::error::{Category, Error};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Success,
    Failure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStatus {
    Ok,
    Skipped,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StageRecord {
    pub name: String,
    pub status: StageStatus,
    pub seconds: f64,
    pub detail: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlanRecord {
    /// `shared` or the preview stack's name.
    pub stack: String,
    /// False when the plan was only shown (shared stack on a pull request, `plan` command).
    pub applied: bool,
    pub summary: PlanSummary,
    /// Human-readable plan; in the comment (truncated) and the step summary, not in JSON.
    #[serde(skip)]
    pub text: String,
}

impl PlanRecord {
    pub fn changes(&self) -> usize {
        self.summary.add + self.summary.change + self.summary.destroy + self.summary.replace
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorRecord {
    pub category: Category,
    pub exit_code: i32,
    pub message: String,
    pub hint: Option<String>,
    /// The stage that failed.
    pub stage: Option<String>,
}

impl ErrorRecord {
    pub fn from_error(e: &Error, stage: Option<&str>) -> Self {
        Self {
            category: e.category(),
            exit_code: e.exit_code(),
            message: e.message().to_string(),
            hint: e.hint().map(str::to_string),
            stage: stage.map(str::to_string),
        }
    }
}

/// One stack `sweep` looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SweepRecord {
    pub stack: StackName,
    /// `open`, `closed`, or `unknown` when GitHub could not say.
    pub pull_request_state: String,
    pub action: SweepAction,
    /// Why, when the action needs explaining (the error of a failed or undecided stack).
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub command: Command,
    pub status: Status,
    /// The environment of `ecs-poc.yml` the run acted on; absent without `environments:`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// promote: the digest that now runs in both environments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// promote: the environment the image came from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_environment: Option<String>,
    /// promote: the commit the image was built from (the source task definition's APP_VERSION).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_commit: Option<String>,
    pub stack: Option<StackName>,
    pub pull_request: Option<u64>,
    pub repository: Option<String>,
    pub commit: Option<String>,
    pub run_url: Option<String>,
    pub stages: Vec<StageRecord>,
    pub plans: Vec<PlanRecord>,
    pub image: Option<BuiltImage>,
    pub rollout: Option<RolloutOutcome>,
    pub endpoint: Option<String>,
    pub smoke_version: Option<String>,
    pub torn_down_at: Option<String>,
    pub deleted_images: Vec<String>,
    pub swept: Vec<SweepRecord>,
    pub notes: Vec<String>,
    pub error: Option<ErrorRecord>,
    pub dry_run: bool,
    /// When the report was last rendered (UTC), shown in the comment's footer.
    pub updated_at: Option<String>,
    /// The inputs and counts of the shared stack's plan, kept (hidden) in the pull request's
    /// comment for the next run.
    pub shared_plan: Option<SharedPlanStamp>,
    /// True when the shared stack was not planned because its inputs were those of the last plan.
    pub shared_plan_reused: bool,
}

impl Report {
    pub fn new(command: Command) -> Self {
        Self {
            command,
            status: Status::Success,
            environment: None,
            digest: None,
            source_environment: None,
            source_commit: None,
            stack: None,
            pull_request: None,
            repository: None,
            commit: None,
            run_url: None,
            stages: Vec::new(),
            plans: Vec::new(),
            image: None,
            rollout: None,
            endpoint: None,
            smoke_version: None,
            torn_down_at: None,
            deleted_images: Vec::new(),
            swept: Vec::new(),
            notes: Vec::new(),
            error: None,
            dry_run: false,
            updated_at: None,
            shared_plan: None,
            shared_plan_reused: false,
        }
    }

    pub fn record(
        &mut self,
        name: &str,
        status: StageStatus,
        started: Instant,
        detail: Option<String>,
    ) {
        self.push_stage(name, status, started.elapsed(), detail);
    }

    /// Records a stage and logs its outcome and time, so the log shows where the time went.
    pub fn push_stage(
        &mut self,
        name: &str,
        status: StageStatus,
        took: Duration,
        detail: Option<String>,
    ) {
        // Tenths of a second: enough to compare runs, stable enough to read.
        let seconds = (took.as_secs_f64() * 10.0).round() / 10.0;
        let outcome = match status {
            StageStatus::Ok => "ok",
            StageStatus::Skipped => "skipped",
            StageStatus::Failed => "FAILED",
        };
        match &detail {
            Some(d) => tracing::info!("stage {name}: {outcome} in {seconds:.1} s ({d})"),
            None => tracing::info!("stage {name}: {outcome} in {seconds:.1} s"),
        }
        self.stages.push(StageRecord {
            name: name.to_string(),
            status,
            seconds,
            detail,
        });
    }

    pub fn fail(&mut self, e: &Error, stage: Option<&str>) {
        self.status = Status::Failure;
        if self.error.is_none() {
            self.error = Some(ErrorRecord::from_error(e, stage));
        }
    }

    /// A remark for the reader of the comment and the log (e.g. "nothing to destroy").
    pub fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        tracing::info!("{text}");
        self.notes.push(text);
    }

    pub fn plan_changes(&self) -> usize {
        self.plans.iter().map(PlanRecord::changes).sum()
    }

    pub fn to_json(&self) -> String {
        crate::redact::redact(&serde_json::to_string_pretty(self).unwrap_or_else(|_| "{}".into()))
    }

    /// The step outputs: `plan-changes`, and `endpoint`, `image`, `task-definition-arn`, `stack`,
    /// `environment`, and for promote `digest`, `source-environment`, `source-commit`, when the
    /// run has them.
    pub fn outputs(&self) -> Vec<(&'static str, String)> {
        let mut outputs = vec![("plan-changes", self.plan_changes().to_string())];
        if let Some(e) = &self.endpoint {
            outputs.push(("endpoint", e.clone()));
        }
        if let Some(i) = &self.image {
            outputs.push(("image", i.image_ref.clone()));
        }
        if let Some(r) = &self.rollout {
            outputs.push(("task-definition-arn", r.task_definition_arn.clone()));
        }
        if let Some(s) = &self.stack {
            outputs.push(("stack", s.to_string()));
        }
        for (name, value) in [
            ("environment", &self.environment),
            ("digest", &self.digest),
            ("source-environment", &self.source_environment),
            ("source-commit", &self.source_commit),
        ] {
            if let Some(v) = value {
                outputs.push((name, v.clone()));
            }
        }
        outputs
    }
}
