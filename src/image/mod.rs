//! The image stage: the service image in ECR. Its tag is a content hash of the build context
//! and the Dockerfile ([`context`]); when ECR already holds the tag nothing is built, else ECR
//! token -> `docker login --password-stdin` -> build -> push. Every ECR call lives in [`ecr`].
//!
//! The image is built for the cluster's platform (`--platform`), whatever the runner's. The
//! registry password goes to docker on stdin only, and the login lands in a private
//! DOCKER_CONFIG directory ([`docker_config`]) that keeps the user's own logins and helpers
//! working and is removed afterwards, so nothing is left in `~/.docker`.

pub mod context;
pub mod copy;
pub mod docker_config;
pub mod ecr;

use std::path::PathBuf;

use tokio::process::Command;

pub use crate::domain::BuiltImage;
pub use context::{BuildInputs, DockerIgnore, content_tag};
pub use docker_config::TemporaryDockerConfig;
pub use ecr::repository_uri;
use ecr::{authorization, existing_digest};
pub use ecr::{delete_images, delete_stack_images, list_image_tags, stack_tag, tag_for_stack};

use crate::process::{self, ProcessError, Stream};
use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct ImageRequest {
    pub context: PathBuf,
    pub dockerfile: PathBuf,
    /// ECR repository *name*; its URI is looked up, so this can start before terraform finishes.
    pub repository: String,
    /// Baked into the image as APP_VERSION (the commit SHA).
    pub app_version: String,
    /// Extra `--build-arg`s (e.g. BASE_IMAGE in the offline harness).
    pub build_args: Vec<(String, String)>,
    /// `docker build --platform`: the cluster instances', e.g. linux/amd64.
    pub platform: String,
    /// `docker` binary.
    pub docker: PathBuf,
    /// Where the temporary docker config directory is made: the runner's `RUNNER_TEMP`, else
    /// the system's temporary directory.
    pub temp_dir: PathBuf,
    /// The user's docker config directory: `DOCKER_CONFIG`, else `~/.docker`.
    pub user_docker_config: Option<PathBuf>,
}

impl ImageRequest {
    /// What the content tag covers besides the files.
    pub fn inputs(&self) -> BuildInputs<'_> {
        BuildInputs {
            platform: &self.platform,
            build_args: &self.build_args,
        }
    }
}

/// Lines of docker output kept in an error.
const OUTPUT_TAIL_LINES: usize = 30;

