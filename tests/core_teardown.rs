//! Destroy and sweep end to end: preview stacks pr-1 and pr-2 exist on the emulated AWS (real terraform,
//! real AWS provider, the repository's own stacks); pull request 1 is closed. `sweep --dry-run`
//! only lists; `sweep` destroys pr-1 alone and says so on its pull request; a second
//! `destroy` of pr-1 is a no-op success; when AWS is unreachable a destroy fails with what to
//! do, and the next run finishes the job.
//!
//! Slow (about 3 minutes, most of it terraform applying the shared stack on moto) and the same
//! story tests/e2e plays after real deploys, so it is not part of `make test`: run it with
//! `make test-teardown` when changing destroy or sweep.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BUCKET: &str = "ecs-poc-teardown-state";
const REPOSITORY: &str = "acme/shop";
const GITHUB_TOKEN: &str = "fake-github-token";

/// The terraform harness's emulated AWS (moto + fidelity proxy), stopped with SIGTERM so it
/// can stop its own moto child.
struct Emulator {
    child: Child,
    endpoint: String,
}

impl Emulator {
    fn start() -> Result<Self, String> {
        let py = support::venv_python()?;
        let mut child = Command::new(py)
            .args(["-u", "-m", "tests.harness.emulated_aws", "serve"])
            .current_dir(support::repo_root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the emulated AWS: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .map_err(|e| e.to_string())?;
        let endpoint = line.trim().strip_prefix("READY ").map(str::to_string);
        match endpoint {
            Some(endpoint) => Ok(Self { child, endpoint }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("emulated AWS did not print READY: {line:?}"))
            }
        }
    }

    fn stop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The environment terraform, the SDK and the binary need (from the harness itself).
    fn env(&self) -> Result<Vec<(String, String)>, String> {
        let out = Command::new(support::venv_python()?)
            .args([
                "-m",
                "tests.harness.emulated_aws",
                "env",
                "--endpoint",
                &self.endpoint,
            ])
            .current_dir(support::repo_root())
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&out.stdout);
        Ok(text
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
            .collect())
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.stop();
    }
}

fn copy_dir(src: &Path, dest: &Path) {
    std::fs::create_dir_all(dest).expect("mkdir");
    for entry in std::fs::read_dir(src).expect("read_dir") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().to_string();
        if name == ".terraform"
            || name.ends_with(".tfstate")
            || name == ".terraform.lock.hcl"
            || name.ends_with(".tfvars")
        {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &dest.join(&name));
        } else {
            std::fs::copy(&path, dest.join(&name)).expect("copy");
        }
    }
}

struct World {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    terraform: PathBuf,
    github: String,
}

