//! Copying an image by digest from one registry repository to another (ECR to ECR, across
//! accounts and regions) over the registry HTTP API, keeping the digest: the manifest is put
//! back with exactly the bytes it was read with, and every blob it names is copied (or mounted,
//! on the same registry) byte for byte, never rebuilt.
//!
//! The registry API used: `GET`/`PUT /v2/<repo>/manifests/<ref>`, `HEAD`/`GET
//! /v2/<repo>/blobs/<digest>`, `POST /v2/<repo>/blobs/uploads/` (with `mount`/`from` when both
//! sides are one registry), then `PATCH` with the blob and `PUT ?digest=` to finish. Each side
//! logs in with its own ECR `GetAuthorizationToken`, as HTTP basic auth.
//!
//! Blobs pass through memory one at a time; every one is checked against its digest.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// The manifest media types a copy accepts: single-platform images and indexes, OCI and Docker.
const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
];

/// A registry login: host and the basic-auth pair ECR's `GetAuthorizationToken` hands out.
#[derive(Clone)]
pub struct Login {
    /// `123456789012.dkr.ecr.eu-west-2.amazonaws.com`
    pub host: String,
    pub user: String,
    pub password: SecretString,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("host", &self.host)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// One side of a copy: a repository on a registry, and how to log in to it.
#[derive(Debug, Clone)]
pub struct Repository {
    pub login: Login,
    /// `ecs-poc-staging`
    pub name: String,
}

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Copied {
    /// `sha256:...`, the same on both sides.
    pub digest: String,
    /// Blobs uploaded to the target.
    pub blobs_uploaded: usize,
    /// Blobs the target registry mounted from the source repository (same registry).
    pub blobs_mounted: usize,
    /// Blobs the target already had.
    pub blobs_present: usize,
    /// Manifests put (an index and its platforms count one each).
    pub manifests: usize,
}

/// `host/repository@sha256:...` -> (host, repository, digest).
pub fn parse_image_ref(image: &str) -> Result<(String, String, String)> {
    let bad = || {
        Error::image(format!(
            "`{image}` is not an image pinned by digest (<registry>/<repository>@sha256:<hex>)"
        ))
    };
    let (name, digest) = image.rsplit_once('@').ok_or_else(bad)?;
    if !is_sha256(digest) {
        return Err(bad());
    }
    let (host, repository) = name.split_once('/').ok_or_else(bad)?;
    if host.is_empty() || repository.is_empty() {
        return Err(bad());
    }
    Ok((host.to_string(), repository.to_string(), digest.to_string()))
}

fn is_sha256(digest: &str) -> bool {
    digest
        .strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()))
}

fn sha256_of(bytes: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(bytes);
    let hash = hasher.finalize();
    let mut hex = String::with_capacity(64);
    for b in hash {
        hex.push_str(&format!("{b:02x}"));
    }
    format!("sha256:{hex}")
}

/// The registry login for the account and region `ecr` is configured for: ECR
/// `GetAuthorizationToken` (its password is masked in every log from here on).
pub async fn ecr_login(ecr: &aws_sdk_ecr::Client) -> Result<Login> {
    let (user, password, endpoint) = super::ecr::authorization(ecr).await?;
    let host = endpoint
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    Ok(Login {
        host,
        user,
        password: SecretString::from(password),
    })
}

/// The HTTP client for registries: the platform's trusted roots, bounded waits.
pub fn http_client() -> Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(15))
        .timeout(Duration::from_secs(600))
        .user_agent(concat!("ecs-poc/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| {
            Error::image(format!("cannot build the registry HTTP client: {e}")).with_source(e)
        })
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor {
    #[serde(default)]
    media_type: Option<String>,
    digest: String,
    #[serde(default)]
    size: Option<u64>,
}

/// The parts of a manifest or index a copy follows.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestDoc {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    /// An index's platform manifests.
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

struct Manifest {
    bytes: Vec<u8>,
    media_type: String,
    doc: ManifestDoc,
}

/// Copies `digest` from `from` to `to`, then tags it there with each of `tags` (the same bytes,
/// so the same digest). The target ends up with exactly the source's manifest and blobs.
pub async fn copy_by_digest(
    http: &reqwest::Client,
    from: &Repository,
    to: &Repository,
    digest: &str,
    tags: &[String],
) -> Result<Copied> {
    if !is_sha256(digest) {
        return Err(Error::image(format!("`{digest}` is not a sha256 digest")));
    }
    let copier = Copier { http, from, to };
    let mut copied = Copied {
        digest: digest.to_string(),
        ..Copied::default()
    };
    let top = copier.get_manifest(digest).await?;
    for child in &top.doc.manifests {
        let manifest = copier.get_manifest(&child.digest).await?;
        copier.copy_blobs(&manifest, &mut copied).await?;
        copier
            .put_manifest(&child.digest, &manifest, &child.digest)
            .await?;
        copied.manifests += 1;
    }
    copier.copy_blobs(&top, &mut copied).await?;
    if tags.is_empty() {
        copier.put_manifest(digest, &top, digest).await?;
    }
    for tag in tags {
        copier.put_manifest(tag, &top, digest).await?;
    }
    copied.manifests += 1;
    tracing::info!(
        digest,
        from = %format!("{}/{}", from.login.host, from.name),
        to = %format!("{}/{}", to.login.host, to.name),
        uploaded = copied.blobs_uploaded,
        mounted = copied.blobs_mounted,
        present = copied.blobs_present,
        "image copied by digest"
    );
    Ok(copied)
}

