//! Stage 4: the service image. Tag = content hash of build context + Dockerfile; skip the build
//! when ECR already holds the tag; else ECR token -> `docker login --password-stdin` -> build -> push.
//! CONTRACT (owned by the AWS-stages helper): content_tag(...) ; ensure_image(&ecr, &ImageRequest) -> BuiltImage.
//!
//! The registry password goes to docker on stdin only, and the login lands in a private
//! DOCKER_CONFIG directory that is removed afterwards, so nothing is left in `~/.docker`.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use base64::Engine;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::Command;

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
    /// `docker` binary.
    pub docker: PathBuf,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct BuiltImage {
    pub repository_uri: String,
    pub tag: String,
    pub digest: String,
    /// `repository_uri@digest`, what the task definition gets.
    pub image_ref: String,
    /// True when ECR already held the tag and nothing was built.
    pub reused: bool,
}

/// Hex digits of the content hash kept in the tag: 64 bits, collisions are not a concern.
const TAG_HEX: usize = 16;
/// Lines of docker output kept in an error.
const OUTPUT_TAIL_LINES: usize = 30;

/// `c-<16 hex>`: sha256 over the Dockerfile and every file of the build context that docker
/// would send (`.dockerignore` honoured), by sorted relative path. `.git` is never hashed: it
/// changes on every commit and would make every tag new.
pub fn content_tag(context: &Path, dockerfile: &Path) -> Result<String> {
    let ignore = DockerIgnore::load(context)?;
    let mut files = Vec::new();
    walk(context, context, &ignore, &mut files)?;
    files.sort();
    let mut h = Sha256::new();
    let df = std::fs::read(dockerfile).map_err(|e| {
        Error::config(format!(
            "cannot read the Dockerfile {}: {e}",
            dockerfile.display()
        ))
        .with_hint("set image.dockerfile in ecs-poc.yml to the Dockerfile's path")
    })?;
    h.update(b"dockerfile\0");
    h.update((df.len() as u64).to_le_bytes());
    h.update(&df);
    for rel in &files {
        let full = context.join(rel);
        let meta = std::fs::symlink_metadata(&full).map_err(|e| io_err(&full, e))?;
        h.update(rel.as_bytes());
        h.update(b"\0");
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&full).map_err(|e| io_err(&full, e))?;
            h.update(b"L");
            h.update(target.to_string_lossy().as_bytes());
        } else {
            h.update(if is_executable(&meta) { b"X" } else { b"F" });
            let data = std::fs::read(&full).map_err(|e| io_err(&full, e))?;
            h.update((data.len() as u64).to_le_bytes());
            h.update(&data);
        }
    }
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("c-{}", &hex[..TAG_HEX]))
}

fn io_err(path: &Path, e: std::io::Error) -> Error {
    Error::image(format!(
        "reading the build context: {}: {e}",
        path.display()
    ))
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}
#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    false
}

fn walk(root: &Path, dir: &Path, ignore: &DockerIgnore, out: &mut Vec<String>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Error::config(format!(
            "cannot read the build context {}: {e}",
            dir.display()
        ))
        .with_hint("set image.context in ecs-poc.yml to an existing directory")
    })?;
    for entry in entries {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .map_err(|_| Error::image(format!("{} is outside the build context", path.display())))?
            .to_string_lossy()
            .replace('\\', "/");
        if rel == ".git" {
            continue;
        }
        let ft = entry.file_type().map_err(|e| io_err(&path, e))?;
        if ft.is_dir() {
            // A directory excluded outright (with no `!` re-include below it) is not entered.
            if ignore.excluded(&rel) && !ignore.has_negations {
                continue;
            }
            walk(root, &path, ignore, out)?;
        } else if !ignore.excluded(&rel) {
            out.push(rel);
        }
    }
    Ok(())
}

/// `.dockerignore` patterns: comments, `!` re-includes, `*`/`?`/`[...]` within a path segment,
/// `**` across segments; a pattern that matches a directory excludes what is inside it; the
/// last matching pattern wins.
#[derive(Debug, Default)]
pub struct DockerIgnore {
    rules: Vec<(bool, Vec<String>)>,
    has_negations: bool,
}

impl DockerIgnore {
    pub fn load(context: &Path) -> Result<Self> {
        match std::fs::read_to_string(context.join(".dockerignore")) {
            Ok(text) => Ok(Self::parse(&text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(io_err(&context.join(".dockerignore"), e)),
        }
    }

    pub fn parse(text: &str) -> Self {
        let mut rules = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negate, pat) = match line.strip_prefix('!') {
                Some(p) => (true, p.trim()),
                None => (false, line),
            };
            let pat = pat
                .trim_start_matches("./")
                .trim_start_matches('/')
                .trim_end_matches('/');
            if pat.is_empty() {
                continue;
            }
            rules.push((negate, pat.split('/').map(str::to_string).collect()));
        }
        let has_negations = rules.iter().any(|(n, _)| *n);
        Self {
            rules,
            has_negations,
        }
    }