pub async fn ensure_image(ecr: &aws_sdk_ecr::Client, req: &ImageRequest) -> Result<BuiltImage> {
    // Hashing reads the whole build context: on a blocking thread, not the async workers that
    // run the terraform branch beside it.
    let (context, dockerfile) = (req.context.clone(), req.dockerfile.clone());
    let (platform, build_args) = (req.platform.clone(), req.build_args.clone());
    let tag = tokio::task::spawn_blocking(move || {
        let inputs = BuildInputs {
            platform: &platform,
            build_args: &build_args,
        };
        content_tag(&context, &dockerfile, inputs)
    })
    .await
    .map_err(|e| Error::image(format!("hashing the build context failed: {e}")).with_source(e))??;
    let repository_uri = repository_uri(ecr, &req.repository).await?;
    if let Some(digest) = existing_digest(ecr, &req.repository, &tag).await? {
        tracing::info!(%tag, %digest, "ECR already holds this content; skipping the build");
        return Ok(BuiltImage {
            image_ref: format!("{repository_uri}@{digest}"),
            repository_uri,
            tag,
            digest,
            reused: true,
        });
    }

    let (user, password, endpoint) = authorization(ecr).await?;
    let host = endpoint
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let config =
        TemporaryDockerConfig::create(&req.temp_dir, req.user_docker_config.as_deref(), &host)?;
    let docker = Docker {
        bin: req.docker.clone(),
        config: config.path().to_path_buf(),
    };

    let login = docker
        .run(
            &["login", "--username", &user, "--password-stdin", &host],
            Some(password.as_bytes()),
        )
        .await?;
    if !login.ok {
        return Err(Error::image(format!("docker login to {host} failed:\n{}", login.tail()))
            .with_hint("check that the role may ecr:GetAuthorizationToken and that the runner can reach the registry"));
    }

    let target = format!("{repository_uri}:{tag}");
    let dockerfile = req.dockerfile.display().to_string();
    let context = req.context.display().to_string();
    let version_arg = format!("APP_VERSION={}", req.app_version);
    let revision_label = format!("org.opencontainers.image.revision={}", req.app_version);
    let mut args: Vec<&str> = vec![
        "build",
        "--platform",
        &req.platform,
        "-t",
        &target,
        "-f",
        &dockerfile,
        "--build-arg",
        &version_arg,
    ];
    let extra: Vec<String> = req
        .build_args
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    for a in &extra {
        args.push("--build-arg");
        args.push(a);
    }
    args.extend(["--label", &revision_label, &context]);
    tracing::info!(%target, "docker build");
    let build = docker.run(&args, None).await?;
    if !build.ok {
        return Err(Error::image(format!("docker build of {target} failed:\n{}", build.tail()))
            .with_hint("run the same `docker build` locally to see the whole log; fix the Dockerfile or the build context"));
    }

    tracing::info!(%target, "docker push");
    let push = docker.run(&["push", &target], None).await?;
    if !push.ok {
        return Err(Error::image(format!("docker push of {target} failed:\n{}", push.tail()))
            .with_hint("check that the role may push to the repository (ecr:InitiateLayerUpload, ecr:PutImage, ...)"));
    }
    let digest = match digest_from_push(&push.output) {
        Some(d) => d,
        None => {
            let inspect = docker
                .run(
                    &["inspect", "--format", "{{index .RepoDigests 0}}", &target],
                    None,
                )
                .await?;
            inspect
                .output
                .trim()
                .rsplit_once('@')
                .map(|(_, d)| d.to_string())
                .filter(|d| d.starts_with("sha256:"))
                .ok_or_else(|| {
                    Error::image(format!("pushed {target} but found no digest for it"))
                })?
        }
    };
    drop(config);
    Ok(BuiltImage {
        image_ref: format!("{repository_uri}@{digest}"),
        repository_uri,
        tag,
        digest,
        reused: false,
    })
}

/// `digest: sha256:<64 hex> size: N` as `docker push` prints it.
pub fn digest_from_push(output: &str) -> Option<String> {
    output.lines().rev().find_map(|line| {
        let i = line.find("digest: sha256:")?;
        let d: String = line[i + "digest: ".len()..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        (d.len() == "sha256:".len() + 64).then_some(d)
    })
}

struct Docker {
    bin: PathBuf,
    config: PathBuf,
}

struct Ran {
    ok: bool,
    output: String,
}

impl Ran {
    fn tail(&self) -> String {
        process::tail(&self.output, OUTPUT_TAIL_LINES)
    }
}

impl Docker {
    /// Run docker with our config dir; `stdin` is written then closed. stdout and stderr are
    /// collected together, in the order docker wrote them per stream.
    async fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<Ran> {
        let sub = args.first().copied().unwrap_or_default();
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).env("DOCKER_CONFIG", &self.config);
        // Build and push take minutes: their progress goes to the log as it comes.
        let streaming = matches!(sub, "build" | "push");
        let stream = Stream {
            stdout: streaming,
            stderr: streaming,
        };
        let done = process::run(&mut cmd, stdin, stream)
            .await
            .map_err(|e| match e {
                ProcessError::Spawn(_) => {
                    Error::image(format!("cannot run `{}`: {e}", self.bin.display()))
                        .with_hint("install docker or point ECS_POC_DOCKER at the docker client")
                        .with_source(e)
                }
                ProcessError::Io(_) => {
                    Error::image(format!("running docker {sub}: {e}")).with_source(e)
                }
            })?;
        Ok(Ran {
            ok: done.status.success(),
            output: format!("{}{}", done.stdout, done.stderr),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_read_from_push_output() {
        let out = "The push refers to repository [x/y]\n5f70bf18a086: Pushed\nc-1: digest: sha256:2b6a0c46b3ad6ffb3f3e5b8ce2b40c1d1c0a1e8d0b3bd26de5c2f8d4f0ce4a9e size: 527\n";
        assert_eq!(
            digest_from_push(out).as_deref(),
            Some("sha256:2b6a0c46b3ad6ffb3f3e5b8ce2b40c1d1c0a1e8d0b3bd26de5c2f8d4f0ce4a9e")
        );
        assert_eq!(digest_from_push("digest: sha256:short size: 1"), None);
    }
}
