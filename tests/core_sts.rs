//! STS over real HTTP against tests/fakes/fake_sts.py: throttling, and STS failing to reach the
//! OIDC provider, are retried with backoff until they pass, a trust-policy refusal is not retried and says what to fix, and endless
//! throttling gives up after the configured attempts. A role session about to expire is renewed
//! with a fresh OIDC token at each use, by the AWS clients and every terraform invocation alike; one far
//! from its end is kept.

mod support;

use std::time::Duration;

use ecs_poc::credentials::{self, Backoff};
use secrecy::SecretString;
use serde_json::Value;

const ROLE: &str = "arn:aws:iam::123456789012:role/deploy";

async fn unsigned(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(support::REGION))
        .no_credentials()
        .load()
        .await
}

async fn script(url: &str, throttle: u32) {
    script_json(url, serde_json::json!({ "throttle": throttle })).await;
}

async fn script_json(url: &str, script: Value) {
    reqwest::Client::new()
        .post(format!("{url}/_fake/script"))
        .json(&script)
        .send()
        .await
        .expect("script");
}

async fn calls(url: &str) -> Vec<Value> {
    let state: Value = reqwest::get(format!("{url}/_fake/state"))
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    state["calls"].as_array().cloned().unwrap_or_default()
}

fn quick(attempts: u32) -> Backoff {
    Backoff {
        attempts,
        base: Duration::from_millis(10),
        cap: Duration::from_millis(40),
    }
}

fn token() -> SecretString {
    SecretString::from("header.claims.signature".to_string())
}

