//! GitHub, the outside system: the Actions runtime (the event that started the run, workflow
//! commands `::add-mask::`, `::group::`, `::error::`, the files `$GITHUB_OUTPUT` and
//! `$GITHUB_STEP_SUMMARY`) and the small part of the REST API we use (issue comments, pull
//! request state, deployments and their statuses).
//!
//! Workflow commands go to stderr: the runner reads commands from both streams, and stdout
//! stays free for `--output json`.

mod deployments;

pub use deployments::{
    DeploymentState, NewDeployment, PERMISSION_HINT, StatusUpdate, cancel_in_progress,
    status_description,
};

use std::io::Write;
use std::path::{Path, PathBuf};

use std::time::Duration;

use octocrab::models::IssueState;
use octocrab::models::issues::Comment;
use octocrab::service::middleware::retry::RetryConfig;
use serde::Deserialize;

use crate::backoff::Backoff;
use crate::config::Env;
use crate::redact::{Masker, redact};
use crate::report::Report;
use crate::{Error, Result};

/// What the run was triggered by, reduced to what decides the command and the stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    PullRequest {
        number: u64,
        /// opened, synchronize, reopened, closed, ...
        action: String,
        /// The head branch lives in another repository: no OIDC token, no secrets.
        from_fork: bool,
        head_sha: Option<String>,
    },
    Push {
        git_ref: String,
        on_default_branch: bool,
    },
    WorkflowDispatch,
    Schedule,
    /// Not in Actions, or an event we have no default for.
    None,
    Other(String),
}

#[derive(Debug, Clone)]
pub struct Context {
    pub in_actions: bool,
    pub event_name: String,
    pub event: Event,
    /// `owner/name`
    pub repository: Option<String>,
    pub sha: Option<String>,
    pub run_id: Option<String>,
    pub run_attempt: Option<String>,
    pub api_url: String,
    pub server_url: String,
}

impl Context {
    /// Reads `GITHUB_*` variables and the event payload at `GITHUB_EVENT_PATH`.
    pub fn from_env(env: &dyn Env) -> Result<Self> {
        let in_actions = env.var("GITHUB_ACTIONS").is_some_and(|v| v == "true");
        let event_name = env.var("GITHUB_EVENT_NAME").unwrap_or_default();
        let payload = match env.var("GITHUB_EVENT_PATH") {
            Some(path) if !event_name.is_empty() => {
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    Error::config(format!("cannot read the event payload {path}: {e}")).with_hint(
                        "GITHUB_EVENT_PATH must point at the event JSON the runner wrote",
                    )
                })?;
                serde_json::from_str::<Payload>(&text).map_err(|e| {
                    Error::config(format!(
                        "the event payload {path} is not the JSON of a GitHub event: {e}"
                    ))
                    .with_source(e)
                })?
            }
            _ => Payload::default(),
        };
        let repository = env.var("GITHUB_REPOSITORY").or_else(|| {
            payload
                .repository
                .as_ref()
                .and_then(|r| r.full_name.clone())
        });
        let git_ref = env.var("GITHUB_REF").unwrap_or_default();
        let event = parse_event(&event_name, &payload, &git_ref)?;
        Ok(Self {
            in_actions,
            event_name,
            event,
            repository,
            sha: env.var("GITHUB_SHA"),
            run_id: env.var("GITHUB_RUN_ID"),
            run_attempt: env.var("GITHUB_RUN_ATTEMPT"),
            api_url: env
                .var("GITHUB_API_URL")
                .unwrap_or_else(|| "https://api.github.com".into()),
            server_url: env
                .var("GITHUB_SERVER_URL")
                .unwrap_or_else(|| "https://github.com".into()),
        })
    }

    pub fn pull_request(&self) -> Option<u64> {
        match &self.event {
            Event::PullRequest { number, .. } => Some(*number),
            _ => None,
        }
    }

    pub fn from_fork(&self) -> bool {
        matches!(
            self.event,
            Event::PullRequest {
                from_fork: true,
                ..
            }
        )
    }

    /// The commit the image is built from: a pull request's head, not the merge commit
    /// GitHub checks out, so the version a reviewer sees is the one they pushed.
    pub fn commit(&self) -> Option<String> {
        match &self.event {
            Event::PullRequest {
                head_sha: Some(sha),
                ..
            } => Some(sha.clone()),
            _ => self.sha.clone(),
        }
    }

    /// `https://github.com/owner/repo/actions/runs/123`, for links in the comment.
    pub fn run_url(&self) -> Option<String> {
        Some(format!(
            "{}/{}/actions/runs/{}",
            self.server_url,
            self.repository.as_ref()?,
            self.run_id.as_ref()?
        ))
    }
}

