//! Helpers shared by the Rust integration tests: real servers on loopback, started per test
//! and stopped when dropped.
//!
//! Include with `mod support;` from a `tests/*.rs` file.
//!
//! Prerequisites: the harness venv (`make setup-python`, at `$ECS_POC_CACHE/venv`, default
//! `~/.cache/ecs-poc/venv`), a Docker engine for image tests (`.ci/setup-docker.sh`) and the
//! registry answering as ECR (`make registry-up`). When one is missing a test prints
//! `SKIPPED` loudly and returns; with `ECS_POC_REQUIRE_ALL=1` (set by CI) it fails instead,
//! so CI can never pass by skipping.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The account moto answers with; ECR URIs are `<this>.dkr.ecr.<region>.amazonaws.com/<name>`.
pub const MOTO_ACCOUNT: &str = "123456789012";
pub const REGION: &str = "eu-west-2";

/// Unwrap a prerequisite or skip the test loudly (fail under `ECS_POC_REQUIRE_ALL=1`).
///
/// `let moto = require!(support::Moto::start());` where the expression is a `Result<T, String>`.
#[macro_export]
macro_rules! require {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(why) => {
                $crate::support::skip_or_fail(&why);
                return;
            }
        }
    };
}

/// Print why a test is skipped, or panic when CI demands every prerequisite.
pub fn skip_or_fail(why: &str) {
    if std::env::var("ECS_POC_REQUIRE_ALL").is_ok_and(|v| v == "1" || v == "true") {
        panic!("prerequisite missing and ECS_POC_REQUIRE_ALL=1: {why}");
    }
    eprintln!("\n==================== SKIPPED ====================");
    eprintln!("  {why}");
    eprintln!("=================================================\n");
}

/// `$ECS_POC_CACHE`, default `~/.cache/ecs-poc`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ECS_POC_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/ecs-poc")
}

/// The harness venv's Python, if installed.
pub fn venv_python() -> Result<PathBuf, String> {
    let py = cache_dir().join("venv/bin/python");
    if py.exists() {
        Ok(py)
    } else {
        Err(format!(
            "harness venv missing ({}); run `make setup-python`",
            py.display()
        ))
    }
}

/// Root of the repository (where Cargo.toml lives).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A child process serving on loopback; killed (it is our own child) and reaped on drop.
pub struct Service {
    child: Child,
    pub port: u16,
    pub name: String,
}

impl Service {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawn `program args...` and wait (up to 60 s) for its first stdout line `READY <port>`.
/// Later stdout lines are drained to stderr prefixed with `name` so the child never blocks.
pub fn spawn_ready(
    name: &str,
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<Service, String> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot start {name} ({}): {e}", program.display()))?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| format!("{name}: no stdout"))?;
    let (tx, rx) = mpsc::channel::<String>();
    let label = name.to_string();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        if let Some(Ok(first)) = lines.next() {
            let _ = tx.send(first);
        }
        for line in lines.map_while(Result::ok) {
            eprintln!("[{label}] {line}");
        }
    });
    let first = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{name} did not print `READY <port>` within 60 s"));
        }
    };
    let port = first
        .strip_prefix("READY ")
        .and_then(|p| p.trim().parse::<u16>().ok())
        .ok_or_else(|| format!("{name}: expected `READY <port>`, got {first:?}"));
    match port {
        Ok(port) => Ok(Service {
            child,
            port,
            name: name.to_string(),
        }),
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            Err(e)
        }
    }
}

/// Start a Python fake from `tests/fakes/<script>` with `--port 0` plus `args`.
pub fn start_fake(script: &str, args: &[&str], env: &[(&str, &str)]) -> Result<Service, String> {
    let py = venv_python()?;
    let path = repo_root().join("tests/fakes").join(script);
    if !path.exists() {
        return Err(format!("fake {} not found", path.display()));
    }
    let path = path.to_string_lossy().into_owned();
    let mut all: Vec<&str> = vec!["-u", &path, "--port", "0"];
    all.extend_from_slice(args);
    spawn_ready(script, &py, &all, env)
}