    pub fn excluded(&self, rel: &str) -> bool {
        let parts: Vec<&str> = rel.split('/').collect();
        let mut excluded = false;
        for (negate, pat) in &self.rules {
            // The path itself or any of its parent directories.
            let hit = (1..=parts.len()).any(|n| match_segments(pat, &parts[..n]));
            if hit {
                excluded = !negate;
            }
        }
        excluded
    }
}

fn match_segments(pat: &[String], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=path.len()).any(|skip| match_segments(rest, &path[skip..]))
        }
        Some((first, rest)) => match path.split_first() {
            Some((seg, more)) => {
                glob(first.as_bytes(), seg.as_bytes()) && match_segments(rest, more)
            }
            None => false,
        },
    }
}

/// Shell-style match of one path segment: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`, `\` escapes.
fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && glob(rest, &s[1..]),
        Some((b'[', rest)) => {
            let Some(close) = rest.iter().position(|&c| c == b']') else {
                return s.first() == Some(&b'[') && glob(rest, &s[1..]);
            };
            let Some(&c) = s.first() else { return false };
            let (neg, class) = match rest[..close].split_first() {
                Some((b'!' | b'^', cl)) => (true, cl),
                _ => (false, &rest[..close]),
            };
            let mut hit = false;
            let mut i = 0;
            while i < class.len() {
                if i + 2 < class.len() && class[i + 1] == b'-' {
                    hit |= class[i] <= c && c <= class[i + 2];
                    i += 3;
                } else {
                    hit |= class[i] == c;
                    i += 1;
                }
            }
            hit != neg && glob(&rest[close + 1..], &s[1..])
        }
        Some((b'\\', rest)) if !rest.is_empty() => {
            s.first() == Some(&rest[0]) && glob(&rest[1..], &s[1..])
        }
        Some((&c, rest)) => s.first() == Some(&c) && glob(rest, &s[1..]),
    }
}

