//! The image stage over real programs: moto's ECR for the API, the real Docker engine, and the local
//! registry answering under moto's ECR host name (`make registry-up`) for login and push.

mod support;

use std::path::Path;

use ecs_poc::image::{self, ImageRequest};

fn unique() -> String {
    let n = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{n:x}")
}

/// A two-line image on `scratch`: no base image to pull, builds in a second.
fn context(dir: &Path, body: &str, dockerfile: &str) {
    std::fs::write(dir.join("Dockerfile"), dockerfile).expect("Dockerfile");
    std::fs::write(dir.join("hello.txt"), body).expect("hello.txt");
}

const DOCKERFILE: &str = "FROM scratch\nARG APP_VERSION=unknown\nLABEL app.version=$APP_VERSION\nCOPY hello.txt /hello.txt\n";

/// A `docker` that records its argv and DOCKER_CONFIG (and the config docker builds with, as
/// `config-at-build.json`), then runs the real client.
fn recording_docker(dir: &Path, real: &Path) -> std::path::PathBuf {
    let script = dir.join("docker");
    let log = dir.join("docker.log");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf 'argv: %s\\nconfig: %s\\n' \"$*\" \"$DOCKER_CONFIG\" >> '{}'\n[ \"$1\" = build ] && cp \"$DOCKER_CONFIG/config.json\" '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            dir.join("config-at-build.json").display(),
            real.display()
        ),
    )
    .expect("wrapper");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    script
}

fn real_docker(docker: &Path) -> std::path::PathBuf {
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v '{}'", docker.display()))
        .output();
    out.ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
        .map(Into::into)
        .unwrap_or_else(|| docker.to_path_buf())
}

#[tokio::test]
async fn builds_pushes_by_digest_then_reuses_without_docker() {
    let docker = require!(support::docker_engine());
    require!(support::ecr_registry());
    let moto = require!(support::Moto::start());
    let ecr = aws_sdk_ecr::Client::new(&moto.sdk_config().await);
    let repo = format!("stage-image-{}", unique());
    ecr.create_repository()
        .repository_name(&repo)
        .send()
        .await
        .expect("create repository");

    let work = tempfile::tempdir().expect("tempdir");
    let ctx = work.path().join("ctx");
    std::fs::create_dir(&ctx).expect("ctx");
    context(&ctx, &unique(), DOCKERFILE);
    let wrapper = recording_docker(work.path(), &real_docker(&docker));
    // The user's docker config: an earlier login that must keep working beside ECR's.
    let user_config = work.path().join("user-docker");
    std::fs::create_dir(&user_config).expect("user docker config");
    let earlier_login = r#"{"auths":{"registry.example.com":{"auth":"dXNlcjpwYXNz"}}}"#;
    std::fs::write(user_config.join("config.json"), earlier_login).expect("config.json");
    let runner_temp = work.path().join("runner-temp");
    std::fs::create_dir(&runner_temp).expect("runner temp");

    let req = ImageRequest {
        context: ctx.clone(),
        dockerfile: ctx.join("Dockerfile"),
        repository: repo.clone(),
        app_version: "0123abcd".into(),
        build_args: vec![],
        platform: "linux/amd64".into(),
        docker: wrapper,
        temp_dir: runner_temp.clone(),
        user_docker_config: Some(user_config.clone()),
    };
    let built = image::ensure_image(&ecr, &req)
        .await
        .expect("build and push");
    assert!(!built.reused);
    assert_eq!(
        built.tag,
        image::content_tag(&ctx, &ctx.join("Dockerfile"), req.inputs()).expect("tag")
    );
    assert_eq!(
        built.repository_uri,
        format!("{}/{repo}", support::ecr_host())
    );
    assert!(
        built.digest.starts_with("sha256:") && built.digest.len() == 71,
        "{}",
        built.digest
    );
    assert_eq!(
        built.image_ref,
        format!("{}@{}", built.repository_uri, built.digest)
    );

    // The registry holds exactly that manifest under the tag.
    let (digest, _, _) = support::registry_manifest(&repo, &built.tag)
        .await
        .expect("manifest in registry");
    assert_eq!(digest, built.digest);
    // APP_VERSION reached the build.
    let label = std::process::Command::new(&docker)
        .args([
            "inspect",
            "--format",
            "{{index .Config.Labels \"app.version\"}}",
            &format!("{}:{}", built.repository_uri, built.tag),
        ])
        .output()
        .expect("inspect");
    assert_eq!(String::from_utf8_lossy(&label.stdout).trim(), "0123abcd");

    // Built for the cluster's platform.
    let arch = std::process::Command::new(&docker)
        .args([
            "image",
            "inspect",
            "--format",
            "{{.Os}}/{{.Architecture}}",
            &format!("{}:{}", built.repository_uri, built.tag),
        ])
        .output()
        .expect("inspect");
    assert_eq!(String::from_utf8_lossy(&arch.stdout).trim(), "linux/amd64");

    // The password never was an argument; the login lived in a private config dir under
    // RUNNER_TEMP beside the user's earlier login, and is gone now.
    let log = std::fs::read_to_string(work.path().join("docker.log")).expect("docker log");
    assert!(log.contains("argv: build --platform linux/amd64 "), "{log}");
    let at_build: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(work.path().join("config-at-build.json"))
            .expect("config at build"),
    )
    .expect("json");
    assert_eq!(
        at_build["auths"]["registry.example.com"]["auth"], "dXNlcjpwYXNz",
        "the earlier login is there: {at_build}"
    );
    assert!(
        at_build["auths"]
            .as_object()
            .is_some_and(|a| a.keys().any(|k| k.contains(&support::ecr_host()))),
        "and ECR's: {at_build}"
    );
    assert!(
        log.contains("argv: login --username AWS --password-stdin"),
        "{log}"
    );
    assert!(
        !log.contains("auth-token"),
        "password on a docker command line:\n{log}"
    );
    let config_dir = log
        .lines()
        .find_map(|l| l.strip_prefix("config: "))
        .expect("DOCKER_CONFIG set");
    assert!(
        Path::new(config_dir).starts_with(&runner_temp) && !Path::new(config_dir).exists(),
        "private docker config {config_dir} not under RUNNER_TEMP or left behind"
    );
    assert_eq!(
        std::fs::read_dir(&runner_temp)
            .expect("runner temp")
            .count(),
        0,
        "RUNNER_TEMP is as it was"
    );
    assert_eq!(
        std::fs::read_to_string(user_config.join("config.json")).expect("config.json"),
        earlier_login,
        "the user's docker config was touched"
    );

    // Once ECR knows the tag, a rerun reuses it: no docker at all (the binary does not exist).
    support::register_pushed_image_in_moto(&ecr, &repo, &built.tag)
        .await
        .expect("register in moto");
    let again = ImageRequest {
        docker: "/nonexistent/docker".into(),
        ..req
    };
    let reused = image::ensure_image(&ecr, &again).await.expect("reuse");
    assert!(reused.reused);
    assert_eq!(reused.digest, built.digest);
    assert_eq!(reused.image_ref, built.image_ref);
}