impl World {
    /// Runs terraform in `terraform/<root>` of the copied tree.
    fn terraform(&self, root: &str, args: &[&str]) {
        let started = Instant::now();
        let out = Command::new(&self.terraform)
            .arg(format!(
                "-chdir={}",
                self.dir.path().join("terraform").join(root).display()
            ))
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("terraform runs");
        let tail = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "terraform {args:?} in {root}: {}",
            &tail[tail.len().saturating_sub(4000)..]
        );
        eprintln!(
            "terraform {} {root}: {:.1} s",
            args[0],
            started.elapsed().as_secs_f64()
        );
    }

    fn deploy_stack(&self, dir: &str, key: &str, vars: &[(&str, &str)]) {
        let ws = self
            .dir
            .path()
            .join("terraform/stacks")
            .join(dir)
            .join(".terraform");
        let _ = std::fs::remove_dir_all(ws); // a fresh backend key per stack
        let backend: Vec<String> = [
            ("bucket", BUCKET),
            ("key", key),
            ("region", support::REGION),
            ("use_lockfile", "true"),
        ]
        .iter()
        .map(|(k, v)| format!("-backend-config={k}={v}"))
        .collect();
        let mut init = vec!["init", "-input=false", "-no-color", "-reconfigure"];
        init.extend(backend.iter().map(String::as_str));
        let root = format!("stacks/{dir}");
        self.terraform(&root, &init);
        self.apply(&root, vars);
    }

    fn apply(&self, root: &str, vars: &[(&str, &str)]) {
        let vars: Vec<String> = vars.iter().map(|(k, v)| format!("-var={k}={v}")).collect();
        let mut apply = vec!["apply", "-input=false", "-no-color", "-auto-approve"];
        apply.extend(vars.iter().map(String::as_str));
        self.terraform(root, &apply);
    }

    /// What an administrator applies once: the state bucket and the permissions boundaries
    /// the shared stack looks up by name.
    fn bootstrap(&self) {
        self.terraform("bootstrap", &["init", "-input=false", "-no-color"]);
        self.apply(
            "bootstrap",
            &[
                ("repository", REPOSITORY),
                ("state_bucket_name", BUCKET),
                ("force_destroy", "true"),
            ],
        );
    }

    fn ecs_poc(&self, args: &[&str]) -> (i32, Value, String) {
        let mut cmd = assert_cmd::Command::cargo_bin("ecs-poc").expect("binary");
        cmd.env_clear()
            .current_dir(self.dir.path())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("GITHUB_API_URL", &self.github)
            .env("GITHUB_TOKEN", GITHUB_TOKEN)
            .env("ECS_POC_TERRAFORM_BINARY", &self.terraform)
            .env("ECS_POC_STATE_BUCKET", BUCKET)
            .env("ECS_POC_REPOSITORY", REPOSITORY)
            .args(args)
            .args(["--output", "json"]);
        let out = cmd.output().expect("ecs-poc runs");
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let json = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        (out.status.code().unwrap_or(-1), json, stderr)
    }
}

async fn state_keys(s3: &aws_sdk_s3::Client) -> Vec<String> {
    let out = s3
        .list_objects_v2()
        .bucket(BUCKET)
        .prefix("preview/")
        .send()
        .await
        .expect("list");
    let mut keys: Vec<String> = out
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect();
    keys.sort();
    keys
}

/// Services still ACTIVE (moto keeps deleted ones listed, as INACTIVE).
async fn services(ecs: &aws_sdk_ecs::Client, cluster: &str) -> Vec<String> {
    let listed = ecs
        .list_services()
        .cluster(cluster)
        .send()
        .await
        .expect("list services");
    if listed.service_arns().is_empty() {
        return Vec::new();
    }
    let described = ecs
        .describe_services()
        .cluster(cluster)
        .set_services(Some(listed.service_arns().to_vec()))
        .send()
        .await
        .expect("describe services");
    let mut names: Vec<String> = described
        .services()
        .iter()
        .filter(|s| s.status() == Some("ACTIVE"))
        .filter_map(|s| s.service_name().map(str::to_string))
        .collect();
    names.sort();
    names
}

