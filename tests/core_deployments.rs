//! GitHub Deployments around real deploys: the binary deploys pull request stacks and `main`
//! (real terraform on two stand-in stacks, the image already in the emulated ECR, the rollout
//! scripted by tests/fakes/fake_ecs.py in front of moto) and records each as a deployment on the
//! fake GitHub. What a user sees on GitHub is asserted: the environment, the commit, the statuses
//! in order with the endpoint or the reason, `inactive` after the teardown, and a token without
//! `deployments: write` costing a warning, not the deploy.

mod support;

use std::path::PathBuf;
use std::process::Output;

use ecs_poc::github::GitHubApi;
use ecs_poc::image::{BuildInputs, content_tag};
use secrecy::SecretString;
use serde_json::Value;

const BUCKET: &str = "deployments-state";
const TOKEN: &str = "fake-github-token";
const REPOSITORY: &str = "acme/shop";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const RUN_ID: &str = "4242";
const ENDPOINT: &str = "http://127.0.0.1:9";

struct World {
    _moto: support::Moto,
    ecs_fake: support::Service,
    gh: support::Service,
    _scratch: tempfile::TempDir,
    env: Vec<(String, String)>,
    config: PathBuf,
    direct_ecs: aws_sdk_ecs::Client,
    template: String,
}

/// Emulated AWS with the state bucket, both image repositories holding the build context's
/// image, and a cluster; fake ECS playing `scenario`; fake GitHub.
async fn world(scenario: &str) -> Result<World, String> {
    let tf_bin = support::terraform_bin()?;
    let moto = support::Moto::start()?;
    let ecs_fake = support::start_fake_ecs(&moto, scenario, "1", "polls")?;
    let gh = support::start_fake("fake_github.py", &[], &[])?;
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut env = support::terraform_child_env(&moto.url(), scratch.path())?;
    env.push((
        "ECS_POC_TERRAFORM_BINARY".into(),
        tf_bin.display().to_string(),
    ));
    // The SDK's service-specific endpoint: ECS through the scripted fake, the rest to moto.
    env.push(("AWS_ENDPOINT_URL_ECS".into(), ecs_fake.url()));
    let shared =
        support::copy_fixture("tf-deploy-shared", scratch.path()).map_err(|e| e.to_string())?;
    let preview =
        support::copy_fixture("tf-deploy-preview", scratch.path()).map_err(|e| e.to_string())?;
    let context = scratch.path().join("app");
    std::fs::create_dir_all(&context).map_err(|e| e.to_string())?;
    std::fs::write(context.join("Dockerfile"), "FROM scratch\nCOPY . /\n")
        .map_err(|e| e.to_string())?;

    let sdk = moto.sdk_config().await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    support::create_state_bucket(&s3, BUCKET).await;
    // The image is already in ECR under its content tag, so the deploy builds nothing.
    let tag = content_tag(
        &context,
        &context.join("Dockerfile"),
        BuildInputs {
            platform: "linux/amd64",
            build_args: &[],
        },
    )
    .map_err(|e| e.to_string())?;
    let ecr = aws_sdk_ecr::Client::new(&sdk);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 2,
                   "digest": format!("sha256:{}", "a".repeat(64))},
        "layers": []
    })
    .to_string();
    for repository in ["app", "app-previews"] {
        ecr.create_repository()
            .repository_name(repository)
            .send()
            .await
            .map_err(|e| format!("create repository: {e:?}"))?;
        ecr.put_image()
            .repository_name(repository)
            .image_manifest(&manifest)
            .image_tag(&tag)
            .send()
            .await
            .map_err(|e| format!("put image: {e:?}"))?;
    }
    let direct_ecs = aws_sdk_ecs::Client::new(&sdk);
    let template = support::seed_ecs(
        &direct_ecs,
        &support::EcsSeed {
            cluster: "poc",
            family: "ecs-poc-app",
            service: None,
            environment: &[],
            tags: &[],
        },
    )
    .await?;

    let config = scratch.path().join("ecs-poc.yml");
    std::fs::write(
        &config,
        format!(
            "state-bucket: {BUCKET}\nsmoke-check: false\nwait-timeout: 120\n\
             stacks:\n  shared: {}\n  preview: {}\n  preview-vars:\n    task_definition_arn: {template}\n    endpoint_url: {ENDPOINT}\n\
             image:\n  repository: app\n  preview-repository: app-previews\n  context: {}\n",
            shared.display(),
            preview.display(),
            context.display(),
        ),
    )
    .map_err(|e| e.to_string())?;
    Ok(World {
        _moto: moto,
        ecs_fake,
        gh,
        _scratch: scratch,
        env,
        config,
        direct_ecs,
        template,
    })
}

impl World {
    /// The ECS service a stack's rollout updates.
    async fn service(&self, stack: &str) {
        self.direct_ecs
            .create_service()
            .cluster("poc")
            .service_name(stack)
            .task_definition(&self.template)
            .desired_count(2)
            .send()
            .await
            .expect("create service");
    }