// Runs moto's threaded server on an OS-chosen port and reports it, so two tests never race for one.
const MOTO_LAUNCHER: &str = r#"
import signal, sys, threading
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print("READY %d" % server.get_host_and_port()[1], flush=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
threading.Event().wait()
"#;

/// A moto server on a free loopback port, stopped on drop.
pub struct Moto {
    pub service: Service,
}

impl Moto {
    pub fn start() -> Result<Moto, String> {
        Self::start_with_env(&[])
    }

    /// `env` e.g. `[("MOTO_ECS_SERVICE_RUNNING", "2")]`.
    pub fn start_with_env(env: &[(&str, &str)]) -> Result<Moto, String> {
        let py = venv_python()?;
        let service = spawn_ready("moto", &py, &["-u", "-c", MOTO_LAUNCHER], env)?;
        Ok(Moto { service })
    }

    pub fn url(&self) -> String {
        self.service.url()
    }

    /// Environment a child (terraform, the binary) needs to talk to this moto.
    pub fn child_env(&self) -> Vec<(String, String)> {
        aws_env(&self.url())
    }

    /// An SDK config pointed at this moto with dummy credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        sdk_config(&self.url()).await
    }
}

/// The standard AWS environment for an emulator at `endpoint` (dummy credentials only).
pub fn aws_env(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_REGION", REGION),
        ("AWS_DEFAULT_REGION", REGION),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    let creds =
        aws_credential_types::Credentials::new("testing", "testing", None, None, "ecs-poc-tests");
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(creds)
        .load()
        .await
}

/// `docker` client to use: `$ECS_POC_DOCKER` or `docker` on PATH.
pub fn docker_bin() -> PathBuf {
    std::env::var_os("ECS_POC_DOCKER")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("docker"))
}

/// Ok when a Docker engine answers.
pub fn docker_engine() -> Result<PathBuf, String> {
    let docker = docker_bin();
    let ok = Command::new(&docker)
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        Ok(docker)
    } else {
        Err("no Docker engine answers; run `bash .ci/setup-docker.sh`".into())
    }
}

/// Host name moto's ECR hands out; `.ci/setup-registry.sh` makes it resolve to a local registry.
pub fn ecr_host() -> String {
    format!("{MOTO_ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com")
}

/// Ok when the registry answering as ECR is up (`make registry-up`).
pub fn ecr_registry() -> Result<String, String> {
    let host = ecr_host();
    let ca = PathBuf::from("/etc/docker/certs.d")
        .join(&host)
        .join("ca.crt");
    if !ca.exists() {
        return Err(format!(
            "registry-as-ECR not set up ({} missing); run `make registry-up`",
            ca.display()
        ));
    }
    match std::net::TcpStream::connect_timeout(
        &"127.0.0.1:443".parse().expect("literal address"),
        Duration::from_secs(2),
    ) {
        Ok(_) => Ok(host),
        Err(e) => Err(format!(
            "registry-as-ECR not listening on 127.0.0.1:443 ({e}); run `make registry-up`"
        )),
    }
}

/// A terraform CLI: `$ECS_POC_TERRAFORM`, `$ECS_POC_CACHE/bin/terraform`, or one on PATH.
pub fn terraform_bin() -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("ECS_POC_TERRAFORM") {
        return Ok(PathBuf::from(p));
    }
    let cached = cache_dir().join("bin/terraform");
    if cached.exists() {
        return Ok(cached);
    }
    for dir in std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
    {
        let cand = dir.join("terraform");
        if cand.exists() {
            return Ok(cand);
        }
    }
    Err("no terraform found; run `bash .ci/setup-terraform.sh`".into())
}