pub async fn ensure_image(ecr: &aws_sdk_ecr::Client, req: &ImageRequest) -> Result<BuiltImage> {
    let tag = content_tag(&req.context, &req.dockerfile)?;
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
    let config = PrivateDockerConfig::new()?;
    let docker = Docker {
        bin: req.docker.clone(),
        config: config.path.clone(),
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

async fn repository_uri(ecr: &aws_sdk_ecr::Client, repository: &str) -> Result<String> {
    let out = ecr.describe_repositories().repository_names(repository).send().await.map_err(|e| {
        let not_found = e.as_service_error().is_some_and(|s| s.is_repository_not_found_exception());
        let err = Error::image(format!("ECR repository `{repository}`: {}", crate::error::aws_message(&e)));
        if not_found {
            err.with_hint("apply the shared stack first (it creates the ECR repository), or fix image.repository in ecs-poc.yml")
        } else {
            err.with_hint("check the role's ecr:DescribeRepositories permission and the aws-region input")
        }
    })?;
    out.repositories()
        .first()
        .and_then(|r| r.repository_uri())
        .map(str::to_string)
        .ok_or_else(|| Error::image(format!("ECR returned no URI for repository `{repository}`")))
}

async fn existing_digest(
    ecr: &aws_sdk_ecr::Client,
    repository: &str,
    tag: &str,
) -> Result<Option<String>> {
    let id = aws_sdk_ecr::types::ImageIdentifier::builder()
        .image_tag(tag)
        .build();
    match ecr
        .describe_images()
        .repository_name(repository)
        .image_ids(id)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .image_details()
            .first()
            .and_then(|d| d.image_digest())
            .map(str::to_string)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_image_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(Error::image(format!(
            "ECR DescribeImages {repository}:{tag}: {}",
            crate::error::aws_message(&e)
        ))),
    }
}

/// (user, password, proxy endpoint) from ECR GetAuthorizationToken.
async fn authorization(ecr: &aws_sdk_ecr::Client) -> Result<(String, String, String)> {
    let out = ecr.get_authorization_token().send().await.map_err(|e| {
        Error::image(format!(
            "ECR GetAuthorizationToken: {}",
            crate::error::aws_message(&e)
        ))
        .with_hint("the role needs ecr:GetAuthorizationToken on resource *")
    })?;
    let data = out
        .authorization_data()
        .first()
        .ok_or_else(|| Error::image("ECR GetAuthorizationToken returned no authorization data"))?;
    let token = data.authorization_token().unwrap_or_default();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| Error::image("ECR authorization token is not base64 of user:password"))?;
    let (user, password) = decoded
        .split_once(':')
        .ok_or_else(|| Error::image("ECR authorization token is not user:password"))?;
    crate::redact::Masker::global().add(password);
    let endpoint = data.proxy_endpoint().unwrap_or_default().to_string();
    if endpoint.is_empty() {
        return Err(Error::image(
            "ECR GetAuthorizationToken returned no proxy endpoint",
        ));
    }
    Ok((user.to_string(), password.to_string(), endpoint))
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

/// Delete these images (by tag or by digest) from a repository, at most 100 per call; returns
/// how many image ids ECR deleted. Images that are already gone are not an error (a teardown
/// may run twice).
pub async fn delete_images(
    ecr: &aws_sdk_ecr::Client,
    repository: &str,
    ids: &[aws_sdk_ecr::types::ImageIdentifier],
) -> Result<usize> {
    let mut deleted = 0;
    for chunk in ids.chunks(100) {
        let out = ecr
            .batch_delete_image()
            .repository_name(repository)
            .set_image_ids(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| {
                Error::image(format!(
                    "ECR BatchDeleteImage in {repository}: {}",
                    crate::error::aws_message(&e)
                ))
                .with_hint("the role needs ecr:BatchDeleteImage on the repository")
            })?;
        deleted += out.image_ids().len();
        let real_failures: Vec<String> = out
            .failures()
            .iter()
            .filter(|f| f.failure_code().map(|c| c.as_str()) != Some("ImageNotFound"))
            .map(|f| {
                format!(
                    "{:?}: {}",
                    f.failure_code(),
                    f.failure_reason().unwrap_or_default()
                )
            })
            .collect();
        if !real_failures.is_empty() {
            return Err(Error::image(format!(
                "ECR could not delete images from {repository}: {}",
                real_failures.join("; ")
            ))
            .with_hint("run `ecs-poc destroy` again; it only deletes what is left"));
        }
    }
    Ok(deleted)
}

/// Tags in a repository starting with `prefix` (e.g. a stack tag prefix), all pages.
pub async fn list_image_tags(
    ecr: &aws_sdk_ecr::Client,
    repository: &str,
    prefix: &str,
) -> Result<Vec<String>> {
    let mut tags = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let out = ecr
            .list_images()
            .repository_name(repository)
            .filter(
                aws_sdk_ecr::types::ListImagesFilter::builder()
                    .tag_status(aws_sdk_ecr::types::TagStatus::Tagged)
                    .build(),
            )
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| {
                Error::image(format!(
                    "ECR ListImages {repository}: {}",
                    crate::error::aws_message(&e)
                ))
            })?;
        tags.extend(
            out.image_ids()
                .iter()
                .filter_map(|i| i.image_tag())
                .filter(|t| t.starts_with(prefix))
                .map(str::to_string),
        );
        match out.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => break,
        }
    }
    tags.sort();
    tags.dedup();
    Ok(tags)
}

/// A DOCKER_CONFIG directory of our own (mode 0700), removed on drop with the login in it.
struct PrivateDockerConfig {
    path: PathBuf,
}

impl PrivateDockerConfig {
    fn new() -> Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path =
            std::env::temp_dir().join(format!("ecs-poc-docker-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path).map_err(|e| {
            Error::image(format!(
                "cannot create a docker config directory {}: {e}",
                path.display()
            ))
        })?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| Error::image(format!("cannot restrict {}: {e}", path.display())))?;
        }
        Ok(Self { path })
    }
}

impl Drop for PrivateDockerConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
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
        let lines: Vec<&str> = self
            .output
            .lines()
            .filter(|l| !l.trim().is_empty())
            .collect();
        lines[lines.len().saturating_sub(OUTPUT_TAIL_LINES)..].join("\n")
    }
}

impl Docker {
    /// Run docker with our config dir; `stdin` is written then closed. stdout and stderr are
    /// collected together, in the order docker wrote them per stream.
    async fn run(&self, args: &[&str], stdin: Option<&[u8]>) -> Result<Ran> {
        let sub = args.first().copied().unwrap_or_default();
        let mut cmd = Command::new(&self.bin);
        cmd.args(args)
            .env("DOCKER_CONFIG", &self.config)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            Error::image(format!("cannot run `{}`: {e}", self.bin.display()))
                .with_hint("install docker or point ECS_POC_DOCKER at the docker client")
        })?;
        if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(data)
                .await
                .map_err(|e| Error::image(format!("writing to docker {sub}: {e}")))?;
            drop(pipe);
        }
        let out = child
            .stdout
            .take()
            .ok_or_else(|| Error::image("docker stdout not captured"))?;
        let err = child
            .stderr
            .take()
            .ok_or_else(|| Error::image("docker stderr not captured"))?;
        // Build and push take minutes: their progress goes to the log as it comes.
        let stream = matches!(sub, "build" | "push");
        let (o, e, status) = tokio::join!(lines(out, stream), lines(err, stream), child.wait());
        let status = status.map_err(|e| Error::image(format!("waiting for docker {sub}: {e}")))?;
        Ok(Ran {
            ok: status.success(),
            output: format!("{o}{e}"),
        })
    }
}

