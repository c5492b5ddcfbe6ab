//! GitHub Deployments: each deploy is a deployment of one environment (`pr-N` for a pull
//! request's preview, the environment's name otherwise) whose statuses tell GitHub, and the
//! pull request's page, where it runs: `in_progress`, then `success` with the endpoint or
//! `failure` with why; after a preview's teardown its deployments are `inactive`.
//!
//! Through octocrab's typed deployments API. A deployment and its statuses are a record of the
//! run, not part of it: the pipeline turns their errors into warnings.

use std::sync::Mutex;

use octocrab::models::repos::DeploymentStatusState;

use super::{GitHubApi, is_transient};
use crate::redact::redact;
use crate::{Error, Result};

/// GitHub refuses a status description longer than this.
const DESCRIPTION_LIMIT: usize = 140;

/// The hint for a refused deployments call.
pub const PERMISSION_HINT: &str = "grant the workflow `deployments: write` (job `permissions:`), or pass a github-token that may create deployments";

/// A deployment to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeployment {
    /// `pr-N` or the environment's name.
    pub environment: String,
    /// The commit SHA deployed.
    pub git_ref: String,
    /// A preview that goes away with its pull request.
    pub transient: bool,
    /// The environment end users reach.
    pub production: bool,
    pub description: String,
}

/// A deployment's state as we report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentState {
    InProgress,
    Success,
    Failure,
    /// The run ended before it could tell success from failure (it was cancelled).
    Error,
    Inactive,
}

impl DeploymentState {
    fn octocrab(self) -> DeploymentStatusState {
        match self {
            Self::InProgress => DeploymentStatusState::InProgress,
            Self::Success => DeploymentStatusState::Success,
            Self::Failure => DeploymentStatusState::Failure,
            Self::Error => DeploymentStatusState::Error,
            Self::Inactive => DeploymentStatusState::Inactive,
        }
    }
}

/// One status of a deployment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusUpdate {
    /// Shown on the status; cut to GitHub's 140 characters, secrets redacted.
    pub description: Option<String>,
    /// Where the deployment answers (the `View deployment` button).
    pub environment_url: Option<String>,
    /// The run's page.
    pub log_url: Option<String>,
}