/// A CLI config that installs hashicorp/aws from the `/opt/tf-plugins` mirror only; written into `dir`.
/// Prefers the harness's `$ECS_POC_CACHE/terraform/cli.tfrc` (`.ci/setup-terraform.sh`).
pub fn terraform_cli_config(dir: &Path) -> Result<PathBuf, String> {
    let harness = cache_dir().join("terraform/cli.tfrc");
    if harness.exists() {
        return Ok(harness);
    }
    let mirror = std::env::var("ECS_POC_TF_PLUGINS").unwrap_or_else(|_| "/opt/tf-plugins".into());
    if !Path::new(&mirror)
        .join("registry.terraform.io/hashicorp/aws")
        .exists()
    {
        return Err(format!("no AWS provider in the filesystem mirror {mirror}"));
    }
    let text = format!(
        "provider_installation {{\n  filesystem_mirror {{\n    path    = \"{mirror}\"\n    include = [\"registry.terraform.io/hashicorp/aws\"]\n  }}\n  direct {{\n    exclude = [\"registry.terraform.io/hashicorp/aws\"]\n  }}\n}}\n"
    );
    let path = dir.join("terraformrc");
    std::fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
    Ok(path)
}

/// Everything a terraform child needs to run against the emulator at `endpoint`: the AWS
/// variables, the provider mirror config, and path-style S3 for the backend (the standard
/// `TF_CLI_ARGS_init`, so the binary under test needs no emulator switch).
pub fn terraform_child_env(
    endpoint: &str,
    scratch: &Path,
) -> Result<Vec<(String, String)>, String> {
    let mut env = aws_env(endpoint);
    let config = terraform_cli_config(scratch)?;
    env.push(("TF_CLI_CONFIG_FILE".into(), config.display().to_string()));
    env.push((
        "TF_CLI_ARGS_init".into(),
        "-backend-config=use_path_style=true".into(),
    ));
    let plugin_cache = cache_dir().join("terraform/plugin-cache");
    if plugin_cache.is_dir() {
        env.push((
            "TF_PLUGIN_CACHE_DIR".into(),
            plugin_cache.display().to_string(),
        ));
    }
    Ok(env)
}

/// Copy a fixture directory (flat) to `dest`, so terraform's `.terraform/` never lands in the repo.
pub fn copy_fixture(name: &str, dest: &Path) -> std::io::Result<PathBuf> {
    let src = repo_root().join("tests/fixtures").join(name);
    let out = dest.join(name);
    std::fs::create_dir_all(&out)?;
    for entry in std::fs::read_dir(&src)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::copy(entry.path(), out.join(entry.file_name()))?;
        }
    }
    Ok(out)
}

/// Read a manifest from the registry answering as ECR: (digest, media type, body). Uses the
/// registry's own CA (as dockerd does) and moto's fixed token.
pub async fn registry_manifest(
    repository: &str,
    tag: &str,
) -> Result<(String, String, String), String> {
    let host = ecr_host();
    let ca = std::fs::read(
        PathBuf::from("/etc/docker/certs.d")
            .join(&host)
            .join("ca.crt"),
    )
    .map_err(|e| e.to_string())?;
    let cert = reqwest::Certificate::from_pem(&ca).map_err(|e| e.to_string())?;
    let client = reqwest::Client::builder()
        .add_root_certificate(cert)
        .build()
        .map_err(|e| e.to_string())?;
    let resp = client
        .get(format!("https://{host}/v2/{repository}/manifests/{tag}"))
        .basic_auth("AWS", Some(format!("{MOTO_ACCOUNT}-auth-token")))
        .header(
            "Accept",
            "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json",
        )
        .send()
        .await
        .map_err(|e| format!("registry GET manifest: {e:?}"))?;
    if !resp.status().is_success() {
        return Err(format!(
            "registry GET {repository}:{tag}: {}",
            resp.status()
        ));
    }
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (digest, media) = (header("Docker-Content-Digest"), header("Content-Type"));
    let body = resp.text().await.map_err(|e| e.to_string())?;
    Ok((digest, media, body))
}

/// What real ECR does on its own when an image is pushed, and the emulator cannot: make moto's
/// ECR know the tag that now lives in the local registry (so DescribeImages finds it).
pub async fn register_pushed_image_in_moto(
    ecr: &aws_sdk_ecr::Client,
    repository: &str,
    tag: &str,
) -> Result<String, String> {
    let (digest, media, body) = registry_manifest(repository, tag).await?;
    ecr.put_image()
        .repository_name(repository)
        .image_tag(tag)
        .image_manifest(body)
        .image_manifest_media_type(media)
        .image_digest(&digest)
        .send()
        .await
        .map_err(|e| format!("moto PutImage: {e:?}"))?;
    Ok(digest)
}

