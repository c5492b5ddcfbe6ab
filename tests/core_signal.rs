//! A cancelled run: the binary, stopped by SIGTERM or SIGINT while docker is logged in to ECR,
//! removes its temporary docker config from `RUNNER_TEMP` and exits as a shell reports a
//! signal. moto plays ECR; docker and terraform are stand-ins that wait to be stopped.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A script that records `$DOCKER_CONFIG` (docker) or nothing (terraform), then waits.
fn waiting(dir: &Path, name: &str, record: Option<&Path>) -> PathBuf {
    let script = dir.join(name);
    let record = record
        .map(|r| {
            format!(
                "printf '%s\\n' \"$DOCKER_CONFIG\" > '{}.tmp' && mv '{0}.tmp' '{0}'\n",
                r.display()
            )
        })
        .unwrap_or_default();
    std::fs::write(&script, format!("#!/bin/sh\n{record}exec sleep 20\n")).expect("script");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    script
}

async fn stopped_by(signal: &str, code: i32) {
    let moto = require!(support::Moto::start());
    let ecr = aws_sdk_ecr::Client::new(&moto.sdk_config().await);
    ecr.create_repository()
        .repository_name("ecs-poc-main-previews")
        .send()
        .await
        .expect("create repository");
    let work = tempfile::tempdir().expect("tempdir");
    let runner_temp = work.path().join("runner-temp");
    std::fs::create_dir(&runner_temp).expect("runner temp");
    std::fs::write(work.path().join("Dockerfile"), "FROM scratch\n").expect("Dockerfile");
    std::fs::write(work.path().join("ecs-poc.yml"), "").expect("config");
    let marker = work.path().join("docker-config-path");
    let docker = waiting(work.path(), "docker", Some(&marker));
    let terraform = waiting(work.path(), "terraform", None);

    let mut child = Command::new(env!("CARGO_BIN_EXE_ecs-poc"))
        .args(["deploy", "--stack", "pr-7", "--state-bucket", "tf-state"])
        .env_clear()
        .envs(moto.child_env())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", work.path())
        .env("RUNNER_TEMP", &runner_temp)
        .env("ECS_POC_DOCKER", &docker)
        .env("ECS_POC_TERRAFORM_BINARY", &terraform)
        .env("ECS_POC_CONFIG", work.path().join("ecs-poc.yml"))
        .current_dir(work.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ecs-poc");

    // Wait for docker to be started with the temporary config: the login is in progress.
    let started = Instant::now();
    while !marker.exists() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("ecs-poc ended before docker login: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "docker was never started"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let config = PathBuf::from(
        std::fs::read_to_string(&marker)
            .expect("marker")
            .trim()
            .to_string(),
    );
    assert!(
        config.starts_with(&runner_temp) && config.join("config.json").is_file(),
        "the docker config {} is under RUNNER_TEMP while docker runs",
        config.display()
    );

    let kill = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(!config.exists(), "{} left behind", config.display());
    assert_eq!(
        std::fs::read_dir(&runner_temp)
            .expect("runner temp")
            .count(),
        0,
        "RUNNER_TEMP is as it was"
    );
}

#[tokio::test]
async fn sigterm_removes_the_temporary_docker_config() {
    stopped_by("-TERM", 143).await;
}

#[tokio::test]
async fn sigint_removes_the_temporary_docker_config() {
    stopped_by("-INT", 130).await;
}