/// `text` redacted and cut to GitHub's limit for a status description, on a character boundary.
pub fn status_description(text: &str) -> String {
    let text = redact(text);
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= DESCRIPTION_LIMIT {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(DESCRIPTION_LIMIT - 1).collect();
    cut.push('…');
    cut
}

/// The deployment this process has marked in progress and not yet finished: a run stopped by a
/// signal exits without unwinding, so the signal handler finishes it from here.
static IN_PROGRESS: Mutex<Option<(GitHubApi, u64, StatusUpdate)>> = Mutex::new(None);

/// Remembers `deployment` as in progress until [`GitHubApi::finish_deployment`] or
/// [`cancel_in_progress`].
fn remember(api: &GitHubApi, deployment: u64, update: &StatusUpdate) {
    if let Ok(mut slot) = IN_PROGRESS.lock() {
        *slot = Some((api.clone(), deployment, update.clone()));
    }
}

fn forget(deployment: u64) {
    if let Ok(mut slot) = IN_PROGRESS.lock()
        && slot.as_ref().is_some_and(|(_, id, _)| *id == deployment)
    {
        *slot = None;
    }
}

/// For a process about to exit on a signal: the deployment in progress, if any, becomes `error`
/// ("cancelled"), so GitHub does not show it in progress for ever. One attempt, no retries: the
/// runner gives a cancelled step seconds, not minutes.
pub async fn cancel_in_progress() {
    let taken = IN_PROGRESS.lock().ok().and_then(|mut slot| slot.take());
    let Some((api, deployment, update)) = taken else {
        return;
    };
    let repo = api.client.repos(&api.owner, &api.repo);
    let handler = repo.deployments();
    let mut builder = handler
        .statuses(deployment)
        .create(DeploymentState::Error.octocrab())
        .description("the run was cancelled before the deploy finished");
    if let Some(url) = update.log_url {
        builder = builder.log_url(url);
    }
    let result = builder.send().await;
    if let Err(e) = result {
        tracing::warn!("could not mark the cancelled deployment {deployment}: {e}");
    }
}

impl GitHubApi {
    /// Creates a deployment of `ref` to the environment; its id. Not retried: a retry after a
    /// lost answer would create a second deployment.
    pub async fn create_deployment(&self, d: &NewDeployment) -> Result<u64> {
        let what = format!("POST /repos/{}/{}/deployments", self.owner, self.repo);
        self.client
            .repos(&self.owner, &self.repo)
            .deployments()
            .create(d.git_ref.clone())
            .environment(d.environment.clone())
            .description(status_description(&d.description))
            .auto_merge(false)
            .required_contexts(Vec::<String>::new())
            .transient_environment(d.transient)
            .production_environment(d.production)
            .send()
            .await
            .map(|created| created.id.into_inner())
            .map_err(|e| deployments_error(&what, e))
    }

    /// Marks a deployment in progress, and remembers it for [`cancel_in_progress`].
    pub async fn start_deployment(&self, deployment: u64, update: &StatusUpdate) -> Result<()> {
        self.create_deployment_status(deployment, DeploymentState::InProgress, update)
            .await?;
        remember(self, deployment, update);
        Ok(())
    }

    /// Gives a deployment its final status (`success`, `failure`).
    pub async fn finish_deployment(
        &self,
        deployment: u64,
        state: DeploymentState,
        update: &StatusUpdate,
    ) -> Result<()> {
        forget(deployment);
        self.create_deployment_status(deployment, state, update)
            .await
    }

    /// Adds a status to a deployment. Retried like the idempotent calls: a status posted twice
    /// leaves the deployment in the same state.
    pub async fn create_deployment_status(
        &self,
        deployment: u64,
        state: DeploymentState,
        update: &StatusUpdate,
    ) -> Result<()> {
        let what = format!(
            "POST /repos/{}/{}/deployments/{deployment}/statuses",
            self.owner, self.repo
        );
        let repo = self.client.repos(&self.owner, &self.repo);
        let description = update.description.as_deref().map(status_description);
        self.backoff
            .retry(
                || {
                    let handler = repo.deployments();
                    let mut builder = handler.statuses(deployment).create(state.octocrab());
                    if let Some(d) = &description {
                        builder = builder.description(d.clone());
                    }
                    if let Some(url) = &update.environment_url {
                        builder = builder.environment_url(url.clone());
                    }
                    if let Some(url) = &update.log_url {
                        builder = builder.log_url(url.clone());
                    }
                    async move { builder.send().await }
                },
                is_transient,
            )
            .await
            .map(|_| ())
            .map_err(|e| deployments_error(&what, e))
    }

    /// The ids of every deployment of `environment`, all pages.
    pub async fn list_deployments(&self, environment: &str) -> Result<Vec<u64>> {
        let what = format!(
            "GET /repos/{}/{}/deployments?environment={environment}",
            self.owner, self.repo
        );
        let repo = self.client.repos(&self.owner, &self.repo);
        let first = self
            .backoff
            .retry(
                || {
                    repo.deployments()
                        .list()
                        .environment(environment)
                        .per_page(100)
                        .send()
                },
                is_transient,
            )
            .await
            .map_err(|e| deployments_error(&what, e))?;
        let all = self
            .backoff
            .retry(|| self.client.all_pages(first.clone()), is_transient)
            .await
            .map_err(|e| deployments_error(&what, e))?;
        Ok(all.into_iter().map(|d| d.id.into_inner()).collect())
    }

    /// The state of a deployment's latest status; `None` before its first.
    pub async fn latest_deployment_state(
        &self,
        deployment: u64,
    ) -> Result<Option<DeploymentStatusState>> {
        let what = format!(
            "GET /repos/{}/{}/deployments/{deployment}/statuses",
            self.owner, self.repo
        );
        let repo = self.client.repos(&self.owner, &self.repo);
        // GitHub lists a deployment's statuses newest first.
        let page = self
            .backoff
            .retry(
                || {
                    repo.deployments()
                        .statuses(deployment)
                        .list()
                        .per_page(1)
                        .send()
                },
                is_transient,
            )
            .await
            .map_err(|e| deployments_error(&what, e))?;
        Ok(page.items.first().map(|s| s.state))
    }

    /// Marks every deployment of `environment` that is not yet inactive `inactive`, as after its
    /// stack was torn down; how many it marked.
    pub async fn deactivate_environment(
        &self,
        environment: &str,
        update: &StatusUpdate,
    ) -> Result<usize> {
        let mut marked = 0;
        for id in self.list_deployments(environment).await? {
            if self.latest_deployment_state(id).await? == Some(DeploymentStatusState::Inactive) {
                continue;
            }
            self.create_deployment_status(id, DeploymentState::Inactive, update)
                .await?;
            marked += 1;
        }
        Ok(marked)
    }
}

fn deployments_error(route: &str, e: octocrab::Error) -> Error {
    let (status, message) = match &e {
        octocrab::Error::GitHub { source, .. } => {
            (Some(source.status_code.as_u16()), source.message.clone())
        }
        other => (None, other.to_string()),
    };
    let hint = match status {
        Some(401) => "the github-token is invalid or expired",
        Some(403) | Some(404) => PERMISSION_HINT,
        Some(409) | Some(422) => {
            "GitHub refused the deployment for this commit; the deploy itself is unaffected"
        }
        _ => "check GITHUB_API_URL and the network; the deploy itself is unaffected",
    };
    let status = status.map(|s| format!(" (HTTP {s})")).unwrap_or_default();
    Error::github(redact(&format!("{route}{status}: {message}")))
        .with_hint(hint)
        .with_source(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_description_is_cut_to_githubs_limit_on_one_line() {
        let long = format!("rollout failed:\n{}", "é".repeat(300));
        let d = status_description(&long);
        assert_eq!(d.chars().count(), DESCRIPTION_LIMIT);
        assert!(d.starts_with("rollout failed: é"));
        assert!(d.ends_with('…'));
        assert_eq!(status_description("short"), "short");
    }
}