/// A terraform state bucket in eu-west-2 (outside us-east-1 S3 needs the location constraint).
pub async fn create_state_bucket(s3: &aws_sdk_s3::Client, bucket: &str) {
    s3.create_bucket()
        .bucket(bucket)
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::EuWest2)
                .build(),
        )
        .send()
        .await
        .expect("state bucket");
}

/// `tests/fakes/fake_ecs.py` in front of `moto`, playing `scenario` (steady after `steady_after`)
/// on `clock`: `polls` for tests, which then assert on the poll a rollout ended at, `seconds` for
/// benchmarks.
pub fn start_fake_ecs(
    moto: &Moto,
    scenario: &str,
    steady_after: &str,
    clock: &str,
) -> Result<Service, String> {
    start_fake(
        "fake_ecs.py",
        &[
            "--moto",
            &moto.url(),
            "--scenario",
            scenario,
            "--steady-after",
            steady_after,
            "--clock",
            clock,
        ],
        &[],
    )
}

/// What `seed_ecs` creates in moto before a rollout: `cluster`, revision 1 of `family` (one
/// essential container `app`, a placeholder image, `environment` and `tags`), and, when `service`
/// names one, a service of two tasks on that revision.
pub struct EcsSeed<'a> {
    pub cluster: &'a str,
    pub family: &'a str,
    pub service: Option<&'a str>,
    pub environment: &'a [(&'a str, &'a str)],
    pub tags: &'a [(&'a str, &'a str)],
}

/// Create `seed` with `direct` (a client on moto itself); return the task definition's ARN.
pub async fn seed_ecs(direct: &aws_sdk_ecs::Client, seed: &EcsSeed<'_>) -> Result<String, String> {
    use aws_sdk_ecs::types::{ContainerDefinition, KeyValuePair, Tag};

    direct
        .create_cluster()
        .cluster_name(seed.cluster)
        .send()
        .await
        .map_err(|e| format!("create cluster: {e:?}"))?;
    let mut app = ContainerDefinition::builder()
        .name("app")
        .image("placeholder:latest")
        .memory(256)
        .essential(true);
    for (name, value) in seed.environment {
        app = app.environment(KeyValuePair::builder().name(*name).value(*value).build());
    }
    let mut register = direct
        .register_task_definition()
        .family(seed.family)
        .container_definitions(app.build());
    for (key, value) in seed.tags {
        register = register.tags(Tag::builder().key(*key).value(*value).build());
    }
    let registered = register
        .send()
        .await
        .map_err(|e| format!("register: {e:?}"))?;
    let template = registered
        .task_definition()
        .and_then(|t| t.task_definition_arn())
        .unwrap_or_default()
        .to_string();
    if let Some(service) = seed.service {
        direct
            .create_service()
            .cluster(seed.cluster)
            .service_name(service)
            .task_definition(&template)
            .desired_count(2)
            .send()
            .await
            .map_err(|e| format!("create service: {e:?}"))?;
    }
    Ok(template)
}

/// The environment of a GitHub Actions run of `event_name` in `acme/shop`: `event` is written to
/// `dir` as the payload and `config` as ecs-poc.yml.
pub fn actions_run_env(
    dir: &Path,
    event_name: &str,
    event: &serde_json::Value,
    config: &str,
) -> std::collections::BTreeMap<String, String> {
    let event_path = dir.join("event.json");
    std::fs::write(&event_path, event.to_string()).expect("write event");
    let config_path = dir.join("ecs-poc.yml");
    std::fs::write(&config_path, config).expect("write config");
    [
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", event_name),
        (
            "GITHUB_EVENT_PATH",
            event_path.to_str().expect("utf-8 path"),
        ),
        ("GITHUB_REPOSITORY", "acme/shop"),
        ("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567"),
        ("GITHUB_RUN_ID", "987"),
        ("GITHUB_RUN_ATTEMPT", "1"),
        ("ECS_POC_CONFIG", config_path.to_str().expect("utf-8 path")),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}