struct Copier<'a> {
    http: &'a reqwest::Client,
    from: &'a Repository,
    to: &'a Repository,
}

/// What a registry said when it refused.
async fn refused(what: String, resp: reqwest::Response) -> Error {
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    let body: String = body.chars().take(500).collect();
    let err = Error::image(format!("{what}: HTTP {status}: {}", body.trim()));
    match status.as_u16() {
        401 | 403 => err.with_hint(
            "the role needs ecr:BatchGetImage and ecr:GetDownloadUrlForLayer on the source repository, and push permissions on the target's",
        ),
        404 => err.with_hint("check that the source image and the target repository exist"),
        _ => err,
    }
}

fn transport(what: String, e: reqwest::Error) -> Error {
    Error::image(format!("{what}: {e}")).with_source(e)
}

impl Copier<'_> {
    fn url(side: &Repository, rest: &str) -> String {
        format!("https://{}/v2/{}/{rest}", side.login.host, side.name)
    }

    fn auth(side: &Repository, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        req.basic_auth(&side.login.user, Some(side.login.password.expose_secret()))
    }

    async fn get_manifest(&self, digest: &str) -> Result<Manifest> {
        let what = format!(
            "GET manifest {}/{}@{digest}",
            self.from.login.host, self.from.name
        );
        let resp = Self::auth(
            self.from,
            self.http
                .get(Self::url(self.from, &format!("manifests/{digest}")))
                .header(reqwest::header::ACCEPT, MANIFEST_TYPES.join(", ")),
        )
        .send()
        .await
        .map_err(|e| transport(what.clone(), e))?;
        if !resp.status().is_success() {
            return Err(refused(what, resp).await);
        }
        let header_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| transport(what.clone(), e))?
            .to_vec();
        if sha256_of(&bytes) != digest {
            return Err(Error::image(format!(
                "{what}: the registry returned a manifest whose digest is {}",
                sha256_of(&bytes)
            )));
        }
        let doc: ManifestDoc = serde_json::from_slice(&bytes)
            .map_err(|e| Error::image(format!("{what}: not a manifest: {e}")).with_source(e))?;
        let media_type = doc
            .media_type
            .clone()
            .or(header_type)
            .filter(|t| MANIFEST_TYPES.contains(&t.as_str()))
            .ok_or_else(|| {
                Error::image(format!(
                    "{what}: unsupported manifest type (supported: {})",
                    MANIFEST_TYPES.join(", ")
                ))
            })?;
        Ok(Manifest {
            bytes,
            media_type,
            doc,
        })
    }

    async fn put_manifest(&self, reference: &str, m: &Manifest, digest: &str) -> Result<()> {
        let what = format!(
            "PUT manifest {}/{}:{reference}",
            self.to.login.host, self.to.name
        );
        let resp = Self::auth(
            self.to,
            self.http
                .put(Self::url(self.to, &format!("manifests/{reference}")))
                .header(reqwest::header::CONTENT_TYPE, &m.media_type)
                .body(m.bytes.clone()),
        )
        .send()
        .await
        .map_err(|e| transport(what.clone(), e))?;
        if !resp.status().is_success() {
            return Err(refused(what, resp).await);
        }
        if let Some(stored) = resp
            .headers()
            .get("Docker-Content-Digest")
            .and_then(|v| v.to_str().ok())
            && stored != digest
        {
            return Err(Error::image(format!(
                "{what}: the registry stored the manifest as {stored}, not {digest}"
            )));
        }
        Ok(())
    }

    async fn copy_blobs(&self, m: &Manifest, copied: &mut Copied) -> Result<()> {
        for blob in m.doc.config.iter().chain(&m.doc.layers) {
            self.copy_blob(blob, copied).await?;
        }
        Ok(())
    }

    async fn copy_blob(&self, blob: &Descriptor, copied: &mut Copied) -> Result<()> {
        let digest = blob.digest.as_str();
        if !is_sha256(digest) {
            return Err(Error::image(format!(
                "the manifest names a blob `{digest}` that is not a sha256 digest"
            )));
        }
        let to = format!("{}/{}", self.to.login.host, self.to.name);
        let what = format!("HEAD blob {to}@{digest}");
        let head = Self::auth(
            self.to,
            self.http
                .head(Self::url(self.to, &format!("blobs/{digest}"))),
        )
        .send()
        .await
        .map_err(|e| transport(what.clone(), e))?;
        if head.status().is_success() {
            copied.blobs_present += 1;
            return Ok(());
        }
        // On one registry, ask it to mount the blob from the source repository; it answers 202
        // with an ordinary upload when it will not (e.g. the target's login cannot read it).
        let start = if self.from.login.host == self.to.login.host {
            format!("blobs/uploads/?mount={digest}&from={}", self.from.name)
        } else {
            "blobs/uploads/".to_string()
        };
        let what = format!("start blob upload {to}@{digest}");
        let started = Self::auth(self.to, self.http.post(Self::url(self.to, &start)))
            .header(reqwest::header::CONTENT_LENGTH, "0")
            .send()
            .await
            .map_err(|e| transport(what.clone(), e))?;
        if started.status() == reqwest::StatusCode::CREATED {
            copied.blobs_mounted += 1;
            return Ok(());
        }
        if started.status() != reqwest::StatusCode::ACCEPTED {
            return Err(refused(what, started).await);
        }
        let location = self.location(&started, &what)?;

        let bytes = self.get_blob(blob).await?;
        let what = format!("upload blob {to}@{digest}");
        let patched = Self::auth(
            self.to,
            self.http
                .patch(&location)
                .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
                .body(bytes),
        )
        .send()
        .await
        .map_err(|e| transport(what.clone(), e))?;
        if patched.status() != reqwest::StatusCode::ACCEPTED {
            return Err(refused(what, patched).await);
        }
        let location = self.location(&patched, &what)?;
        let separator = if location.contains('?') { '&' } else { '?' };
        let finished = Self::auth(
            self.to,
            self.http
                .put(format!("{location}{separator}digest={digest}"))
                .header(reqwest::header::CONTENT_LENGTH, "0"),
        )
        .send()
        .await
        .map_err(|e| transport(what.clone(), e))?;
        if finished.status() != reqwest::StatusCode::CREATED {
            return Err(refused(what, finished).await);
        }
        copied.blobs_uploaded += 1;
        Ok(())
    }

    /// The absolute upload URL a registry answered with.
    fn location(&self, resp: &reqwest::Response, what: &str) -> Result<String> {
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| Error::image(format!("{what}: the registry gave no upload location")))?;
        Ok(
            if location.starts_with("https://") || location.starts_with("http://") {
                location.to_string()
            } else {
                format!(
                    "https://{}/{}",
                    self.to.login.host,
                    location.trim_start_matches('/')
                )
            },
        )
    }

    /// The blob's bytes from the source, checked against its digest and size. ECR answers with
    /// a redirect to storage, which must not get our credentials (reqwest drops them on a
    /// redirect to another host).
    async fn get_blob(&self, blob: &Descriptor) -> Result<Vec<u8>> {
        let digest = blob.digest.as_str();
        let what = format!(
            "GET blob {}/{}@{digest}",
            self.from.login.host, self.from.name
        );
        let resp = Self::auth(
            self.from,
            self.http
                .get(Self::url(self.from, &format!("blobs/{digest}"))),
        )
        .send()
        .await
        .map_err(|e| transport(what.clone(), e))?;
        if !resp.status().is_success() {
            return Err(refused(what, resp).await);
        }
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| transport(what.clone(), e))?
            .to_vec();
        let got = sha256_of(&bytes);
        if got != digest || blob.size.is_some_and(|s| s != bytes.len() as u64) {
            return Err(Error::image(format!(
                "{what}: the registry returned {} bytes with digest {got} (media type {})",
                bytes.len(),
                blob.media_type.as_deref().unwrap_or("unknown")
            )));
        }
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_refs_must_be_pinned_by_digest() {
        let d = format!("sha256:{}", "a".repeat(64));
        let (host, repo, digest) = parse_image_ref(&format!(
            "111111111111.dkr.ecr.eu-west-2.amazonaws.com/ecs-poc-staging@{d}"
        ))
        .expect("a pinned image");
        assert_eq!(host, "111111111111.dkr.ecr.eu-west-2.amazonaws.com");
        assert_eq!(repo, "ecs-poc-staging");
        assert_eq!(digest, d);
        for bad in [
            "repo:latest".to_string(),
            format!("repo@{d}"),
            "host/repo@sha256:abc".to_string(),
            format!("host/repo@md5:{}", "a".repeat(64)),
        ] {
            assert!(parse_image_ref(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn digests_are_sha256_of_the_exact_bytes() {
        assert_eq!(
            sha256_of(b""),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