/// A `docker` that logs in, builds and pushes nothing, recording its argv; `push` prints the
/// digest line a real push ends with.
fn pretend_docker(dir: &Path) -> std::path::PathBuf {
    let script = dir.join("docker");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> '{}'\ncat > /dev/null\n[ \"$1\" = push ] && echo 'c: digest: sha256:{} size: 1'\nexit 0\n",
            dir.join("docker.log").display(),
            "a".repeat(64)
        ),
    )
    .expect("pretend docker");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    script
}

/// The engine here (20.10, legacy builder, no buildx) cannot build for another architecture,
/// so this checks what docker is asked for: `--platform linux/arm64`, under a tag of its own.
#[tokio::test]
async fn an_arm64_cluster_gets_an_arm64_build_under_its_own_tag() {
    let moto = require!(support::Moto::start());
    let ecr = aws_sdk_ecr::Client::new(&moto.sdk_config().await);
    let repo = format!("stage-image-arm-{}", unique());
    ecr.create_repository()
        .repository_name(&repo)
        .send()
        .await
        .expect("create repository");
    let work = tempfile::tempdir().expect("tempdir");
    let ctx = work.path().join("ctx");
    std::fs::create_dir(&ctx).expect("ctx");
    context(&ctx, &unique(), DOCKERFILE);
    let req = ImageRequest {
        context: ctx.clone(),
        dockerfile: ctx.join("Dockerfile"),
        repository: repo,
        app_version: "v".into(),
        build_args: vec![("BASE_IMAGE".into(), "python:3.12-slim".into())],
        platform: "linux/arm64".into(),
        docker: pretend_docker(work.path()),
        temp_dir: work.path().to_path_buf(),
        user_docker_config: None,
    };
    let built = image::ensure_image(&ecr, &req).await.expect("build");
    let log = std::fs::read_to_string(work.path().join("docker.log")).expect("docker log");
    let build = log
        .lines()
        .find(|l| l.starts_with("build "))
        .expect("a build");
    assert!(
        build.starts_with(&format!(
            "build --platform linux/arm64 -t {}:{} ",
            built.repository_uri, built.tag
        )),
        "{build}"
    );
    assert!(
        build.contains("--build-arg BASE_IMAGE=python:3.12-slim"),
        "{build}"
    );
    for other in [
        ImageRequest {
            platform: "linux/amd64".into(),
            ..req.clone()
        },
        ImageRequest {
            build_args: vec![("BASE_IMAGE".into(), "python:3.13-slim".into())],
            ..req.clone()
        },
    ] {
        assert_ne!(
            built.tag,
            image::content_tag(&ctx, &req.dockerfile, other.inputs()).expect("tag"),
            "the same files for another platform or base image are another image"
        );
    }
}

