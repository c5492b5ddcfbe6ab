//! The GitHub side over real HTTP, against tests/fakes/fake_github.py: one comment per pull
//! request found again by marker and login and edited in place; pagination; the OIDC token.

mod support;

use ecs_poc::comment::{self, Upserted};
use ecs_poc::credentials;
use ecs_poc::github::{GitHubApi, Identity};
use secrecy::SecretString;
use serde_json::Value;

const TOKEN: &str = "fake-github-token";

fn token() -> SecretString {
    SecretString::from(TOKEN.to_string())
}

async fn state(url: &str) -> Value {
    reqwest::get(format!("{url}/_fake/state"))
        .await
        .expect("state")
        .json()
        .await
        .expect("json")
}

async fn control(url: &str, path: &str, body: Value) {
    let r = reqwest::Client::new()
        .post(format!("{url}{path}"))
        .json(&body)
        .send()
        .await
        .expect("control");
    assert!(r.status().is_success(), "{path}: {}", r.status());
}

fn comments_on(state: &Value, issue: u64) -> Vec<Value> {
    state["comments"]
        .as_array()
        .expect("comments")
        .iter()
        .filter(|c| c["issue"] == issue)
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_comment_is_created_once_then_edited_in_place() {
    let gh = require!(support::start_fake("fake_github.py", &[], &[]));
    let api = GitHubApi::new(&gh.url(), &token(), "acme/shop").expect("client");
    let first = format!("{}\nfirst", comment::marker("pr-5"));
    let second = format!("{}\nsecond", comment::marker("pr-5"));
    let a = comment::upsert(&api, 5, "pr-5", &first)
        .await
        .expect("create");
    let b = comment::upsert(&api, 5, "pr-5", &second)
        .await
        .expect("update");
    let Upserted::Created(id) = a else {
        panic!("first upsert must create, got {a:?}")
    };
    assert_eq!(b, Upserted::Updated(id));
    let s = state(&gh.url()).await;
    let ours = comments_on(&s, 5);
    assert_eq!(ours.len(), 1, "exactly one comment: {ours:?}");
    assert!(
        ours[0]["body"]
            .as_str()
            .unwrap_or_default()
            .ends_with("second")
    );
    // Another stack's comment on another pull request is separate.
    comment::upsert(&api, 6, "pr-6", &format!("{}\nx", comment::marker("pr-6")))
        .await
        .expect("pr 6");
    assert_eq!(comments_on(&state(&gh.url()).await, 5).len(), 1);
}

#[tokio::test]
async fn someone_elses_comment_quoting_our_marker_is_never_edited() {
    let gh = require!(support::start_fake("fake_github.py", &[], &[]));
    let url = gh.url();
    let quoted = format!("look at this: {}", comment::marker("pr-8"));
    control(
        &url,
        "/_fake/comments",
        serde_json::json!({"repo": "acme/shop", "issue": 8, "login": "reviewer", "body": quoted}),
    )
    .await;
    let api = GitHubApi::new(&url, &token(), "acme/shop").expect("client");
    let r = comment::upsert(
        &api,
        8,
        "pr-8",
        &format!("{}\nours", comment::marker("pr-8")),
    )
    .await
    .expect("upsert");
    assert!(matches!(r, Upserted::Created(_)), "{r:?}");
    let all = comments_on(&state(&url).await, 8);
    assert_eq!(all.len(), 2);
    assert!(
        all.iter()
            .any(|c| c["login"] == "reviewer" && c["body"] == quoted.as_str()),
        "untouched"
    );
}

#[tokio::test]
async fn a_github_token_that_cannot_read_user_acts_as_the_actions_bot() {
    let gh = require!(support::start_fake(
        "fake_github.py",
        &["--user-forbidden"],
        &[]
    ));
    let api = GitHubApi::new(&gh.url(), &token(), "acme/shop").expect("client");
    assert_eq!(api.identity().await.expect("identity"), Identity::App);
    let body = format!("{}\nx", comment::marker("pr-2"));
    assert!(matches!(
        comment::upsert(&api, 2, "pr-2", &body).await.expect("1"),
        Upserted::Created(_)
    ));
    assert!(matches!(
        comment::upsert(&api, 2, "pr-2", &body).await.expect("2"),
        Upserted::Updated(_)
    ));
}

#[tokio::test]
async fn a_github_app_token_finds_its_own_comment_and_no_one_elses() {
    let gh = require!(support::start_fake(
        "fake_github.py",
        &["--app-slug", "shop-deployer"],
        &[]
    ));
    let url = gh.url();
    let mark = comment::marker("pr-4");
    // A person quoting the marker, and the comment an earlier run left with GITHUB_TOKEN.
    for login in ["reviewer", "github-actions[bot]"] {
        control(
            &url,
            "/_fake/comments",
            serde_json::json!({"repo": "acme/shop", "issue": 4, "login": login, "body": format!("{mark}\nby {login}")}),
        )
        .await;
    }
    let api = GitHubApi::new(&url, &token(), "acme/shop").expect("client");
    let first = comment::upsert(&api, 4, "pr-4", &format!("{mark}\nv1"))
        .await
        .expect("first");
    let Upserted::Created(id) = first else {
        panic!("no comment is the app's yet, so it creates one: {first:?}")
    };
    let second = comment::upsert(&api, 4, "pr-4", &format!("{mark}\nv2"))
        .await
        .expect("second");
    assert_eq!(second, Upserted::Updated(id));
    let all = comments_on(&state(&url).await, 4);
    assert_eq!(all.len(), 3, "{all:?}");
    let body_of = |login: &str| {
        all.iter()
            .find(|c| c["login"] == login)
            .map(|c| c["body"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(body_of("shop-deployer[bot]"), Some(format!("{mark}\nv2")));
    assert_eq!(body_of("reviewer"), Some(format!("{mark}\nby reviewer")));
    assert_eq!(
        body_of("github-actions[bot]"),
        Some(format!("{mark}\nby github-actions[bot]"))
    );
}

#[tokio::test]
async fn our_comment_is_found_beyond_the_first_page() {
    let gh = require!(support::start_fake("fake_github.py", &[], &[]));
    let url = gh.url();
    let api = GitHubApi::new(&url, &token(), "acme/shop").expect("client");
    // 120 comments by others first, so ours lands on the second page of 100.
    for i in 0..120 {
        control(&url, "/_fake/comments", serde_json::json!({"repo": "acme/shop", "issue": 9, "login": "chatty", "body": format!("comment {i}")})).await;
    }
    let r = comment::upsert(&api, 9, "pr-9", &format!("{}\nv1", comment::marker("pr-9")))
        .await
        .expect("create");
    assert!(matches!(r, Upserted::Created(_)), "{r:?}");
    let r = comment::upsert(&api, 9, "pr-9", &format!("{}\nv2", comment::marker("pr-9")))
        .await
        .expect("update");
    assert!(matches!(r, Upserted::Updated(_)), "{r:?}");
    assert_eq!(comments_on(&state(&url).await, 9).len(), 121);
}

#[tokio::test]
async fn api_failures_are_github_errors_with_a_hint() {
    let gh = require!(support::start_fake("fake_github.py", &[], &[]));
    let bad = GitHubApi::new(
        &gh.url(),
        &SecretString::from("wrong-token".to_string()),
        "acme/shop",
    )
    .expect("client");
    let err = bad.list_comments(1).await.expect_err("401");
    assert_eq!(err.exit_code(), 7);
    assert!(err.to_string().contains("401"), "{err}");
    assert!(err.hint().unwrap_or_default().contains("github-token"));

    // A rejected body (GitHub answers 422) is a GitHub error that says what was wrong.
    let api = GitHubApi::new(&gh.url(), &token(), "acme/shop").expect("client");
    let err = api
        .create_comment(1, &"x".repeat(70_000))
        .await
        .expect_err("422");
    assert_eq!(err.exit_code(), 7);
    assert!(
        err.hint().unwrap_or_default().contains("too large"),
        "{err}: {:?}",
        err.hint()
    );
}

#[tokio::test]
async fn reads_are_retried_through_a_server_error_and_a_comment_creation_is_not() {
    let gh = require!(support::start_fake("fake_github.py", &[], &[]));
    let url = gh.url();
    let api = GitHubApi::new(&url, &token(), "acme/shop").expect("client");
    control(
        &url,
        "/_fake/outage",
        serde_json::json!({"status": 502, "count": 2}),
    )
    .await;
    assert_eq!(
        api.pull_request_state(5).await.expect("after two 502s"),
        "open"
    );
    let statuses: Vec<u64> = state(&url).await["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .filter_map(|c| c["status"].as_u64())
        .collect();
    assert_eq!(statuses, [502, 502, 200]);

    // A lost answer to a creation may mean it was created: never posted twice.
    control(
        &url,
        "/_fake/outage",
        serde_json::json!({"status": 502, "count": 1}),
    )
    .await;
    let err = api.create_comment(5, "hello").await.expect_err("502");
    assert_eq!(err.exit_code(), 7);
    let posts = state(&url).await["calls"]
        .as_array()
        .expect("calls")
        .iter()
        .filter(|c| c["method"] == "POST")
        .count();
    assert_eq!(posts, 1);
}

#[tokio::test]
async fn pull_request_state_is_read_from_the_api() {
    let gh = require!(support::start_fake("fake_github.py", &[], &[]));
    control(
        &gh.url(),
        "/_fake/pulls",
        serde_json::json!({"number": 3, "state": "closed"}),
    )
    .await;
    let api = GitHubApi::new(&gh.url(), &token(), "acme/shop").expect("client");
    assert_eq!(api.pull_request_state(3).await.expect("3"), "closed");
    assert_eq!(api.pull_request_state(4).await.expect("4"), "open");
}

#[tokio::test]
async fn the_oidc_token_is_requested_for_sts_with_the_request_token() {
    let gh = require!(support::start_fake("fake_github.py", &[], &[]));
    let url = format!("{}/oidc/token?api-version=2.0", gh.url());
    let good = SecretString::from("fake-oidc-request-token".to_string());
    let token = credentials::fetch_oidc_token(&url, &good, credentials::AUDIENCE)
        .await
        .expect("token");
    use secrecy::ExposeSecret;
    assert_eq!(token.expose_secret().split('.').count(), 3, "jwt-like");
    let s = state(&gh.url()).await;
    assert_eq!(
        s["oidc_audiences"],
        serde_json::json!(["sts.amazonaws.com"])
    );

    let bad = SecretString::from("nope".to_string());
    let err = credentials::fetch_oidc_token(&url, &bad, credentials::AUDIENCE)
        .await
        .expect_err("401");
    assert_eq!(err.exit_code(), 3);
    assert!(err.hint().unwrap_or_default().contains("id-token: write"));
}