#[tokio::test]
async fn throttling_is_retried_until_sts_answers() {
    let sts = require!(support::start_fake("fake_sts.py", &[], &[]));
    script(&sts.url(), 3).await;
    let conf = unsigned(&sts.url()).await;
    let creds = credentials::assume_role_with_web_identity(
        &conf,
        ROLE,
        "ecs-poc@acme.shop@run-1-1",
        3600,
        &token(),
        quick(6),
    )
    .await
    .expect("credentials after three throttles");
    assert_eq!(creds.access_key_id(), "ASIAFAKESTSFAKESTS01");
    let log = calls(&sts.url()).await;
    let answers: Vec<&str> = log
        .iter()
        .map(|c| c["answer"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(answers, ["throttled", "throttled", "throttled", "ok"]);
    assert!(
        log.iter()
            .all(|c| c["session_name"] == "ecs-poc@acme.shop@run-1-1" && c["duration"] == "3600")
    );
}

#[tokio::test]
async fn an_unreachable_identity_provider_is_retried_until_sts_answers() {
    let sts = require!(support::start_fake("fake_sts.py", &[], &[]));
    script_json(
        &sts.url(),
        serde_json::json!({ "throttle": 1, "idp_unreachable": 2 }),
    )
    .await;
    let conf = unsigned(&sts.url()).await;
    let creds =
        credentials::assume_role_with_web_identity(&conf, ROLE, "s-1", 3600, &token(), quick(6))
            .await
            .expect("credentials once STS reaches the identity provider");
    assert_eq!(creds.access_key_id(), "ASIAFAKESTSFAKESTS01");
    let answers: Vec<String> = calls(&sts.url())
        .await
        .iter()
        .map(|c| c["answer"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        answers,
        ["throttled", "idp-unreachable", "idp-unreachable", "ok"]
    );
}

#[tokio::test]
async fn a_trust_policy_refusal_is_not_retried_and_explains_the_trust() {
    let sts = require!(support::start_fake("fake_sts.py", &[], &[]));
    let conf = unsigned(&sts.url()).await;
    let err = credentials::assume_role_with_web_identity(
        &conf,
        "arn:aws:iam::123456789012:role/denied",
        "s-1",
        3600,
        &token(),
        quick(6),
    )
    .await
    .expect_err("denied");
    assert_eq!(err.exit_code(), 3);
    assert!(err.to_string().contains("AccessDenied"), "{err}");
    let hint = err.hint().unwrap_or_default();
    assert!(
        hint.contains("token.actions.githubusercontent.com") && hint.contains("repo:OWNER/NAME"),
        "{hint}"
    );
    assert_eq!(calls(&sts.url()).await.len(), 1, "a refusal is final");
}

#[tokio::test]
async fn endless_throttling_gives_up_after_the_attempts() {
    let sts = require!(support::start_fake("fake_sts.py", &[], &[]));
    script(&sts.url(), 100).await;
    let conf = unsigned(&sts.url()).await;
    let err =
        credentials::assume_role_with_web_identity(&conf, ROLE, "s-1", 3600, &token(), quick(4))
            .await
            .expect_err("still throttled");
    assert_eq!(err.exit_code(), 3);
    assert!(err.to_string().contains("Throttling"), "{err}");
    assert_eq!(calls(&sts.url()).await.len(), 4);
}

/// A role session renewed through fake GitHub's OIDC endpoint and the fake STS at `sts`.
fn renewing(gh: &str, sts_config: aws_config::SdkConfig) -> credentials::RenewingWebIdentity {
    credentials::RenewingWebIdentity::new(credentials::WebIdentitySource {
        request_url: format!("{gh}/oidc/token?api-version=2.0"),
        request_token: SecretString::from("fake-oidc-request-token".to_string()),
        role_arn: ROLE.into(),
        session_name: "ecs-poc@acme.shop@run-1-1".into(),
        duration_seconds: 900,
        sts_config,
        backoff: quick(3),
        workflow: ecs_poc::github::Workflow::default(),
    })
}

async fn oidc_requests(gh: &str) -> usize {
    let state: Value = reqwest::get(format!("{gh}/_fake/state"))
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    state["oidc_audiences"].as_array().map_or(0, Vec::len)
}

/// A `terraform` that records the access key it was started with and has no outputs.
fn key_recording_terraform(dir: &std::path::Path) -> std::path::PathBuf {
    let script = dir.join("terraform");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$AWS_ACCESS_KEY_ID\" >> '{}'\necho '{{}}'\n",
            dir.join("keys.log").display()
        ),
    )
    .expect("script");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    script
}

#[tokio::test]
async fn a_session_about_to_expire_is_renewed_with_a_fresh_oidc_token_for_each_use() {
    let gh = require!(support::start_fake("fake_github.py", &[], &[]));
    let sts = require!(support::start_fake("fake_sts.py", &[], &[]));
    // Sessions that end seconds after they begin: always within the renewal margin.
    script_json(&sts.url(), serde_json::json!({ "expires_in": 5 })).await;
    let session = renewing(&gh.url(), unsigned(&sts.url()).await);

    let first = session.credentials().await.expect("first session");
    let second = session.credentials().await.expect("renewed session");
    assert_eq!(first.access_key_id(), "ASIAFAKESTSRENEW0001");
    assert_eq!(second.access_key_id(), "ASIAFAKESTSRENEW0002");
    assert_eq!(
        oidc_requests(&gh.url()).await,
        2,
        "a new OIDC token per renewal"
    );

    // Every terraform invocation starts with the credentials of that moment.
    let work = tempfile::tempdir().expect("tempdir");
    let tf = ecs_poc::terraform::Terraform::new(
        key_recording_terraform(work.path()),
        vec![("AWS_ACCESS_KEY_ID".into(), first.access_key_id().into())],
    )
    .with_renewing(Some(session.clone()));
    let stack = ecs_poc::terraform::Stack {
        dir: work.path().to_path_buf(),
        backend_bucket: "b".into(),
        backend_key: "k".into(),
        backend_region: support::REGION.into(),
        vars: Default::default(),
    };
    tf.outputs(&stack).await.expect("outputs");
    tf.outputs(&stack).await.expect("outputs again");
    let keys = std::fs::read_to_string(work.path().join("keys.log")).expect("keys");
    assert_eq!(
        keys.lines().collect::<Vec<_>>(),
        ["ASIAFAKESTSRENEW0003", "ASIAFAKESTSRENEW0004"]
    );
    let answers: Vec<Value> = calls(&sts.url()).await;
    assert_eq!(answers.len(), 4);
    assert!(
        answers
            .iter()
            .all(|c| c["answer"] == "ok" && c["duration"] == "900")
    );
}

#[tokio::test]
async fn a_session_far_from_its_end_is_used_as_it_is() {
    let gh = require!(support::start_fake("fake_github.py", &[], &[]));
    let sts = require!(support::start_fake("fake_sts.py", &[], &[]));
    script_json(&sts.url(), serde_json::json!({})).await;
    let session = renewing(&gh.url(), unsigned(&sts.url()).await);
    let first = session.credentials().await.expect("first");
    let again = session.credentials().await.expect("again");
    assert_eq!(first.access_key_id(), again.access_key_id());
    assert_eq!(
        calls(&sts.url()).await.len(),
        1,
        "one AssumeRoleWithWebIdentity"
    );
    assert_eq!(oidc_requests(&gh.url()).await, 1, "one OIDC token");
}

#[tokio::test]
async fn aws_clients_sign_with_the_renewed_session() {
    let gh = require!(support::start_fake("fake_github.py", &[], &[]));
    let sts = require!(support::start_fake("fake_sts.py", &[], &[]));
    script_json(&sts.url(), serde_json::json!({ "expires_in": 5 })).await;
    let session = renewing(&gh.url(), unsigned(&sts.url()).await);
    // A client as the pipeline makes them: the run's loader, the renewing provider.
    let conf = credentials::sdk_loader(aws_config::Region::new(support::REGION))
        .endpoint_url(sts.url())
        .credentials_provider(session)
        .load()
        .await;
    let client = aws_sdk_sts::Client::new(&conf);
    client
        .get_caller_identity()
        .send()
        .await
        .expect("first call");
    client
        .get_caller_identity()
        .send()
        .await
        .expect("second call");
    let signed_with: Vec<String> = calls(&sts.url())
        .await
        .iter()
        .filter(|c| c["action"] == "GetCallerIdentity")
        .map(|c| c["key"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        signed_with,
        ["ASIAFAKESTSRENEW0001", "ASIAFAKESTSRENEW0002"],
        "the second call is signed with the renewed session"
    );
}
