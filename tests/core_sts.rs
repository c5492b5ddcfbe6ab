//! STS over real HTTP against tests/fakes/fake_sts.py: throttling, and STS failing to reach the
//! OIDC provider, are retried with backoff until they pass, a trust-policy refusal is not retried and says what to fix, and endless
//! throttling gives up after the configured attempts.

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
