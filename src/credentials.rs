//! AWS credentials. In GitHub Actions with `role-to-assume`: the run's OIDC token, then STS
//! AssumeRoleWithWebIdentity. Otherwise the SDK's default chain (environment, profile, SSO).
//! One `SdkConfig` serves every client, with the retry and timeout settings of [`sdk_loader`];
//! terraform and docker get the same credentials through their environment only, never through
//! arguments or files.
//!
//! An assumed role's session ends after `role-duration-seconds`, and a run can outlast it (a
//! long rollout wait, apply or sweep). [`RenewingWebIdentity`] renews the session with a fresh
//! OIDC token when it is within [`RENEW_BEFORE`] of its end: the SDK clients ask it through
//! their identity cache, and terraform gets the current credentials at every invocation.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, future};
use aws_sdk_sts::config::interceptors::InterceptorContext;
use aws_sdk_sts::config::retry::{ClassifyRetry, RetryAction};
use aws_sdk_sts::error::ProvideErrorMetadata;
use aws_sdk_sts::operation::assume_role_with_web_identity::AssumeRoleWithWebIdentityError;
use secrecy::{ExposeSecret, SecretString};

pub use crate::backoff::Backoff;
use crate::config::{Env, Settings};
use crate::github::{Context, Workflow};
use crate::{Error, Result};

pub const AUDIENCE: &str = "sts.amazonaws.com";

/// Attempts per AWS call (the first one included) when AWS throttles or a connection fails.
const AWS_ATTEMPTS: u32 = 5;
/// A connection that takes longer than this is a network problem, not a slow AWS.
const AWS_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// One attempt of one AWS call; the calls we make answer in well under a second.
const AWS_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(60);

/// Credentials are renewed this long before they expire: longer than any single AWS call or
/// wait between calls takes, and well within STS's shortest session (15 minutes).
pub const RENEW_BEFORE: Duration = Duration::from_secs(5 * 60);

/// The one place the AWS clients' retry and timeout settings are made: every client of a run
/// (STS included) is built from a configuration loaded through this. The clients ask for new
/// credentials [`RENEW_BEFORE`] their expiry.
pub fn sdk_loader(region: Region) -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .region(region)
        .identity_cache(IdentityCache::lazy().buffer_time(RENEW_BEFORE).build())
        .retry_config(RetryConfig::standard().with_max_attempts(AWS_ATTEMPTS))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(AWS_CONNECT_TIMEOUT)
                .operation_attempt_timeout(AWS_ATTEMPT_TIMEOUT)
                .build(),
        )
}

/// STS answers `IDPCommunicationError` when it could not reach GitHub's OIDC provider, a
/// transient failure the SDK's own classifiers do not know; this one marks it retryable.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdpCommunicationRetry;

impl ClassifyRetry for IdpCommunicationRetry {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        let idp_unreachable = ctx
            .output_or_error()
            .and_then(|r| r.err())
            .and_then(|e| e.as_operation_error())
            .and_then(|e| e.downcast_ref::<AssumeRoleWithWebIdentityError>())
            .is_some_and(|e| e.code() == Some("IDPCommunicationError"));
        if idp_unreachable {
            RetryAction::transient_error()
        } else {
            RetryAction::NoActionIndicated
        }
    }

    fn name(&self) -> &'static str {
        "IDPCommunicationError is transient"
    }
}

/// How the credentials were obtained, for the report (never the values).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum CredentialSource {
    /// Assumed through GitHub OIDC: the role ARN and session name.
    WebIdentity {
        role_arn: String,
        session_name: String,
    },
    /// The SDK's default provider chain.
    DefaultChain,
}

pub struct AwsSession {
    pub sdk_config: SdkConfig,
    /// Variables for terraform and docker children; secrets included, so never log these.
    pub child_env: Vec<(String, String)>,
    pub source: CredentialSource,
    /// For an assumed role: the credentials as they are now, renewed when they would expire.
    /// Children started later take theirs from here rather than from `child_env`.
    pub renewing: Option<RenewingWebIdentity>,
}

/// What an assumed role's session is made from, to make it again.
#[derive(Clone)]
pub struct WebIdentitySource {
    /// `ACTIONS_ID_TOKEN_REQUEST_URL` and `_TOKEN`: a new OIDC token at every renewal.
    pub request_url: String,
    pub request_token: SecretString,
    pub role_arn: String,
    pub session_name: String,
    pub duration_seconds: u32,
    /// Unsigned configuration for STS.
    pub sts_config: SdkConfig,
    pub backoff: Backoff,
    /// Registers every new token and key before it can be printed.
    pub workflow: Workflow,
}