/// The parts of an event payload that decide the command and the stack. Every field is
/// optional here so that a payload of another shape still parses; what an event needs is
/// checked where it is read.
#[derive(Debug, Default, Deserialize)]
struct Payload {
    action: Option<String>,
    number: Option<u64>,
    pull_request: Option<PullRequestPayload>,
    #[serde(rename = "ref")]
    git_ref: Option<String>,
    repository: Option<RepositoryPayload>,
}

#[derive(Debug, Deserialize)]
struct PullRequestPayload {
    number: Option<u64>,
    head: Option<BranchPayload>,
    base: Option<BranchPayload>,
}

#[derive(Debug, Deserialize)]
struct BranchPayload {
    sha: Option<String>,
    /// `null` when the head repository (a fork) was deleted.
    #[serde(default, deserialize_with = "present_or_null")]
    repo: Option<Option<RepositoryPayload>>,
}

#[derive(Debug, Deserialize)]
struct RepositoryPayload {
    full_name: Option<String>,
    default_branch: Option<String>,
}

/// Tells a key that is `null` (`Some(None)`) from a key that is missing (`None`).
fn present_or_null<'de, D, T>(d: D) -> std::result::Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

impl BranchPayload {
    fn repo_name(&self) -> Option<&str> {
        self.repo.as_ref()?.as_ref()?.full_name.as_deref()
    }
}

fn parse_event(name: &str, payload: &Payload, git_ref: &str) -> Result<Event> {
    Ok(match name {
        "" => Event::None,
        "pull_request" | "pull_request_target" => {
            let pr = payload.pull_request.as_ref().ok_or_else(|| {
                Error::config(format!(
                    "the {name} event payload has no pull_request object"
                ))
            })?;
            let number = pr
                .number
                .or(payload.number)
                .ok_or_else(|| Error::config("the pull_request event payload has no number"))?;
            let head_repo = pr.head.as_ref().and_then(BranchPayload::repo_name);
            let base_repo = pr.base.as_ref().and_then(BranchPayload::repo_name);
            // A deleted fork has `head.repo: null`; that is still a fork.
            let head_repo_deleted = pr
                .head
                .as_ref()
                .is_some_and(|h| matches!(h.repo, Some(None)));
            let from_fork = match (head_repo, base_repo) {
                (Some(h), Some(b)) => !h.eq_ignore_ascii_case(b),
                (None, Some(_)) => head_repo_deleted,
                _ => false,
            };
            Event::PullRequest {
                number,
                action: payload.action.clone().unwrap_or_default(),
                from_fork,
                head_sha: pr.head.as_ref().and_then(|h| h.sha.clone()),
            }
        }
        "push" => {
            let git_ref = payload
                .git_ref
                .clone()
                .unwrap_or_else(|| git_ref.to_string());
            let default = payload
                .repository
                .as_ref()
                .and_then(|r| r.default_branch.as_deref());
            let on_default_branch = default.is_some_and(|d| git_ref == format!("refs/heads/{d}"));
            Event::Push {
                git_ref,
                on_default_branch,
            }
        }
        "workflow_dispatch" => Event::WorkflowDispatch,
        "schedule" => Event::Schedule,
        other => Event::Other(other.to_string()),
    })
}

