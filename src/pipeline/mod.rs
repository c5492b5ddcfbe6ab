//! The commands, stage by stage: deploy, plan, destroy, sweep, promote.
//!
//! [`prepare`] resolves the settings, the event, the command and the stack ([`resolve`]); a
//! [`Run`] then executes its command ([`deploy`], [`destroy`], [`sweep`], [`promote`]) against the stages,
//! and finally says what happened in the pull request comment, the step summary and the step
//! outputs. Each stage is timed, wrapped in a `::group::`, and recorded in the [`Report`]; a
//! failing stage ends the run with its error category's exit code after the comment and the
//! summary have said what happened.
//!
//! The pipeline calls the stages and never the other way round; it holds the policy (which
//! stack, what is applied where, what may be destroyed) and the stages hold the mechanics.

mod deploy;
mod deployment;
mod destroy;
mod promote;
mod resolve;
mod state;
mod sweep;

use std::time::Instant;

use crate::comment;
use crate::config::{Env, Settings};
use crate::credentials::{self, AwsSession};
use crate::domain::{Command, StackName};
use crate::github::{Context, GitHubApi, Workflow};
use crate::report::{Report, StageStatus};
use crate::{Error, Result};

pub use deployment::IMPLICIT_ENVIRONMENT;
pub use resolve::{default_command, prepare, resolve_stack};
pub use state::{SHARED_STATE_KEY, list_preview_stacks, preview_state_key};

/// Everything a command needs, resolved once.
pub struct Run<'a> {
    pub settings: Settings,
    pub ctx: Context,
    pub workflow: Workflow,
    pub env: &'a dyn Env,
    pub command: Command,
    /// The GitHub API client, when there is a token and a repository to talk to.
    github: Option<GitHubApi>,
    /// The GitHub deployment this run started and the finish path ends.
    deployment: std::sync::Mutex<Option<deployment::Tracked>>,
}

/// The AWS clients of one run, all built from the one SDK configuration the credentials stage
/// produced (region, credentials, retry and timeout settings).
pub struct Clients {
    pub ecr: aws_sdk_ecr::Client,
    pub ecs: aws_sdk_ecs::Client,
    pub s3: aws_sdk_s3::Client,
}

impl Clients {
    pub fn new(session: &AwsSession) -> Self {
        let sdk = &session.sdk_config;
        Self {
            ecr: aws_sdk_ecr::Client::new(sdk),
            ecs: aws_sdk_ecs::Client::new(sdk),
            s3: aws_sdk_s3::Client::new(sdk),
        }
    }
}

fn now_utc() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .unwrap_or_default()
}

/// Runs one stage inside a group, records its timing and outcome.
async fn stage<T>(
    report: &mut Report,
    workflow: &Workflow,
    name: &str,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    workflow.group(name);
    let started = Instant::now();
    // A refused AWS call (SDK or terraform) names the action and resource and says where the
    // deploy roles' permissions live.
    let r = fut.await.map_err(Error::explain_refusal);
    workflow.end_group();
    match &r {
        Ok(_) => report.record(name, StageStatus::Ok, started, None),
        Err(e) => {
            report.record(name, StageStatus::Failed, started, Some(e.to_string()));
            report.fail(e, Some(name));
        }
    }
    r
}

impl Run<'_> {
    fn new_report(&self, command: Command) -> Report {
        let mut r = Report::new(command);
        r.environment = self
            .settings
            .named_environment
            .then(|| self.settings.environment.clone());
        r.repository = self.repository();
        r.run_url = self.ctx.run_url();
        r.dry_run = self.settings.dry_run;
        r
    }

    /// Runs the command; always returns a report, with the error when one happened.
    pub async fn execute(&self) -> (Report, Option<Error>) {
        let mut report = self.new_report(self.command);
        let result = match self.command {
            Command::Deploy => self.deploy(&mut report, false).await,
            Command::Plan => self.deploy(&mut report, true).await,
            Command::Destroy => self.destroy_command(&mut report).await,
            Command::Sweep => self.sweep(&mut report).await,
            Command::Promote => self.promote(&mut report).await,
        };
        if let Err(e) = &result {
            report.fail(e, None);
        }
        self.finish_deployment(&report, result.as_ref().err()).await;
        self.finish(&mut report, result.err()).await
    }

    /// Comment, summary, outputs, annotations: whatever happened before.
    async fn finish(
        &self,
        report: &mut Report,
        mut error: Option<Error>,
    ) -> (Report, Option<Error>) {
        report.updated_at = Some(now_utc());
        if let Some(e) = &error
            && self.workflow.in_actions
        {
            let msg = match e.hint() {
                Some(h) => format!("{e}\nWhat to do: {h}"),
                None => e.to_string(),
            };
            self.workflow
                .error(&format!("ecs-poc {} failed", self.command), &msg);
        }
        if report.command != Command::Sweep
            && let (Some(pr), Some(stack)) = (report.pull_request, report.stack.clone())
            && let Err(e) = self.post_comment(report, pr, &stack).await
        {
            self.workflow
                .warning(&format!("could not update the pull request comment: {e}"));
            if error.is_none() {
                report.fail(&e, Some("comment"));
                error = Some(e);
            }
        }
        if let Err(e) = self
            .workflow
            .append_summary(&comment::render_summary(report))
        {
            self.workflow.warning(&e.to_string());
        }
        if let Err(e) = self.workflow.write_outputs(report) {
            self.workflow.warning(&e.to_string());
        }
        (report.clone(), error)
    }

    async fn post_comment(&self, report: &Report, pr: u64, stack: &StackName) -> Result<()> {
        let Some(api) = &self.github else {
            tracing::info!("no github-token or repository: not commenting on the pull request");
            return Ok(());
        };
        let started = Instant::now();
        let upserted =
            comment::upsert(api, pr, stack.as_str(), &comment::render_comment(report)).await?;
        tracing::info!(
            ?upserted,
            seconds = started.elapsed().as_secs_f64(),
            "pull request comment"
        );
        Ok(())
    }

    async fn credentials(&self, report: &mut Report) -> Result<AwsSession> {
        let preview_settings = self.preview_role_settings();
        stage(
            report,
            &self.workflow,
            "credentials",
            credentials::establish(
                preview_settings.as_ref().unwrap_or(&self.settings),
                &self.ctx,
                &self.workflow,
                self.env,
            ),
        )
        .await
    }

    /// A pull request's stack (deploy, plan, destroy) assumes the environment's
    /// `preview-role-to-assume` when it names one.
    fn preview_role_settings(&self) -> Option<Settings> {
        let role = self.settings.preview_role_to_assume.clone()?;
        let previewing = matches!(
            self.command,
            Command::Deploy | Command::Plan | Command::Destroy
        ) && self.stack().is_ok_and(|s| !s.is_main());
        previewing.then(|| {
            let mut s = self.settings.clone();
            s.role_to_assume = Some(role);
            s
        })
    }
}
