//! The two stages promote adds, over real sockets:
//! - reading what the source environment runs from ECS (`tests/fakes/fake_ecs.py` in front of
//!   moto plays the rollouts): a FAILED or IN_PROGRESS deployment, or an image not pinned by
//!   digest, is refused with the reason; a settled one yields its digest and commit;
//! - copying an image by digest between repositories of the real registry answering as ECR
//!   (`make registry-up`; run under `flock /tmp/ecs-poc-registry.lock`): the target holds the
//!   very manifest bytes under the same digest, and a second copy uploads nothing.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ecs_poc::ecs::{self, RolloutRequest};
use ecs_poc::image::copy::{self, Login, Repository};
use secrecy::SecretString;

const IMAGE: &str = "123456789012.dkr.ecr.eu-west-2.amazonaws.com/ecs-poc-staging@sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn unique() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{n:x}")
}

struct World {
    _moto: support::Moto,
    fake: support::Service,
    ecs: aws_sdk_ecs::Client,
    template: String,
}

/// Staging's `main` service on revision 1 (an image by tag, as before any deploy), with a
/// client that goes through the fake playing `scenario` on its poll clock.
async fn world(scenario: &str, steady_after: &str) -> Result<World, String> {
    let moto = support::Moto::start()?;
    let fake = support::start_fake_ecs(&moto, scenario, steady_after, "polls")?;
    let direct = aws_sdk_ecs::Client::new(&moto.sdk_config().await);
    let template = support::seed_ecs(
        &direct,
        &support::EcsSeed {
            cluster: "ecs-poc-staging",
            family: "ecs-poc-staging-main",
            service: Some("ecs-poc-staging-main"),
            environment: &[("APP_VERSION", "unknown")],
            tags: &[],
        },
    )
    .await?;
    let ecs = aws_sdk_ecs::Client::new(&support::sdk_config(&fake.url()).await);
    Ok(World {
        _moto: moto,
        fake,
        ecs,
        template,
    })
}

/// A deploy of staging as ecs-poc does it: the image by digest, APP_VERSION the commit.
async fn deploy(w: &World, timeout: Duration) -> ecs_poc::Result<ecs::RolloutOutcome> {
    let req = RolloutRequest {
        cluster: "ecs-poc-staging".into(),
        service: "ecs-poc-staging-main".into(),
        template_task_definition: w.template.clone(),
        container_name: "app".into(),
        image_ref: IMAGE.into(),
        environment: vec![("APP_VERSION".into(), "c0ffee1".into())],
        timeout,
        poll_interval: Duration::from_millis(200),
    };
    ecs::roll_out(&w.ecs, &req, &mut |_: &str| {}).await
}

async fn read_staging(w: &World) -> ecs_poc::Result<ecs::Release> {
    ecs::running_release(&w.ecs, "staging", "ecs-poc-staging", "ecs-poc-staging-main").await
}

#[tokio::test]
async fn a_settled_deployment_yields_its_digest_and_commit() {
    let w = require!(world("complete", "2").await);
    deploy(&w, Duration::from_secs(30))
        .await
        .expect("staging deploys");
    let release = read_staging(&w).await.expect("staging is healthy");
    assert_eq!(release.image_ref, IMAGE);
    assert_eq!(
        release.digest,
        "sha256:2222222222222222222222222222222222222222222222222222222222222222"
    );
    assert_eq!(release.commit.as_deref(), Some("c0ffee1"));
}