/// Escapes the message part of a workflow command.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value of a workflow command.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Workflow commands and the runner's files. Outside Actions the same calls print plain,
/// readable lines and write nothing.
#[derive(Debug, Clone, Default)]
pub struct Workflow {
    pub in_actions: bool,
    pub output_file: Option<PathBuf>,
    pub summary_file: Option<PathBuf>,
}

impl Workflow {
    pub fn from_env(env: &dyn Env) -> Self {
        Self {
            in_actions: env.var("GITHUB_ACTIONS").is_some_and(|v| v == "true"),
            output_file: env.var("GITHUB_OUTPUT").map(PathBuf::from),
            summary_file: env.var("GITHUB_STEP_SUMMARY").map(PathBuf::from),
        }
    }

    fn emit(&self, line: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{line}");
    }

    /// Registers a secret with our masker and, in Actions, with the runner's log masking.
    /// Call before anything that could print the value.
    pub fn add_mask(&self, secret: &str) {
        for value in Masker::global().add(secret) {
            if self.in_actions {
                // The only line we must not pass through the masker.
                self.emit(&format!("::add-mask::{}", escape_data(&value)));
            }
        }
    }

    pub fn group(&self, title: &str) {
        if self.in_actions {
            self.emit(&format!("::group::{}", escape_data(&redact(title))));
        } else {
            self.emit(&format!("==> {}", redact(title)));
        }
    }

    pub fn end_group(&self) {
        if self.in_actions {
            self.emit("::endgroup::");
        }
    }

    pub fn error(&self, title: &str, message: &str) {
        let (title, message) = (redact(title), redact(message));
        if self.in_actions {
            self.emit(&format!(
                "::error title={}::{}",
                escape_property(&title),
                escape_data(&message)
            ));
        } else {
            self.emit(&format!("error: {title}: {message}"));
        }
    }

    pub fn warning(&self, message: &str) {
        let message = redact(message);
        if self.in_actions {
            self.emit(&format!("::warning::{}", escape_data(&message)));
        } else {
            self.emit(&format!("warning: {message}"));
        }
    }

    /// Appends `name` to `$GITHUB_OUTPUT` in the heredoc form, which is safe for values with
    /// newlines; the delimiter is random and checked not to occur in the value.
    pub fn set_output(&self, name: &str, value: &str) -> Result<()> {
        let Some(path) = &self.output_file else {
            return Ok(());
        };
        let value = redact(value);
        let delimiter = loop {
            let d = format!("ghadelimiter_{:016x}", rand::random::<u64>());
            if !value.contains(&d) && !name.contains(&d) {
                break d;
            }
        };
        append(
            path,
            &format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"),
        )
    }

    /// The report's outputs (`plan-changes`, `endpoint`, `image`, `task-definition-arn`,
    /// `stack`) to `$GITHUB_OUTPUT`.
    pub fn write_outputs(&self, report: &Report) -> Result<()> {
        for (name, value) in report.outputs() {
            self.set_output(name, &value)?;
        }
        Ok(())
    }

    /// Appends Markdown to `$GITHUB_STEP_SUMMARY`.
    pub fn append_summary(&self, markdown: &str) -> Result<()> {
        let Some(path) = &self.summary_file else {
            return Ok(());
        };
        append(path, &redact(markdown))
    }
}

fn append(path: &Path, text: &str) -> Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| {
            Error::github(format!("cannot open {}: {e}", path.display())).with_source(e)
        })?;
    f.write_all(text.as_bytes())
        .map_err(|e| Error::github(format!("cannot write {}: {e}", path.display())).with_source(e))
}

/// A comment on an issue or pull request, reduced to what the upsert needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueComment {
    pub id: u64,
    pub author: String,
    /// The author is a bot account (`user.type == "Bot"`): a GitHub App's `<app-slug>[bot]`.
    pub author_is_bot: bool,
    pub body: String,
}

impl From<Comment> for IssueComment {
    fn from(c: Comment) -> Self {
        Self {
            id: c.id.into_inner(),
            author_is_bot: c.user.r#type == "Bot",
            author: c.user.login,
            body: c.body.unwrap_or_default(),
        }
    }
}