    /// `ecs-poc <command> --stack <stack> --output json` as a workflow run would call it.
    fn run(&self, command: &str, stack: &str, extra: &[&str]) -> Output {
        assert_cmd::Command::cargo_bin("ecs-poc")
            .expect("the binary")
            .args([command, "--stack", stack, "--output", "json"])
            .args(extra)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::var("HOME").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("ECS_POC_CONFIG", &self.config)
            .env("GITHUB_TOKEN", TOKEN)
            .env("GITHUB_API_URL", self.gh.url())
            .env("GITHUB_REPOSITORY", REPOSITORY)
            .env("GITHUB_SHA", SHA)
            .env("GITHUB_RUN_ID", RUN_ID)
            .timeout(std::time::Duration::from_secs(300))
            .output()
            .expect("run ecs-poc")
    }

    /// The same run as a child process, for a test that stops it.
    fn spawn(&self, command: &str, stack: &str) -> std::process::Child {
        std::process::Command::new(env!("CARGO_BIN_EXE_ecs-poc"))
            .args([command, "--stack", stack])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", std::env::var("HOME").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("ECS_POC_CONFIG", &self.config)
            .env("GITHUB_TOKEN", TOKEN)
            .env("GITHUB_API_URL", self.gh.url())
            .env("GITHUB_REPOSITORY", REPOSITORY)
            .env("GITHUB_SHA", SHA)
            .env("GITHUB_RUN_ID", RUN_ID)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("run ecs-poc")
    }

    /// How many rollouts the fake ECS has started.
    async fn rollouts(&self) -> usize {
        let state: Value = reqwest::get(format!("{}/_fake/state", self.ecs_fake.url()))
            .await
            .expect("state")
            .json()
            .await
            .expect("json");
        state["rollouts"].as_object().map_or(0, |r| r.len())
    }