#[tokio::test]
async fn a_failed_deployment_is_not_promoted_and_the_refusal_says_why() {
    let w = require!(world("fail", "1").await);
    deploy(&w, Duration::from_secs(30))
        .await
        .expect_err("the staging deploy fails");
    let err = read_staging(&w).await.expect_err("refused");
    assert_eq!(err.exit_code(), 6);
    assert_eq!(
        err.to_string(),
        "rollout: staging's last deployment FAILED: ECS deployment circuit breaker: tasks failed to start."
    );
    assert!(
        err.hint()
            .is_some_and(|h| h.contains("deploy staging first")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_deployment_in_progress_is_not_promoted() {
    let w = require!(world("stuck", "1").await);
    deploy(&w, Duration::from_secs(1))
        .await
        .expect_err("the staging deploy does not settle");
    let err = read_staging(&w).await.expect_err("refused");
    assert_eq!(err.exit_code(), 6);
    let text = err.to_string();
    assert!(
        text.contains("staging's last deployment is IN_PROGRESS, not COMPLETED"),
        "{text}"
    );
}

#[tokio::test]
async fn an_image_not_pinned_by_digest_is_not_promoted() {
    // Before any ecs-poc deploy the service runs what terraform gave it, by tag.
    let w = require!(world("complete", "1").await);
    let err = read_staging(&w).await.expect_err("refused");
    assert_eq!(err.exit_code(), 6);
    assert!(
        err.to_string()
            .contains("staging runs `placeholder:latest`, which is not pinned by digest"),
        "{err}"
    );
}

/// The binary, as a user runs promote: the source is read, refused, and the target is never
/// touched (no target credentials, no terraform).
#[tokio::test]
async fn promote_refuses_a_failed_source_before_touching_the_target() {
    let w = require!(world("fail", "1").await);
    deploy(&w, Duration::from_secs(30))
        .await
        .expect_err("the staging deploy fails");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("ecs-poc.yml"),
        "environments:\n  staging:\n    aws-region: eu-west-2\n    previews: true\n  production:\n    aws-region: eu-west-1\n    state-bucket: production-state\n    promote-from: staging\n",
    )
    .expect("config");
    let out = assert_cmd::Command::cargo_bin("ecs-poc")
        .expect("binary")
        .env_clear()
        .envs(support::aws_env(&w.fake.url()))
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir.path())
        .current_dir(dir.path())
        .args([
            "promote",
            "--from",
            "staging",
            "--to",
            "production",
            "--output",
            "json",
        ])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json on stdout");
    assert_eq!(report["status"], "failure");
    assert_eq!(report["environment"], "production");
    assert_eq!(report["source_environment"], "staging");
    assert_eq!(
        report["error"]["message"],
        "staging's last deployment FAILED: ECS deployment circuit breaker: tasks failed to start."
    );
    let stages: Vec<&str> = report["stages"]
        .as_array()
        .expect("stages")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(stages, ["source credentials", "read source"], "{report:#}");
    assert!(report.get("digest").is_none(), "{report:#}");
    assert!(
        stderr.contains("what to do: promote only what staging runs healthily"),
        "{stderr}"
    );
}

// ------------------------------------------------------------------ the copy

fn run(docker: &Path, config: &Path, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut child = Command::new(docker)
        .args(args)
        .env("DOCKER_CONFIG", config)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("docker runs");
    if let Some(text) = stdin
        && let Some(mut input) = child.stdin.take()
    {
        input.write_all(text.as_bytes()).expect("stdin");
    }
    let out = child.wait_with_output().expect("docker ends");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "docker {args:?}: {text}");
    text
}

/// Builds a one-file image on `scratch` and pushes it to `<host>/<repository>:built` as a
/// deploy's docker does; returns the digest docker printed.
fn push_image(docker: &Path, host: &str, repository: &str) -> String {
    let work = tempfile::tempdir().expect("tempdir");
    let ctx = work.path().join("ctx");
    std::fs::create_dir(&ctx).expect("ctx");
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY hello.txt /hello.txt\n",
    )
    .expect("Dockerfile");
    std::fs::write(ctx.join("hello.txt"), unique()).expect("content");
    let config = work.path().join("docker-config");
    std::fs::create_dir(&config).expect("docker config");
    let pushed_ref = format!("{host}/{repository}:built");
    run(
        docker,
        &config,
        &["login", "--username", "AWS", "--password-stdin", host],
        Some(&format!("{}-auth-token", support::MOTO_ACCOUNT)),
    );
    run(
        docker,
        &config,
        &[
            "build",
            "--platform",
            "linux/amd64",
            "-t",
            &pushed_ref,
            ctx.to_str().expect("utf-8"),
        ],
        None,
    );
    let pushed = run(docker, &config, &["push", &pushed_ref], None);
    ecs_poc::image::digest_from_push(&pushed).expect("push printed a digest")
}

fn http_client() -> reqwest::Client {
    let ca = std::fs::read(
        Path::new("/etc/docker/certs.d")
            .join(support::ecr_host())
            .join("ca.crt"),
    )
    .expect("the registry's CA");
    reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("PEM"))
        .build()
        .expect("client")
}

fn login(host: &str) -> Login {
    Login {
        host: host.to_string(),
        user: "AWS".into(),
        password: SecretString::from(format!("{}-auth-token", support::MOTO_ACCOUNT)),
    }
}

/// The manifest bytes and the digest the registry names them by.
async fn manifest(http: &reqwest::Client, repository: &str, reference: &str) -> (Vec<u8>, String) {
    let resp = http
        .get(format!(
            "https://{}/v2/{repository}/manifests/{reference}",
            support::ecr_host()
        ))
        .basic_auth("AWS", Some(format!("{}-auth-token", support::MOTO_ACCOUNT)))
        .header(
            "Accept",
            "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, \
             application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json",
        )
        .send()
        .await
        .expect("GET manifest");
    assert!(
        resp.status().is_success(),
        "{repository}:{reference}: {}",
        resp.status()
    );
    let digest = resp
        .headers()
        .get("Docker-Content-Digest")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    (resp.bytes().await.expect("body").to_vec(), digest)
}