/// The REST calls we make, through octocrab's typed API (which honours `GITHUB_API_URL` as its
/// base URI). octocrab's own retries are off: it retries server errors at once, and would
/// retry a comment creation too; idempotent calls here are retried with backoff instead.
#[derive(Clone)]
pub struct GitHubApi {
    client: octocrab::Octocrab,
    owner: String,
    repo: String,
    backoff: Backoff,
}

/// Who the token writes comments as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// `GET /user` answered: a personal access or OAuth token acting as this login.
    User(String),
    /// `GET /user` was refused (401 or 403): an installation token of a GitHub App. The job's
    /// `GITHUB_TOKEN` is one (of the app `github-actions`), and so is a token minted for a
    /// custom app. Its comments are authored by the app's bot account `<app-slug>[bot]`, whose
    /// slug an installation token cannot ask for (`GET /app` takes the app's private-key JWT).
    App,
}

impl Identity {
    /// Whether a comment's author may be this token: the same login for a user, any bot
    /// account for an app. A person (`type == "User"`) is never an app.
    pub fn may_have_written(&self, c: &IssueComment) -> bool {
        match self {
            Identity::User(login) => c.author.eq_ignore_ascii_case(login),
            Identity::App => c.author_is_bot && c.author.ends_with("[bot]"),
        }
    }
}

/// A connection to the API that takes longer than this is a network problem.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Reading or writing one request; a comment is at most 64 KiB.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

impl GitHubApi {
    pub fn new(api_url: &str, token: &secrecy::SecretString, repository: &str) -> Result<Self> {
        let (owner, repo) = repository.split_once('/').ok_or_else(|| {
            Error::config(format!(
                "repository `{repository}` is not of the form owner/name"
            ))
        })?;
        let client = octocrab::Octocrab::builder()
            .base_uri(api_url)
            .map_err(|e| {
                Error::config(format!("GITHUB_API_URL `{api_url}` is not a URL: {e}"))
                    .with_source(e)
            })?
            .personal_token(token.clone())
            .add_retry_config(RetryConfig::None)
            .set_connect_timeout(Some(CONNECT_TIMEOUT))
            .set_read_timeout(Some(IO_TIMEOUT))
            .set_write_timeout(Some(IO_TIMEOUT))
            .build()
            .map_err(|e| {
                Error::github(format!("cannot build the GitHub client: {e}")).with_source(e)
            })?;
        Ok(Self {
            client,
            owner: owner.to_string(),
            repo: repo.to_string(),
            backoff: Backoff {
                attempts: 4,
                ..Backoff::default()
            },
        })
    }