/// Credentials of an assumed role that renew themselves: kept while more than
/// [`RENEW_BEFORE`] is left of them, else made again from a fresh OIDC token (GitHub's tokens
/// are short-lived, so the first one cannot be reused). Cheap to clone; clones share the
/// credentials.
#[derive(Clone)]
pub struct RenewingWebIdentity {
    inner: Arc<Renewing>,
}

struct Renewing {
    source: WebIdentitySource,
    renew_before: Duration,
    current: tokio::sync::Mutex<Option<Credentials>>,
}

impl std::fmt::Debug for RenewingWebIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenewingWebIdentity")
            .field("role_arn", &self.inner.source.role_arn)
            .finish_non_exhaustive()
    }
}

impl RenewingWebIdentity {
    pub fn new(source: WebIdentitySource) -> Self {
        Self::with_margin(source, RENEW_BEFORE)
    }

    /// Renews when less than `renew_before` is left of the credentials.
    pub fn with_margin(source: WebIdentitySource, renew_before: Duration) -> Self {
        Self {
            inner: Arc::new(Renewing {
                source,
                renew_before,
                current: tokio::sync::Mutex::new(None),
            }),
        }
    }

    /// The credentials to use now: the current ones, or new ones if they would expire within
    /// the margin. Concurrent callers wait for one renewal.
    pub async fn credentials(&self) -> Result<Credentials> {
        let mut current = self.inner.current.lock().await;
        if let Some(c) = current.as_ref()
            && lasts(c, self.inner.renew_before)
        {
            return Ok(c.clone());
        }
        let s = &self.inner.source;
        let token = fetch_oidc_token(&s.request_url, &s.request_token, AUDIENCE).await?;
        s.workflow.add_mask(token.expose_secret());
        let creds = assume_role_with_web_identity(
            &s.sts_config,
            &s.role_arn,
            &s.session_name,
            s.duration_seconds,
            &token,
            s.backoff,
        )
        .await?;
        s.workflow.add_mask(creds.access_key_id());
        s.workflow.add_mask(creds.secret_access_key());
        if let Some(t) = creds.session_token() {
            s.workflow.add_mask(t);
        }
        if current.is_some() {
            tracing::info!(role = %s.role_arn, "renewed the AWS session before it expired");
        }
        *current = Some(creds.clone());
        Ok(creds)
    }

    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN` as they are now,
    /// for a child process about to start.
    pub async fn env(&self) -> Result<Vec<(String, String)>> {
        Ok(credential_env(&self.credentials().await?))
    }
}

/// More than `margin` is left before `c` expires (or it never does).
fn lasts(c: &Credentials, margin: Duration) -> bool {
    c.expiry().is_none_or(|e| e > SystemTime::now() + margin)
}

fn credential_env(c: &Credentials) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "AWS_ACCESS_KEY_ID".to_string(),
            c.access_key_id().to_string(),
        ),
        (
            "AWS_SECRET_ACCESS_KEY".to_string(),
            c.secret_access_key().to_string(),
        ),
    ];
    if let Some(t) = c.session_token() {
        env.push(("AWS_SESSION_TOKEN".to_string(), t.to_string()));
    }
    env
}

impl ProvideCredentials for RenewingWebIdentity {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(async move {
            self.credentials()
                .await
                .map_err(CredentialsError::provider_error)
        })
    }
}

impl std::fmt::Debug for AwsSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsSession")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// A valid STS session name (2-64 characters of `[\w+=,.@-]`) from the repository and run,
/// so CloudTrail shows which run did what: `ecs-poc@owner.name@run-123-1`.
pub fn session_name(
    repository: Option<&str>,
    run_id: Option<&str>,
    run_attempt: Option<&str>,
) -> String {
    let mut raw = String::from("ecs-poc");
    if let Some(r) = repository {
        raw.push('@');
        raw.push_str(&r.replace('/', "."));
    }
    if let Some(id) = run_id {
        raw.push_str("@run-");
        raw.push_str(id);
        if let Some(a) = run_attempt {
            raw.push('-');
            raw.push_str(a);
        }
    }
    sanitize_session_name(&raw)
}

/// Replaces characters STS rejects and fits the length; keeps the *end* of long names,
/// where the run id that tells sessions apart sits.
pub fn sanitize_session_name(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut name = if cleaned.len() > 64 {
        cleaned[cleaned.len() - 64..].to_string()
    } else {
        cleaned
    };
    while name.len() < 2 {
        name.push('-');
    }
    name
}

pub fn is_valid_session_name(s: &str) -> bool {
    (2..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

/// GET `ACTIONS_ID_TOKEN_REQUEST_URL&audience=...` with the request token as bearer.
pub async fn fetch_oidc_token(
    request_url: &str,
    request_token: &SecretString,
    audience: &str,
) -> Result<SecretString> {
    let sep = if request_url.contains('?') { '&' } else { '?' };
    let url = format!("{request_url}{sep}audience={audience}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| {
            Error::credentials(format!("cannot build an HTTP client: {e}")).with_source(e)
        })?;
    let fetch = || async {
        let resp = http
            .get(&url)
            .bearer_auth(request_token.expose_secret())
            .send()
            .await?;
        resp.error_for_status()?.json::<serde_json::Value>().await
    };
    let retryable = |e: &reqwest::Error| {
        e.is_timeout()
            || e.is_connect()
            || e.status()
                .is_some_and(|s| s.is_server_error() || s.as_u16() == 429)
    };
    let body = Backoff {
        attempts: 4,
        ..Backoff::default()
    }
    .retry(fetch, retryable)
    .await
    .map_err(|e| {
        let status = e
            .status()
            .map(|s| format!(" (HTTP {s})"))
            .unwrap_or_default();
        Error::credentials(format!("the GitHub OIDC token request failed{status}")).with_hint(
            "the job needs `permissions: id-token: write`; re-run the job if GitHub had an outage",
        )
    })?;
    body.get("value")
        .and_then(serde_json::Value::as_str)
        .filter(|v| !v.is_empty())
        .map(|v| SecretString::from(v.to_string()))
        .ok_or_else(|| Error::credentials("the GitHub OIDC token response has no `value`"))
}

/// Assumes `role_arn` with a web identity token. The SDK's retry strategy, with `backoff`'s
/// attempts and delays, retries throttling, transport failures and `IDPCommunicationError`;
/// a refusal is final.
pub async fn assume_role_with_web_identity(
    base: &SdkConfig,
    role_arn: &str,
    session_name: &str,
    duration_seconds: u32,
    token: &SecretString,
    backoff: Backoff,
) -> Result<Credentials> {
    let conf = aws_sdk_sts::config::Builder::from(base)
        .retry_config(backoff.retry_config())
        .retry_classifier(IdpCommunicationRetry)
        .build();
    let sts = aws_sdk_sts::Client::from_conf(conf);
    let out = sts
        .assume_role_with_web_identity()
        .role_arn(role_arn)
        .role_session_name(session_name)
        .duration_seconds(duration_seconds as i32)
        .web_identity_token(token.expose_secret())
        .send()
        .await
        .map_err(|e| {
            let code = e.code().unwrap_or("unknown").to_string();
            let message = e.message().map(str::to_string).unwrap_or_else(|| e.to_string());
            let hint = match code.as_str() {
                "AccessDenied" => format!(
                    "the role's trust policy must allow this run: Federated token.actions.githubusercontent.com, \
                     `aud` = {AUDIENCE}, and a `sub` condition matching e.g. repo:OWNER/NAME:pull_request or \
                     repo:OWNER/NAME:ref:refs/heads/main (owner and name as GitHub spells them)"
                ),
                "InvalidIdentityToken" => "add token.actions.githubusercontent.com as an IAM OIDC identity provider in the account".into(),
                "ValidationError" => "check role-duration-seconds against the role's maximum session duration".into(),
                _ => "check role-to-assume and aws-region; retry if AWS was throttling".into(),
            };
            Error::credentials(format!("STS AssumeRoleWithWebIdentity for {role_arn} failed: {code}: {message}"))
                .with_hint(hint)
                .with_source(e)
        })?;
    let c = out
        .credentials()
        .ok_or_else(|| Error::credentials("STS returned no credentials"))?;
    Ok(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_string()),
        SystemTime::try_from(*c.expiration()).ok(),
        "github-oidc",
    ))
}

/// Establishes the session for this run and masks every credential before returning.
pub async fn establish(
    settings: &Settings,
    ctx: &Context,
    workflow: &Workflow,
    env: &dyn Env,
) -> Result<AwsSession> {
    let region = Region::new(settings.aws_region.clone());
    let region_env = vec![
        ("AWS_REGION".to_string(), settings.aws_region.clone()),
        (
            "AWS_DEFAULT_REGION".to_string(),
            settings.aws_region.clone(),
        ),
    ];
    let request_url = env
        .var("ACTIONS_ID_TOKEN_REQUEST_URL")
        .filter(|v| !v.is_empty());
    let request_token = env
        .var("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        .filter(|v| !v.is_empty());

    let Some(role_arn) = settings.role_to_assume.clone() else {
        tracing::info!("no role-to-assume: using the default AWS credential chain");
        let sdk_config = sdk_loader(region).load().await;
        return Ok(AwsSession {
            sdk_config,
            child_env: region_env,
            source: CredentialSource::DefaultChain,
            renewing: None,
        });
    };

    let (Some(request_url), Some(request_token)) = (request_url, request_token) else {
        if ctx.from_fork() {
            return Err(Error::credentials(
                "this pull request comes from a fork, and GitHub gives fork pull requests no OIDC token, so no AWS role can be assumed",
            )
            .with_hint(
                "deploy previews only for branches of this repository (skip the job when \
                 github.event.pull_request.head.repo.full_name != github.repository), or have a maintainer push the branch here",
            ));
        }
        if ctx.in_actions {
            return Err(Error::credentials("no GitHub OIDC token: ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN are not set")
                .with_hint("add `permissions: id-token: write` to the job (and contents: read, pull-requests: write)"));
        }
        return Err(Error::credentials(format!(
            "role-to-assume {role_arn} needs a GitHub OIDC token, and this is not a GitHub Actions run"
        ))
        .with_hint("outside Actions, unset role-to-assume and use your own AWS credentials (AWS_PROFILE, aws sso login)"));
    };

    let request_token = SecretString::from(request_token);
    workflow.add_mask(request_token.expose_secret());

    let session_name = match &settings.role_session_name {
        Some(n) if is_valid_session_name(n) => n.clone(),
        Some(n) => {
            return Err(
                Error::config(format!("role-session-name `{n}` is not valid"))
                    .with_hint("use 2-64 characters of letters, digits and _+=,.@-"),
            );
        }
        None => session_name(
            ctx.repository.as_deref(),
            ctx.run_id.as_deref(),
            ctx.run_attempt.as_deref(),
        ),
    };
    let renewing = RenewingWebIdentity::new(WebIdentitySource {
        request_url,
        request_token,
        role_arn: role_arn.clone(),
        session_name: session_name.clone(),
        duration_seconds: settings.role_duration_seconds,
        sts_config: sdk_loader(region.clone()).no_credentials().load().await,
        backoff: Backoff {
            attempts: 12,
            ..Backoff::default()
        },
        workflow: workflow.clone(),
    });
    // The first session now, so a refused role fails the run before anything else starts;
    // its credentials are masked before anything else can print them.
    let creds = renewing.credentials().await?;
    let mut child_env = region_env;
    child_env.extend(credential_env(&creds));
    let sdk_config = sdk_loader(region)
        .credentials_provider(renewing.clone())
        .load()
        .await;
    tracing::info!(role = %role_arn, session = %session_name, "assumed the role through GitHub OIDC");
    Ok(AwsSession {
        sdk_config,
        child_env,
        source: CredentialSource::WebIdentity {
            role_arn,
            session_name,
        },
        renewing: Some(renewing),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_are_valid_and_keep_the_run() {
        let n = session_name(Some("my-org/my.repo"), Some("123456"), Some("2"));
        assert_eq!(n, "ecs-poc@my-org.my.repo@run-123456-2");
        assert!(is_valid_session_name(&n));
        let long = session_name(
            Some(&format!("o/{}", "r".repeat(100))),
            Some("987"),
            Some("1"),
        );
        assert_eq!(long.len(), 64);
        assert!(long.ends_with("@run-987-1"));
        assert!(is_valid_session_name(&long));
        assert_eq!(sanitize_session_name("a b/c!"), "a-b-c-");
        assert_eq!(sanitize_session_name("x"), "x-");
        assert!(!is_valid_session_name("has space"));
    }
}