#[tokio::test]
async fn the_copy_keeps_the_digest_and_the_bytes_and_a_second_copy_uploads_nothing() {
    let docker = require!(support::docker_engine());
    let host = require!(support::ecr_registry());
    let id = unique();
    let (staging, production) = (
        format!("copy-staging-{id}"),
        format!("copy-production-{id}"),
    );
    let digest = push_image(&docker, &host, &staging);

    let http = http_client();
    let (source_bytes, source_digest) = manifest(&http, &staging, "built").await;
    assert_eq!(source_digest, digest);

    let from = Repository {
        login: login(&host),
        name: staging.clone(),
    };
    let to = Repository {
        login: login(&host),
        name: production.clone(),
    };
    let tags = vec!["built".to_string(), "stack-main.built".to_string()];
    let copied = copy::copy_by_digest(&http, &from, &to, &digest, &tags)
        .await
        .expect("copied");
    assert_eq!(copied.digest, digest);
    assert!(
        copied.blobs_mounted > 0 && copied.blobs_uploaded == 0 && copied.blobs_present == 0,
        "one registry mounts every blob into the new repository: {copied:?}"
    );
    for tag in ["built", "stack-main.built", digest.as_str()] {
        let (bytes, stored) = manifest(&http, &production, tag).await;
        assert_eq!(stored, digest, "{production}:{tag}");
        assert_eq!(bytes, source_bytes, "the very manifest bytes under {tag}");
    }

    let again = copy::copy_by_digest(&http, &from, &to, &digest, &tags)
        .await
        .expect("copied again");
    assert_eq!(
        (again.blobs_uploaded, again.blobs_mounted),
        (0, 0),
        "{again:?}"
    );
    assert!(again.blobs_present > 0, "{again:?}");

    // A digest the source does not hold is an error that names the source.
    let missing = format!("sha256:{}", "0".repeat(64));
    let err = copy::copy_by_digest(&http, &from, &to, &missing, &tags)
        .await
        .expect_err("no such manifest");
    assert_eq!(err.exit_code(), 5);
    assert!(err.to_string().contains(&staging), "{err}");
}

/// The registry answering as another account's ECR (`.ci/setup-registry.sh` serves every
/// account's host of the environments story from the one registry).
const OTHER_ACCOUNT_HOST: &str = "222222222222.dkr.ecr.eu-west-1.amazonaws.com";

fn other_registry() -> Result<String, String> {
    let ca = Path::new("/etc/docker/certs.d")
        .join(OTHER_ACCOUNT_HOST)
        .join("ca.crt");
    let resolves = std::net::ToSocketAddrs::to_socket_addrs(&(OTHER_ACCOUNT_HOST, 443))
        .is_ok_and(|mut a| a.next().is_some());
    if ca.exists() && resolves {
        Ok(OTHER_ACCOUNT_HOST.to_string())
    } else {
        Err(format!(
            "the registry does not answer as {OTHER_ACCOUNT_HOST}; run `make registry-up`"
        ))
    }
}

#[tokio::test]
async fn across_registries_every_blob_is_downloaded_checked_and_uploaded() {
    let docker = require!(support::docker_engine());
    let host = require!(support::ecr_registry());
    let other = require!(other_registry());
    let id = unique();
    let (staging, production) = (
        format!("across-staging-{id}"),
        format!("across-production-{id}"),
    );
    let digest = push_image(&docker, &host, &staging);
    let http = http_client();
    let (source_bytes, _) = manifest(&http, &staging, "built").await;

    // Another host is another registry to the copy, even if it is the same one underneath here:
    // nothing is mounted.
    let from = Repository {
        login: login(&host),
        name: staging,
    };
    let to = Repository {
        login: login(&other),
        name: production.clone(),
    };
    let copied = copy::copy_by_digest(&http, &from, &to, &digest, &["built".to_string()])
        .await
        .expect("copied across registries");
    assert_eq!(copied.digest, digest);
    assert!(
        copied.blobs_uploaded > 0 && copied.blobs_mounted == 0 && copied.blobs_present == 0,
        "{copied:?}"
    );
    let (bytes, stored) = manifest(&http, &production, "built").await;
    assert_eq!(stored, digest);
    assert_eq!(bytes, source_bytes, "the very manifest bytes");
}