fn swept(result: &Value) -> Vec<(String, String)> {
    result["swept"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|s| {
                    (
                        s["stack"].as_str().unwrap_or("").to_string(),
                        s["action"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "slow; `make test-teardown` runs it"]
async fn sweep_removes_only_closed_pull_requests_and_destroy_is_idempotent() {
    let started = Instant::now();
    let terraform = require!(support::terraform_bin());
    let mut emulator = require!(Emulator::start());
    let gh = require!(support::start_fake("fake_github.py", &[], &[]));
    let env = require!(emulator.env());
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(
        &support::repo_root().join("terraform"),
        &dir.path().join("terraform"),
    );
    std::fs::write(dir.path().join("ecs-poc.yml"), "").expect("config");
    let world = World {
        dir,
        env,
        terraform,
        github: gh.url(),
    };

    let sdk = support::sdk_config(&emulator.endpoint).await;
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    );
    world.bootstrap();

    world.deploy_stack(
        "shared",
        "shared/terraform.tfstate",
        &[("repository", REPOSITORY), ("single_nat_gateway", "true")],
    );
    for n in ["1", "2"] {
        let stack = format!("pr-{n}");
        world.deploy_stack(
            "preview",
            &format!("preview/{stack}.tfstate"),
            &[
                ("stack_name", &stack),
                ("state_bucket", BUCKET),
                ("repository", REPOSITORY),
            ],
        );
    }
    eprintln!(
        "stacks ready after {:.0} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(
        state_keys(&s3).await,
        ["preview/pr-1.tfstate", "preview/pr-2.tfstate"]
    );
    let ecs = aws_sdk_ecs::Client::new(&sdk);
    // Pull-request services run on the Fargate preview cluster.
    let cluster = "ecs-poc-main-previews";
    let before = services(&ecs, cluster).await;
    assert_eq!(before.len(), 2, "two preview services: {before:?}");

    reqwest::Client::new()
        .post(format!("{}/_fake/pulls", gh.url()))
        .json(&serde_json::json!({"number": 1, "state": "closed"}))
        .send()
        .await
        .expect("close pr 1");

    // Dry run: lists, touches nothing.
    let (code, result, stderr) = world.ecs_poc(&["sweep", "--dry-run"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        swept(&result),
        [
            ("pr-1".into(), "would destroy".into()),
            ("pr-2".into(), "kept".into())
        ]
    );
    assert_eq!(state_keys(&s3).await.len(), 2);

    // The sweep destroys pr-1 only.
    let t = Instant::now();
    let (code, result, stderr) = world.ecs_poc(&["sweep"]);
    eprintln!("sweep: {:.1} s", t.elapsed().as_secs_f64());
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        swept(&result),
        [
            ("pr-1".into(), "destroyed".into()),
            ("pr-2".into(), "kept".into())
        ]
    );
    assert_eq!(state_keys(&s3).await, ["preview/pr-2.tfstate"]);
    let after = services(&ecs, cluster).await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert!(
        after[0].contains("pr-2"),
        "pr-2's service is untouched: {after:?}"
    );

    let fake: Value = reqwest::get(format!("{}/_fake/state", gh.url()))
        .await
        .expect("state")
        .json()
        .await
        .expect("json");
    let comments: Vec<&Value> = fake["comments"]
        .as_array()
        .expect("comments")
        .iter()
        .filter(|c| c["issue"] == 1)
        .collect();
    assert_eq!(comments.len(), 1);
    let body = comments[0]["body"].as_str().unwrap_or_default();
    assert!(body.contains("`pr-1` was torn down at"), "{body}");
    assert!(
        fake["comments"]
            .as_array()
            .expect("comments")
            .iter()
            .all(|c| c["issue"] == 1),
        "PR 2 got no comment"
    );

    // Destroying pr-1 again succeeds and says there was nothing left.
    let (code, result, stderr) = world.ecs_poc(&["destroy", "--pull-request", "1"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        result["notes"].to_string().contains("nothing to destroy"),
        "{result}"
    );

    // AWS unreachable mid-life: the destroy fails with what to do, and nothing is half-claimed.
    let (code, _, _) = {
        let mut broken = World {
            dir: tempfile::tempdir().expect("tempdir"),
            env: world.env.clone(),
            terraform: world.terraform.clone(),
            github: world.github.clone(),
        };
        copy_dir(
            &support::repo_root().join("terraform"),
            &broken.dir.path().join("terraform"),
        );
        std::fs::write(broken.dir.path().join("ecs-poc.yml"), "").expect("config");
        for (k, v) in broken.env.iter_mut() {
            if k == "AWS_ENDPOINT_URL" {
                *v = "http://127.0.0.1:9".into(); // nothing listens on the discard port
            }
        }
        let r = broken.ecs_poc(&["destroy", "--pull-request", "2"]);
        assert_ne!(r.0, 0, "a destroy that cannot reach AWS fails");
        assert!(
            r.2.contains("ecs-poc destroy --stack pr-2` again"),
            "says how to finish: {}",
            r.2
        );
        r
    };
    assert_eq!(code, 4);
    assert_eq!(
        state_keys(&s3).await,
        ["preview/pr-2.tfstate"],
        "pr-2 still there after the failed run"
    );

    // The next run finishes the job.
    let (code, _, stderr) = world.ecs_poc(&["destroy", "--pull-request", "2"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(state_keys(&s3).await.is_empty());
    assert!(services(&ecs, cluster).await.is_empty());
    emulator.stop();
    eprintln!("teardown story: {:.0} s", started.elapsed().as_secs_f64());
}