#[tokio::test]
async fn build_failure_is_an_image_error_with_dockers_output() {
    let docker = require!(support::docker_engine());
    require!(support::ecr_registry());
    let moto = require!(support::Moto::start());
    let ecr = aws_sdk_ecr::Client::new(&moto.sdk_config().await);
    let repo = format!("stage-image-bad-{}", unique());
    ecr.create_repository()
        .repository_name(&repo)
        .send()
        .await
        .expect("create repository");
    let ctx = tempfile::tempdir().expect("tempdir");
    context(ctx.path(), "x", "FROM scratch\nCOPY no-such-file.txt /x\n");
    let req = ImageRequest {
        context: ctx.path().to_path_buf(),
        dockerfile: ctx.path().join("Dockerfile"),
        repository: repo,
        app_version: "v".into(),
        build_args: vec![],
        platform: "linux/amd64".into(),
        docker,
        temp_dir: std::env::temp_dir(),
        user_docker_config: None,
    };
    let err = image::ensure_image(&ecr, &req)
        .await
        .expect_err("build must fail");
    assert_eq!(err.exit_code(), 5);
    let text = err.to_string();
    assert!(
        text.contains("docker build of") && text.contains("no-such-file.txt"),
        "{text}"
    );
}

#[tokio::test]
async fn missing_repository_says_to_apply_the_shared_stack() {
    let moto = require!(support::Moto::start());
    let ecr = aws_sdk_ecr::Client::new(&moto.sdk_config().await);
    let ctx = tempfile::tempdir().expect("tempdir");
    context(ctx.path(), "x", DOCKERFILE);
    let req = ImageRequest {
        context: ctx.path().to_path_buf(),
        dockerfile: ctx.path().join("Dockerfile"),
        repository: "does-not-exist".into(),
        app_version: "v".into(),
        build_args: vec![],
        platform: "linux/amd64".into(),
        docker: "/nonexistent/docker".into(),
        temp_dir: std::env::temp_dir(),
        user_docker_config: None,
    };
    let err = image::ensure_image(&ecr, &req)
        .await
        .expect_err("no repository");
    assert_eq!(err.exit_code(), 5);
    assert!(err.to_string().contains("does-not-exist"), "{err}");
    assert!(
        err.hint().unwrap_or_default().contains("shared stack"),
        "{:?}",
        err.hint()
    );
}

#[tokio::test]
async fn list_and_delete_tags_is_idempotent() {
    let moto = require!(support::Moto::start());
    let ecr = aws_sdk_ecr::Client::new(&moto.sdk_config().await);
    ecr.create_repository()
        .repository_name("app")
        .send()
        .await
        .expect("create repository");
    for (i, tag) in [
        "stack-pr-1.c-aaaa",
        "stack-pr-2.c-aaaa",
        "c-aaaa",
        "stack-pr-1.c-bbbb",
    ]
    .iter()
    .enumerate()
    {
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{{"mediaType":"application/vnd.docker.container.image.v1+json","size":{i},"digest":"sha256:{i:064x}"}},"layers":[]}}"#
        );
        ecr.put_image()
            .repository_name("app")
            .image_tag(*tag)
            .image_manifest(manifest)
            .send()
            .await
            .expect("put image");
    }
    let mine = image::list_image_tags(&ecr, "app", "stack-pr-1.")
        .await
        .expect("list");
    assert_eq!(
        mine,
        vec![
            "stack-pr-1.c-aaaa".to_string(),
            "stack-pr-1.c-bbbb".to_string()
        ]
    );
    let ids: Vec<_> = mine
        .iter()
        .map(|t| {
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_tag(t)
                .build()
        })
        .collect();
    let n = image::delete_images(&ecr, "app", &ids)
        .await
        .expect("delete");
    assert_eq!(n, 2);
    assert!(
        image::list_image_tags(&ecr, "app", "stack-pr-1.")
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(
        image::list_image_tags(&ecr, "app", "stack-pr-2.")
            .await
            .expect("list")
            .len(),
        1,
        "another PR's tag survived"
    );
    assert_eq!(
        image::delete_images(&ecr, "app", &ids)
            .await
            .expect("second delete is a no-op"),
        0
    );
}
