//! The binary as a user and a workflow meet it: help, schema, configuration errors, the fork
//! refusal, `main` protection, and a pull-request run that assumes a role through the fake
//! OIDC endpoint and moto's STS, fails at terraform, and reports it in one comment, the
//! summary, the outputs and JSON, with every credential masked.

mod support;

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

const FAKE_GITHUB_TOKEN: &str = "fake-github-token";
const OIDC_REQUEST_TOKEN: &str = "fake-oidc-request-token";

/// The binary with a clean environment (the test itself may run inside GitHub Actions).
fn ecs_poc(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("ecs-poc").expect("binary");
    cmd.env_clear()
        .current_dir(dir)
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("ECS_POC_CONFIG", dir.join("ecs-poc.yml"));
    std::fs::write(dir.join("ecs-poc.yml"), "").expect("config");
    cmd
}

fn pr_event(dir: &Path, number: u64, head_repo: &str) -> String {
    let event = serde_json::json!({
        "action": "opened",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"sha": "feedfacefeedfacefeedfacefeedfacefeedface", "repo": {"full_name": head_repo}},
            "base": {"repo": {"full_name": "acme/shop"}}
        },
        "repository": {"full_name": "acme/shop", "default_branch": "main"}
    });
    let path = dir.join("event.json");
    std::fs::write(&path, event.to_string()).expect("event");
    path.display().to_string()
}

#[test]
fn help_teaches_commands_inputs_precedence_and_exit_codes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ecs_poc(dir.path()).arg("--help").output().expect("run");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "pull_request closed",
        "ECS_POC_STATE_BUCKET",
        "INPUT_<NAME>",
        "flag > environment/input > ecs-poc.yml",
        "--role-to-assume",
        "--dry-run",
        "Exit codes: 0 ok",
        "ecs-poc destroy --state-bucket",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
}

#[test]
fn schema_prints_the_committed_schema() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ecs_poc(dir.path()).arg("schema").output().expect("run");
    assert!(out.status.success());
    let committed = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/ecs-poc.schema.json"),
    )
    .expect("schema");
    assert_eq!(String::from_utf8_lossy(&out.stdout), committed);
}

#[test]
fn a_config_file_typo_exits_2_naming_file_line_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = ecs_poc(dir.path());
    std::fs::write(
        dir.path().join("ecs-poc.yml"),
        "image:\n  dockerfil: Dockerfile\n",
    )
    .expect("config");
    let out = cmd.args(["plan", "--stack", "pr-1"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ecs-poc.yml:2:3") && err.contains("dockerfil"),
        "{err}"
    );
    assert!(err.contains("what to do:"), "{err}");
}