    fn deploy_ok(&self, stack: &str) -> Output {
        let out = self.run("deploy", stack, &[]);
        assert!(
            out.status.success(),
            "deploy {stack} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    async fn scenario(&self, scenario: &str) {
        let r = reqwest::Client::new()
            .post(format!("{}/_fake/scenario", self.ecs_fake.url()))
            .json(&serde_json::json!({"scenario": scenario, "steady_after": 1}))
            .send()
            .await
            .expect("scenario");
        assert!(r.status().is_success());
    }

    /// The fake GitHub's deployments of `environment`, oldest first, each with its statuses.
    async fn deployments(&self, environment: &str) -> Vec<Value> {
        let state: Value = reqwest::get(format!("{}/_fake/state", self.gh.url()))
            .await
            .expect("state")
            .json()
            .await
            .expect("json");
        state["deployments"]
            .as_array()
            .expect("deployments")
            .iter()
            .filter(|d| d["environment"] == environment)
            .cloned()
            .collect()
    }
}

fn states(deployment: &Value) -> Vec<String> {
    deployment["statuses"]
        .as_array()
        .expect("statuses")
        .iter()
        .map(|s| s["state"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn run_url() -> String {
    format!("https://github.com/{REPOSITORY}/actions/runs/{RUN_ID}")
}

#[tokio::test]
async fn a_preview_deploy_is_in_progress_then_successful_and_inactive_after_its_teardown() {
    let w = require!(world("complete").await);
    w.service("pr-7").await;
    w.deploy_ok("pr-7");

    let ds = w.deployments("pr-7").await;
    assert_eq!(ds.len(), 1, "{ds:?}");
    let d = &ds[0];
    assert_eq!(d["ref"], SHA);
    assert_eq!(d["transient_environment"], true, "{d}");
    assert_eq!(d["production_environment"], false, "{d}");
    assert_eq!(d["auto_merge"], false, "{d}");
    assert_eq!(d["required_contexts"], serde_json::json!([]), "{d}");
    assert_eq!(states(d), ["in_progress", "success"]);
    let success = &d["statuses"][1];
    assert_eq!(success["environment_url"], format!("{ENDPOINT}/pr-7"));
    assert_eq!(success["log_url"], run_url());

    // A rerun is another deployment of the same environment.
    w.deploy_ok("pr-7");
    assert_eq!(w.deployments("pr-7").await.len(), 2);

    let out = w.run("destroy", "pr-7", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ds = w.deployments("pr-7").await;
    for d in &ds {
        assert_eq!(
            states(d).last().map(String::as_str),
            Some("inactive"),
            "{d}"
        );
    }
    // Destroying what is already gone marks nothing twice.
    let out = w.run("destroy", "pr-7", &[]);
    assert!(out.status.success());
    let again = w.deployments("pr-7").await;
    let count = |ds: &[Value]| ds.iter().map(|d| states(d).len()).sum::<usize>();
    assert_eq!(count(&again), count(&ds), "{again:?}");

    // The default branch's stack is a deployment of the environment, not of a preview.
    w.service("main").await;
    w.deploy_ok("main");
    let ds = w.deployments("main").await;
    assert_eq!(ds.len(), 1, "{ds:?}");
    assert_eq!(ds[0]["transient_environment"], false);
    assert_eq!(states(&ds[0]), ["in_progress", "success"]);
    assert_eq!(
        ds[0]["statuses"][1]["environment_url"],
        format!("{ENDPOINT}/main")
    );
    assert!(
        w.deployments("pr-7").await.len() == 2,
        "main left pr-7 alone"
    );
}

#[tokio::test]
async fn a_failed_rollout_fails_the_deployment_and_a_refused_deployment_only_warns() {
    let w = require!(world("fail").await);
    w.service("pr-8").await;
    let out = w.run("deploy", "pr-8", &[]);
    assert_eq!(
        out.status.code(),
        Some(6),
        "a failed rollout exits 6:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ds = w.deployments("pr-8").await;
    assert_eq!(ds.len(), 1, "{ds:?}");
    assert_eq!(states(&ds[0]), ["in_progress", "failure"]);
    let failure = &ds[0]["statuses"][1];
    let description = failure["description"].as_str().unwrap_or_default();
    assert!(description.starts_with("rollout failed:"), "{failure}");
    assert!(description.chars().count() <= 140, "{description}");
    assert_eq!(failure["environment_url"], Value::Null);

    // A token without `deployments: write`: the deploy still succeeds, and says what to grant.
    w.scenario("complete").await;
    let r = reqwest::Client::new()
        .post(format!("{}/_fake/deployments", w.gh.url()))
        .json(&serde_json::json!({"forbidden": true}))
        .send()
        .await
        .expect("forbid");
    assert!(r.status().is_success());
    w.service("pr-9").await;
    let out = w.deploy_ok("pr-9");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("warning:"), "{stderr}");
    assert!(stderr.contains("deployments: write"), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(report["status"], "success", "{report}");
    assert!(w.deployments("pr-9").await.is_empty());
    // So does a teardown.
    let out = w.run("destroy", "pr-9", &[]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("deployments: write"));
}

#[tokio::test]
async fn teardown_marks_only_the_environments_live_deployments_inactive() {
    let gh = require!(support::start_fake("fake_github.py", &[], &[]));
    let api = GitHubApi::new(
        &gh.url(),
        &SecretString::from(TOKEN.to_string()),
        REPOSITORY,
    )
    .expect("client");
    let new = |environment: &str| ecs_poc::github::NewDeployment {
        environment: environment.into(),
        git_ref: SHA.into(),
        transient: true,
        production: false,
        description: "test".into(),
    };
    let update = ecs_poc::github::StatusUpdate::default();
    use ecs_poc::github::DeploymentState::{Inactive, Success};
    let mut ids = Vec::new();
    for _ in 0..3 {
        let id = api.create_deployment(&new("pr-1")).await.expect("create");
        api.create_deployment_status(id, Success, &update)
            .await
            .expect("status");
        ids.push(id);
    }
    api.create_deployment_status(ids[0], Inactive, &update)
        .await
        .expect("inactive");
    let other = api.create_deployment(&new("pr-2")).await.expect("create");
    api.create_deployment_status(other, Success, &update)
        .await
        .expect("status");

    let marked = api
        .deactivate_environment("pr-1", &update)
        .await
        .expect("deactivate");
    assert_eq!(marked, 2, "the one already inactive is left alone");
    let state: Value = reqwest::get(format!("{}/_fake/state", gh.url()))
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    for d in state["deployments"].as_array().expect("deployments") {
        // Another environment untouched; the one already inactive not marked twice.
        let expected: &[&str] = if d["environment"] == "pr-2" {
            &["success"]
        } else {
            &["success", "inactive"]
        };
        assert_eq!(states(d), expected, "{d}");
    }
}

#[tokio::test]
async fn a_deploy_stopped_by_a_signal_leaves_no_deployment_in_progress() {
    let w = require!(world("stuck").await);
    w.service("pr-5").await;
    let mut child = w.spawn("deploy", "pr-5");
    // Stop it while it waits for the rollout, the longest stage.
    let started = std::time::Instant::now();
    while w.rollouts().await == 0 {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("ecs-poc ended before the rollout: {status}");
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(120),
            "the rollout never started"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(states(&w.deployments("pr-5").await[0]), ["in_progress"]);
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let out = child.wait_with_output().expect("wait");
    assert_eq!(
        out.status.code(),
        Some(143),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ds = w.deployments("pr-5").await;
    assert_eq!(states(&ds[0]), ["in_progress", "error"], "{ds:?}");
    assert_eq!(ds[0]["statuses"][1]["log_url"], run_url());
}