async fn lines(pipe: impl AsyncRead + Unpin, stream: bool) -> String {
    let mut reader = BufReader::new(pipe).lines();
    let mut all = String::new();
    while let Ok(Some(line)) = reader.next_line().await {
        if stream && !line.trim().is_empty() {
            tracing::info!(target: "docker", "{line}");
        } else {
            tracing::debug!(target: "docker", "{line}");
        }
        all.push_str(&line);
        all.push('\n');
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, body) in files {
            let p = dir.path().join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, body).unwrap();
        }
        dir
    }

    fn tag(d: &tempfile::TempDir) -> String {
        content_tag(d.path(), &d.path().join("Dockerfile")).unwrap()
    }

    #[test]
    fn tag_is_stable_and_shaped() {
        let a = ctx(&[
            ("Dockerfile", "FROM scratch\n"),
            ("app/main.py", "print(1)\n"),
        ]);
        let b = ctx(&[
            ("app/main.py", "print(1)\n"),
            ("Dockerfile", "FROM scratch\n"),
        ]);
        let t = tag(&a);
        assert_eq!(t, tag(&b), "same content, same tag");
        assert!(
            t.starts_with("c-")
                && t.len() == 2 + TAG_HEX
                && t[2..].chars().all(|c| c.is_ascii_hexdigit()),
            "{t}"
        );
    }

    #[test]
    fn tag_changes_with_content_path_and_dockerfile() {
        let base = tag(&ctx(&[
            ("Dockerfile", "FROM scratch\n"),
            ("app/main.py", "print(1)\n"),
        ]));
        assert_ne!(
            base,
            tag(&ctx(&[
                ("Dockerfile", "FROM scratch\n"),
                ("app/main.py", "print(2)\n")
            ]))
        );
        assert_ne!(
            base,
            tag(&ctx(&[
                ("Dockerfile", "FROM scratch\n"),
                ("app/other.py", "print(1)\n")
            ]))
        );
        assert_ne!(
            base,
            tag(&ctx(&[
                ("Dockerfile", "FROM scratch \n"),
                ("app/main.py", "print(1)\n")
            ]))
        );
    }

    #[test]
    fn dockerignored_files_and_git_do_not_change_the_tag() {
        let base = tag(&ctx(&[
            ("Dockerfile", "FROM scratch\n"),
            ("app/main.py", "1"),
            (".dockerignore", "*.log\nbuild/\n"),
        ]));
        let noisy = tag(&ctx(&[
            ("Dockerfile", "FROM scratch\n"),
            ("app/main.py", "1"),
            (".dockerignore", "*.log\nbuild/\n"),
            ("debug.log", "x"),
            ("build/out.bin", "y"),
            (".git/HEAD", "ref: refs/heads/main"),
        ]));
        assert_eq!(base, noisy);
    }

    #[test]
    fn dockerignore_patterns() {
        let ig =
            DockerIgnore::parse("# c\n**/__pycache__\n*.md\n!README.md\n/target/\ndocs/*.txt\n");
        assert!(ig.excluded("app/__pycache__/x.pyc"));
        assert!(ig.excluded("__pycache__/x.pyc"));
        assert!(ig.excluded("NOTES.md"));
        assert!(!ig.excluded("README.md"));
        assert!(
            !ig.excluded("app/NOTES.md"),
            "`*.md` matches the root only, as in docker"
        );
        assert!(ig.excluded("target/debug/x"));
        assert!(ig.excluded("docs/a.txt"));
        assert!(!ig.excluded("docs/sub/a.txt"));
        assert!(!ig.excluded("app/main.py"));
        assert!(glob(b"[a-c]?.py", b"b1.py") && !glob(b"[!a-c]?.py", b"b1.py"));
    }

    #[test]
    fn missing_dockerfile_is_a_config_error() {
        let d = ctx(&[("app.py", "1")]);
        let e = content_tag(d.path(), &d.path().join("Dockerfile")).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.hint().unwrap_or_default().contains("dockerfile"));
    }

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
