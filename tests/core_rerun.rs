//! A pull request's rerun does not plan the shared stack again when nothing its plan depends on
//! changed, and says so in its comment; a changed shared-stack file or a changed shared state
//! makes it plan again. The binary runs `plan` against moto with real terraform, on two small
//! stand-in stacks, and comments on the fake GitHub.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use ecs_poc::pipeline::SHARED_STATE_KEY;
use ecs_poc::terraform::{PlanMode, Stack, Terraform};
use serde_json::Value;

const BUCKET: &str = "rerun-state";
const TOKEN: &str = "fake-github-token";

struct World {
    env: Vec<(String, String)>,
    config: std::path::PathBuf,
    github: String,
}

impl World {
    /// `ecs-poc plan --stack pr-3`; the JSON result.
    fn plan(&self) -> Value {
        let out = assert_cmd::Command::cargo_bin("ecs-poc")
            .expect("the binary")
            .args([
                "plan",
                "--stack",
                "pr-3",
                "--state-bucket",
                BUCKET,
                "--repository",
                "acme/shop",
                "--output",
                "json",
            ])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::var("HOME").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("ECS_POC_CONFIG", &self.config)
            .env("GITHUB_TOKEN", TOKEN)
            .env("GITHUB_API_URL", &self.github)
            .timeout(std::time::Duration::from_secs(300))
            .output()
            .expect("run ecs-poc");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "ecs-poc plan failed:\n{stderr}");
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}:\n{stderr}"))
    }

    async fn comment(&self) -> String {
        let state: Value = reqwest::get(format!("{}/_fake/state", self.github))
            .await
            .expect("state")
            .json()
            .await
            .expect("json");
        let comments: Vec<&Value> = state["comments"]
            .as_array()
            .expect("comments")
            .iter()
            .filter(|c| c["issue"] == 3)
            .collect();
        assert_eq!(comments.len(), 1, "{comments:?}");
        comments[0]["body"].as_str().unwrap_or_default().to_string()
    }
}

fn shared_plan(result: &Value) -> &Value {
    result["plans"]
        .as_array()
        .expect("plans")
        .iter()
        .find(|p| p["stack"] == "shared")
        .expect("a shared plan")
}

async fn apply_shared(tf: &Terraform, dir: &Path, setting: &str) {
    let stack = Stack {
        dir: dir.to_path_buf(),
        backend_bucket: BUCKET.into(),
        backend_key: SHARED_STATE_KEY.into(),
        backend_region: support::REGION.into(),
        vars: BTreeMap::from([
            ("region".to_string(), support::REGION.to_string()),
            ("setting".to_string(), setting.to_string()),
        ]),
    };
    tf.init(&stack).await.expect("init shared");
    let plan = tf.plan(&stack, PlanMode::Apply).await.expect("plan shared");
    tf.apply(&stack, &plan).await.expect("apply shared");
}

#[tokio::test]
async fn an_unchanged_shared_stack_is_not_planned_again_on_a_pull_request_rerun() {
    let tf_bin = require!(support::terraform_bin());
    let moto = require!(support::Moto::start());
    let gh = require!(support::start_fake("fake_github.py", &[], &[]));
    let scratch = tempfile::tempdir().expect("tempdir");
    let tf_env = require!(support::terraform_child_env(&moto.url(), scratch.path()));
    let shared = support::copy_fixture("tf-rerun-shared", scratch.path()).expect("copy");
    let preview = support::copy_fixture("tf-rerun-preview", scratch.path()).expect("copy");
    let config = scratch.path().join("ecs-poc.yml");
    std::fs::write(
        &config,
        format!(
            "stacks:\n  shared: {}\n  preview: {}\n",
            shared.display(),
            preview.display()
        ),
    )
    .expect("config");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&moto.sdk_config().await)
            .force_path_style(true)
            .build(),
    );
    support::create_state_bucket(&s3, BUCKET).await;
    let tf = Terraform::new(tf_bin.clone(), tf_env.clone());
    apply_shared(&tf, &shared, "one").await;

    let mut env = tf_env;
    env.push((
        "ECS_POC_TERRAFORM_BINARY".into(),
        tf_bin.display().to_string(),
    ));
    let world = World {
        env,
        config,
        github: gh.url(),
    };

    // First run: the shared stack is planned (its state and files are new to this PR).
    let first = world.plan();
    assert_eq!(first["shared_plan_reused"], false, "{first}");
    let planned = shared_plan(&first)["summary"].clone();
    assert!(world.comment().await.contains("<!-- ecs-poc:shared-plan "));

    // Rerun, nothing changed: not planned again, the same numbers, and the comment says so.
    let second = world.plan();
    assert_eq!(second["shared_plan_reused"], true, "{second}");
    assert_eq!(shared_plan(&second)["summary"], planned);
    let body = world.comment().await;
    assert!(body.contains("not planned again"), "{body}");
    assert!(body.contains("plan only, not re-planned"), "{body}");

    // A changed shared-stack file: planned again.
    let main_tf = shared.join("main.tf");
    let text = std::fs::read_to_string(&main_tf).expect("main.tf");
    std::fs::write(&main_tf, format!("{text}\n# a change in a pull request\n")).expect("edit");
    let third = world.plan();
    assert_eq!(third["shared_plan_reused"], false, "{third}");
    assert_eq!(world.plan()["shared_plan_reused"], true);

    // The shared state moved on (the default branch applied): planned again.
    apply_shared(&tf, &shared, "two").await;
    let fifth = world.plan();
    assert_eq!(fifth["shared_plan_reused"], false, "{fifth}");
    assert_eq!(shared_plan(&fifth)["summary"]["change"], 1, "{fifth}");
}