#[test]
fn bad_flags_exit_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ecs_poc(dir.path())
        .args(["deploy", "--wait-timeout", "soon"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn destroying_main_needs_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = ecs_poc(dir.path())
        .args(["destroy", "--stack", "main", "--state-bucket", "b"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to destroy the `main` stack") && err.contains("--force"),
        "{err}"
    );
}

#[test]
fn a_fork_pull_request_is_told_why_there_are_no_credentials_and_exits_3() {
    let dir = tempfile::tempdir().expect("tempdir");
    let event = pr_event(dir.path(), 4, "stranger/shop");
    let out = ecs_poc(dir.path())
        .env("GITHUB_ACTIONS", "true")
        .env("GITHUB_EVENT_NAME", "pull_request")
        .env("GITHUB_EVENT_PATH", event)
        .env("GITHUB_REPOSITORY", "acme/shop")
        .env(
            "INPUT_ROLE-TO-ASSUME",
            "arn:aws:iam::123456789012:role/deploy",
        )
        .env("INPUT_STATE-BUCKET", "tf-state")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("comes from a fork") && err.contains("no OIDC token"),
        "{err}"
    );
    assert!(
        err.contains("::error title=ecs-poc deploy failed::"),
        "annotation: {err}"
    );
    assert!(
        err.contains("head.repo.full_name"),
        "says what to do: {err}"
    );
}

fn masked_values(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("::add-mask::"))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn a_pull_request_run_assumes_the_role_and_reports_a_terraform_failure_in_one_comment() {
    let moto = require!(support::Moto::start());
    let gh = require!(support::start_fake("fake_github.py", &[], &[]));
    let dir = tempfile::tempdir().expect("tempdir");
    let event = pr_event(dir.path(), 12, "acme/shop");
    let output = dir.path().join("github_output");
    let summary = dir.path().join("step_summary");

    let run = |dir: &Path| {
        ecs_poc(dir)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", "pull_request")
            .env("GITHUB_EVENT_PATH", &event)
            .env("GITHUB_REPOSITORY", "acme/shop")
            .env("GITHUB_SHA", "0000000000000000000000000000000000000000")
            .env("GITHUB_RUN_ID", "555")
            .env("GITHUB_RUN_ATTEMPT", "1")
            .env("GITHUB_API_URL", gh.url())
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env(
                "ACTIONS_ID_TOKEN_REQUEST_URL",
                format!("{}/oidc/token?api-version=2.0", gh.url()),
            )
            .env("ACTIONS_ID_TOKEN_REQUEST_TOKEN", OIDC_REQUEST_TOKEN)
            .env("INPUT_GITHUB-TOKEN", FAKE_GITHUB_TOKEN)
            .env("INPUT_COMMAND", "plan")
            .env(
                "INPUT_ROLE-TO-ASSUME",
                "arn:aws:iam::123456789012:role/ecs-poc-deploy",
            )
            .env("INPUT_STATE-BUCKET", "tf-state")
            .env("INPUT_TERRAFORM-BINARY", "/bin/false")
            .env("INPUT_OUTPUT", "json")
            .env("AWS_ENDPOINT_URL", moto.url())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .expect("run")
    };

    let first = run(dir.path());
    let stderr = String::from_utf8_lossy(&first.stderr).to_string();
    assert_eq!(
        first.status.code(),
        Some(4),
        "credentials pass, terraform fails:\n{stderr}"
    );
    assert!(
        stderr.contains("assumed the role through GitHub OIDC"),
        "{stderr}"
    );
    assert!(
        stderr.contains("session=ecs-poc@acme.shop@run-555-1"),
        "{stderr}"
    );

    // Request token, OIDC token, key id, secret key and session token are masked, before
    // the first line that is not a mask.
    let masks = masked_values(&stderr);
    assert!(masks.len() >= 5, "masks: {}", masks.len());
    assert!(masks.iter().any(|m| m == OIDC_REQUEST_TOKEN));
    let first_other = stderr
        .lines()
        .position(|l| !l.starts_with("::add-mask::") && !l.starts_with("::group::credentials"))
        .unwrap_or(0);
    let lines: Vec<&str> = stderr.lines().collect();
    let last_mask = lines
        .iter()
        .rposition(|l| l.starts_with("::add-mask::"))
        .unwrap_or(0);
    assert!(
        last_mask < first_other,
        "a line was printed before the credentials were masked:\n{stderr}"
    );

    // The result on stdout is JSON; logs stayed on stderr.
    let result: Value = serde_json::from_slice(&first.stdout).expect("stdout is the JSON result");
    assert_eq!(result["status"], "failure");
    assert_eq!(result["error"]["exit_code"], 4);
    assert_eq!(result["error"]["stage"], "terraform");
    assert_eq!(result["stack"], "pr-12");

    let second = run(dir.path());
    assert_eq!(second.status.code(), Some(4));
    let stderr2 = String::from_utf8_lossy(&second.stderr).to_string();

    let state: Value = reqwest::get(format!("{}/_fake/state", gh.url()))
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    let comments: Vec<&Value> = state["comments"]
        .as_array()
        .expect("comments")
        .iter()
        .filter(|c| c["issue"] == 12)
        .collect();
    assert_eq!(
        comments.len(),
        1,
        "one comment, edited in place: {comments:?}"
    );
    let body = comments[0]["body"].as_str().unwrap_or_default();
    assert!(body.contains("<!-- ecs-poc:pr-12 -->"));
    assert!(body.contains("failed at terraform"), "{body}");
    assert!(body.contains("**What to do:**"), "{body}");
    assert!(body.contains("exit code 4"), "{body}");
    assert_eq!(
        state["oidc_audiences"],
        serde_json::json!(["sts.amazonaws.com", "sts.amazonaws.com"])
    );

    let outputs = std::fs::read_to_string(&output).expect("GITHUB_OUTPUT written");
    assert!(
        outputs.contains("stack<<") && outputs.contains("pr-12"),
        "{outputs}"
    );
    assert!(outputs.contains("plan-changes<<"), "{outputs}");
    let summary_text = std::fs::read_to_string(&summary).expect("GITHUB_STEP_SUMMARY written");
    assert!(summary_text.contains("failed at terraform"));

    let masks2 = masked_values(&stderr2);
    let everything = [
        stderr.as_str(),
        stderr2.as_str(),
        &String::from_utf8_lossy(&first.stdout),
        &String::from_utf8_lossy(&second.stdout),
        body,
        &outputs,
        &summary_text,
    ];
    for secret in masks.iter().chain(masks2.iter()).filter(|m| m.len() >= 8) {
        for (i, text) in everything.iter().enumerate() {
            let leaks = text
                .lines()
                .filter(|l| !l.starts_with("::add-mask::") && l.contains(secret.as_str()))
                .count();
            assert_eq!(leaks, 0, "a masked value appears unmasked in text #{i}");
        }
    }
    // The GitHub token is masked too; it may appear only in its own `::add-mask::` line.
    assert!(masks.iter().any(|m| m == FAKE_GITHUB_TOKEN));
    assert!(!body.contains(FAKE_GITHUB_TOKEN));
    assert!(
        stderr
            .lines()
            .all(|l| l.starts_with("::add-mask::") || !l.contains(FAKE_GITHUB_TOKEN))
    );
}