    /// Runs an idempotent call again, with backoff, while GitHub answers 5xx or 429 or the
    /// connection fails.
    async fn idempotent<T, F, Fut>(&self, what: &str, call: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = octocrab::Result<T>>,
    {
        self.backoff
            .retry(call, is_transient)
            .await
            .map_err(|e| api_error(what, e))
    }

    /// Who the token acts as: its login, or [`Identity::App`] when it may not ask.
    pub async fn identity(&self) -> Result<Identity> {
        let what = "GET /user";
        match self
            .backoff
            .retry(
                || async { self.client.current().user().await },
                is_transient,
            )
            .await
        {
            Ok(user) => Ok(Identity::User(user.login)),
            Err(octocrab::Error::GitHub { source, .. })
                if source.status_code.as_u16() == 403 || source.status_code.as_u16() == 401 =>
            {
                Ok(Identity::App)
            }
            Err(e) => Err(api_error(what, e)),
        }
    }

    /// Every comment of an issue or pull request, all pages.
    pub async fn list_comments(&self, issue: u64) -> Result<Vec<IssueComment>> {
        let what = format!(
            "GET /repos/{}/{}/issues/{issue}/comments",
            self.owner, self.repo
        );
        let issues = self.client.issues(&self.owner, &self.repo);
        let first = self
            .idempotent(&what, || issues.list_comments(issue).per_page(100).send())
            .await?;
        let all = self
            .idempotent(&what, || self.client.all_pages(first.clone()))
            .await?;
        Ok(all.into_iter().map(IssueComment::from).collect())
    }

    /// Creates a comment. Not retried: a retry after a lost answer would post it twice.
    pub async fn create_comment(&self, issue: u64, body: &str) -> Result<IssueComment> {
        let what = format!(
            "POST /repos/{}/{}/issues/{issue}/comments",
            self.owner, self.repo
        );
        self.client
            .issues(&self.owner, &self.repo)
            .create_comment(issue, redact(body))
            .await
            .map(IssueComment::from)
            .map_err(|e| api_error(&what, e))
    }

    /// Edits a comment with `PATCH`, the method GitHub documents (octocrab's `update_comment`
    /// sends `POST`).
    pub async fn update_comment(&self, id: u64, body: &str) -> Result<IssueComment> {
        let (what, result) = self.patch_comment(id, body).await;
        result.map_err(|e| api_error(&what, e))
    }

    /// Edits a comment if the token may: `None` when GitHub refuses (403) or no longer has it
    /// (404), as it answers for a comment another app wrote.
    pub async fn update_comment_if_ours(
        &self,
        id: u64,
        body: &str,
    ) -> Result<Option<IssueComment>> {
        match self.patch_comment(id, body).await {
            (_, Ok(c)) => Ok(Some(c)),
            (_, Err(octocrab::Error::GitHub { source, .. }))
                if matches!(source.status_code.as_u16(), 403 | 404) =>
            {
                Ok(None)
            }
            (what, Err(e)) => Err(api_error(&what, e)),
        }
    }

    async fn patch_comment(&self, id: u64, body: &str) -> (String, octocrab::Result<IssueComment>) {
        let route = format!("/repos/{}/{}/issues/comments/{id}", self.owner, self.repo);
        let what = format!("PATCH {route}");
        let body = serde_json::json!({ "body": redact(body) });
        let result = self
            .backoff
            .retry(
                || async {
                    self.client
                        .patch::<Comment, _, _>(&route, Some(&body))
                        .await
                },
                is_transient,
            )
            .await
            .map(IssueComment::from);
        (what, result)
    }

    /// `open` or `closed` (merged pull requests are closed).
    pub async fn pull_request_state(&self, number: u64) -> Result<String> {
        let what = format!("GET /repos/{}/{}/pulls/{number}", self.owner, self.repo);
        let pulls = self.client.pulls(&self.owner, &self.repo);
        let pr = self.idempotent(&what, || pulls.get(number)).await?;
        match pr.state {
            Some(IssueState::Open) => Ok("open".into()),
            Some(IssueState::Closed) => Ok("closed".into()),
            other => Err(Error::github(format!(
                "GitHub's answer to {what} has no state we know: {other:?}"
            ))),
        }
    }
}

/// Server errors, rate limiting (429) and failed connections pass; anything else is final.
fn is_transient(e: &octocrab::Error) -> bool {
    match e {
        octocrab::Error::GitHub { source, .. } => {
            source.status_code.is_server_error() || source.status_code.as_u16() == 429
        }
        octocrab::Error::Hyper { .. } | octocrab::Error::Service { .. } => true,
        _ => false,
    }
}

fn api_error(route: &str, e: octocrab::Error) -> Error {
    let (status, message) = match &e {
        octocrab::Error::GitHub { source, .. } => {
            (Some(source.status_code.as_u16()), source.message.clone())
        }
        other => (None, other.to_string()),
    };
    let hint = match status {
        Some(401) => "the github-token is invalid or expired",
        Some(403) | Some(404) => {
            "give the job `permissions: pull-requests: write` (and `issues: write`), or pass a github-token that may comment on this repository"
        }
        Some(422) => "GitHub rejected the content; the comment body may be too large",
        _ => "check GITHUB_API_URL and the network; the run can be retried",
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
    fn workflow_command_data_is_escaped() {
        assert_eq!(escape_data("50%\r\nnext"), "50%25%0D%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}
