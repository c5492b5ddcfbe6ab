//! The run's GitHub deployment: created before a deploy touches anything, finished with the
//! endpoint or the failure once the run is over; a torn-down preview's deployments are marked
//! inactive. Deployments record a run, they are not part of it: a refusal (the workflow lacks
//! `deployments: write`) or an outage is a warning, never a failed deploy.

use super::Run;
use crate::Error;
use crate::domain::StackName;
use crate::github::{DeploymentState, NewDeployment, StatusUpdate};
use crate::report::Report;

/// The name of the implicit environment when ecs-poc.yml declares none: the default branch's.
pub const IMPLICIT_ENVIRONMENT: &str = "main";

/// A deployment this run created and still has to finish.
pub(super) struct Tracked {
    id: u64,
    environment: String,
}

impl Run<'_> {
    /// The name of the environment this run deploys to: the selected one of `environments:` in
    /// ecs-poc.yml, or without them the implicit one (`IMPLICIT_ENVIRONMENT`). Deployments take
    /// the name from here only.
    pub(super) fn environment_name(&self) -> &str {
        &self.settings.environment
    }

    /// Whether the environment is the one end users reach (GitHub's `production_environment`):
    /// one named `production`, or one that takes promotions (`promote-from`).
    fn is_production_environment(&self) -> bool {
        self.environment_name() == "production"
            || self
                .settings
                .selected_environment()
                .is_some_and(|e| e.promote_from.is_some())
    }

    /// The GitHub environment a stack's deployments belong to: `pr-N` for a preview, else the
    /// environment's name.
    pub(super) fn deployment_environment(&self, stack: &StackName) -> String {
        match stack.pull_request() {
            Some(_) => stack.to_string(),
            None => self.environment_name().to_string(),
        }
    }

    fn warn_deployment(&self, doing: &str, e: &Error) {
        let message = match e.hint() {
            Some(h) => format!("could not {doing}: {e}; {h}"),
            None => format!("could not {doing}: {e}"),
        };
        self.workflow.warning(&message);
    }

    /// Creates the deployment of `stack` at `commit` and marks it in progress, for the finish
    /// path to end. Nothing without a GitHub client; a warning when GitHub refuses.
    pub(super) async fn start_deployment(&self, stack: &StackName, commit: &str) {
        let Some(api) = self.github.as_ref() else {
            return;
        };
        let environment = self.deployment_environment(stack);
        let new = NewDeployment {
            environment: environment.clone(),
            git_ref: commit.to_string(),
            transient: stack.pull_request().is_some(),
            production: stack.pull_request().is_none() && self.is_production_environment(),
            description: format!("ecs-poc {} of {stack}", self.command),
        };
        let started = async {
            let id = api.create_deployment(&new).await?;
            api.start_deployment(id, &self.status_update(None, None))
                .await?;
            Ok::<_, Error>(id)
        };
        match started.await {
            Ok(id) => {
                tracing::info!(deployment = id, %environment, "GitHub deployment in progress");
                if let Ok(mut slot) = self.deployment.lock() {
                    *slot = Some(Tracked { id, environment });
                }
            }
            Err(e) => self.warn_deployment(
                &format!("create the GitHub deployment of {environment}"),
                &e,
            ),
        }
    }

    /// The deployment this run started, if any: `success` with the endpoint, or `failure` with
    /// the error.
    pub(super) async fn finish_deployment(&self, report: &Report, error: Option<&Error>) {
        let tracked = self.deployment.lock().ok().and_then(|mut slot| slot.take());
        let (Some(api), Some(tracked)) = (self.github.as_ref(), tracked) else {
            return;
        };
        let (state, update) = match error {
            None => (
                DeploymentState::Success,
                self.status_update(
                    Some(match &report.endpoint {
                        Some(url) => format!("deployed to {url}"),
                        None => "deployed".into(),
                    }),
                    report.endpoint.clone(),
                ),
            ),
            Some(e) => (
                DeploymentState::Failure,
                self.status_update(Some(failure_description(report, e)), None),
            ),
        };
        if let Err(e) = api.finish_deployment(tracked.id, state, &update).await {
            self.warn_deployment(
                &format!("finish the GitHub deployment of {}", tracked.environment),
                &e,
            );
        }
    }

    /// After a preview's teardown: its deployments become inactive.
    pub(super) async fn deactivate_deployments(&self, stack: &StackName) {
        let Some(api) = self.github.as_ref() else {
            return;
        };
        if stack.pull_request().is_none() {
            return;
        }
        let environment = self.deployment_environment(stack);
        let update = self.status_update(Some(format!("{stack} was torn down")), None);
        match api.deactivate_environment(&environment, &update).await {
            Ok(n) => tracing::info!(%environment, marked = n, "GitHub deployments inactive"),
            Err(e) => self.warn_deployment(
                &format!("mark the GitHub deployments of {environment} inactive"),
                &e,
            ),
        }
    }

    fn status_update(
        &self,
        description: Option<String>,
        environment_url: Option<String>,
    ) -> StatusUpdate {
        StatusUpdate {
            description,
            environment_url,
            log_url: self.ctx.run_url(),
        }
    }
}

/// What failed, for the status: the failed stage and the error's first line.
fn failure_description(report: &Report, e: &Error) -> String {
    let first_line = e.message().lines().next().unwrap_or_default();
    match report.error.as_ref().and_then(|r| r.stage.as_deref()) {
        Some(stage) => format!("{stage} failed: {first_line}"),
        None => format!("failed: {first_line}"),
    }
}
