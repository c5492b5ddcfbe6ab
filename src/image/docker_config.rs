//! The Docker configuration docker runs with while we log in to ECR, build and push.
//!
//! The ECR login must not land in the user's own `~/.docker/config.json`, yet the user's
//! configuration must keep working beside it: a `FROM` image behind an earlier `docker login`
//! or a credential helper, the buildx plugin under `~/.docker/cli-plugins`, a docker context.
//! So docker gets a private `DOCKER_CONFIG` directory (mode 0700), under `RUNNER_TEMP` in
//! Actions, holding a copy of the user's `config.json` with these changes:
//!
//! - `credsStore` is dropped, so `docker login` writes the ECR password to this file (removed
//!   with the directory) and not to the user's store. Each registry the user had logged in to
//!   through that store (an `auths` entry without a password) is routed to the same store by a
//!   `credHelpers` entry, so those logins still resolve.
//! - the ECR registry's own `auths` and `credHelpers` entries are dropped: ours replaces them.
//!
//! and links to the user's `cli-plugins` and `contexts` directories. The directory is removed
//! when the value is dropped, and by [`remove_all`] on SIGINT or SIGTERM (a drop does not run
//! when the process is told to stop).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde_json::{Map, Value};

use crate::{Error, Result};

/// Directories that exist right now, for [`remove_all`].
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Subdirectories of a docker config directory that docker reads besides `config.json`.
const LINKED: [&str; 2] = ["cli-plugins", "contexts"];

/// A private DOCKER_CONFIG directory; removed, login and all, when dropped.
#[derive(Debug)]
pub struct TemporaryDockerConfig {
    path: PathBuf,
}

impl TemporaryDockerConfig {
    /// Creates the directory under `parent` (the runner's `RUNNER_TEMP`, else the system's
    /// temporary directory) from the user's docker config directory `user` (`DOCKER_CONFIG`,
    /// else `~/.docker`; it may not exist), for a login to `registry`.
    pub fn create(parent: &Path, user: Option<&Path>, registry: &str) -> Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let path = parent.join(format!("ecs-poc-docker-{}-{nanos}", std::process::id()));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(&path).map_err(|e| {
            Error::image(format!(
                "cannot create a docker config directory {}: {e}",
                path.display()
            ))
            .with_hint("RUNNER_TEMP (or the system's temporary directory) must be writable")
            .with_source(e)
        })?;
        // From here on the directory is ours to remove: on drop, or on a signal.
        if let Ok(mut live) = LIVE.lock() {
            live.push(path.clone());
        }
        let config = Self { path };
        config.fill(user, registry)?;
        Ok(config)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fill(&self, user: Option<&Path>, registry: &str) -> Result<()> {
        let original = match user.map(|u| u.join("config.json")) {
            Some(file) if file.is_file() => {
                let text = std::fs::read_to_string(&file).map_err(|e| {
                    Error::image(format!("cannot read {}: {e}", file.display())).with_source(e)
                })?;
                serde_json::from_str::<Value>(&text).map_err(|e| {
                    Error::image(format!("{} is not JSON: {e}", file.display()))
                        .with_hint(
                            "fix or remove the docker config file; docker cannot read it either",
                        )
                        .with_source(e)
                })?
            }
            _ => Value::Object(Map::new()),
        };
        let merged = merge(original, registry);
        let file = self.path.join("config.json");
        write_private(&file, &merged.to_string())?;
        if let Some(user) = user {
            for sub in LINKED {
                let from = user.join(sub);
                if from.is_dir() {
                    link_dir(&from, &self.path.join(sub))?;
                }
            }
        }
        Ok(())
    }
}

impl Drop for TemporaryDockerConfig {
    fn drop(&mut self) {
        remove(&self.path);
    }
}

/// Removes every temporary docker config directory that still exists. For a process that is
/// about to exit on a signal, when no destructor will run.
pub fn remove_all() {
    let paths: Vec<PathBuf> = match LIVE.lock() {
        Ok(live) => live.clone(),
        Err(_) => return,
    };
    for p in paths {
        remove(&p);
    }
}

fn remove(path: &Path) {
    if let Err(e) = std::fs::remove_dir_all(path)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(path = %path.display(), error = %e, "could not remove the temporary docker config");
    }
    if let Ok(mut live) = LIVE.lock() {
        live.retain(|p| p != path);
    }
}

/// The user's config with the changes the module documentation lists.
pub fn merge(user: Value, registry: &str) -> Value {
    let mut config = match user {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    let store = config
        .remove("credsStore")
        .and_then(|v| v.as_str().map(str::to_string))
        .filter(|s| !s.is_empty());
    let mut auths = match config.remove("auths") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut helpers = match config.remove("credHelpers") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    if let Some(store) = store {
        for (host, entry) in &auths {
            let has_password = entry.get("auth").is_some_and(|a| a.as_str() != Some(""))
                || entry.get("identitytoken").is_some();
            if !has_password && !helpers.contains_key(host) {
                helpers.insert(host.clone(), Value::String(store.clone()));
            }
        }
    }
    let ours = |host: &String| same_registry(host, registry);
    auths.retain(|h, _| !ours(h));
    helpers.retain(|h, _| !ours(h));
    config.insert("auths".into(), Value::Object(auths));
    if !helpers.is_empty() {
        config.insert("credHelpers".into(), Value::Object(helpers));
    }
    Value::Object(config)
}

/// `https://host/v1/` and `host` name the same registry in a docker config.
fn same_registry(key: &str, registry: &str) -> bool {
    let bare = |s: &str| {
        s.trim_start_matches("https://")
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    bare(key) == bare(registry)
}

fn write_private(file: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(file).map_err(|e| {
        Error::image(format!("cannot write {}: {e}", file.display())).with_source(e)
    })?;
    f.write_all(text.as_bytes())
        .map_err(|e| Error::image(format!("cannot write {}: {e}", file.display())).with_source(e))
}

#[cfg(unix)]
fn link_dir(from: &Path, to: &Path) -> Result<()> {
    std::os::unix::fs::symlink(from, to).map_err(|e| {
        Error::image(format!(
            "cannot link {} into the docker config: {e}",
            from.display()
        ))
        .with_source(e)
    })
}

#[cfg(not(unix))]
fn link_dir(_: &Path, _: &Path) -> Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ECR: &str = "123456789012.dkr.ecr.eu-west-2.amazonaws.com";

    #[test]
    fn earlier_logins_and_helpers_are_kept_and_the_store_is_not_written_to() {
        let user = json!({
            "auths": {
                "ghcr.io": {},
                "registry.example.com": {"auth": "dXNlcjpwYXNz"},
                ECR: {},
            },
            "credsStore": "desktop",
            "credHelpers": {"gcr.io": "gcloud", ECR: "ecr-login"},
            "proxies": {"default": {"httpProxy": "http://proxy:3128"}},
        });
        let merged = merge(user, &format!("https://{ECR}"));
        assert_eq!(
            merged.get("credsStore"),
            None,
            "no login lands in the user's store"
        );
        assert_eq!(
            merged["credHelpers"],
            json!({"gcr.io": "gcloud", "ghcr.io": "desktop"}),
            "a login held by the store still resolves through it"
        );
        assert_eq!(
            merged["auths"],
            json!({"ghcr.io": {}, "registry.example.com": {"auth": "dXNlcjpwYXNz"}}),
            "ECR's own entries make way for ours"
        );
        assert_eq!(
            merged["proxies"]["default"]["httpProxy"],
            "http://proxy:3128"
        );
    }

    #[test]
    fn no_user_config_is_an_empty_one() {
        assert_eq!(merge(Value::Null, ECR), json!({"auths": {}}));
    }

    #[test]
    fn the_directory_is_private_and_removed_on_drop_or_by_remove_all() {
        let runner_temp = tempfile::tempdir().unwrap();
        let user = tempfile::tempdir().unwrap();
        std::fs::create_dir(user.path().join("cli-plugins")).unwrap();
        std::fs::write(
            user.path().join("config.json"),
            r#"{"auths": {"ghcr.io": {}}}"#,
        )
        .unwrap();
        let a = TemporaryDockerConfig::create(runner_temp.path(), Some(user.path()), ECR).unwrap();
        assert!(a.path().starts_with(runner_temp.path()));
        assert!(
            a.path().join("cli-plugins").is_dir(),
            "plugins stay reachable"
        );
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(a.path().join("config.json")).unwrap())
                .unwrap();
        assert_eq!(written["auths"], json!({"ghcr.io": {}}));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(a.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
        let a_path = a.path().to_path_buf();
        drop(a);
        assert!(!a_path.exists());
        assert!(
            user.path().join("cli-plugins").is_dir(),
            "the user's own are untouched"
        );

        let b = TemporaryDockerConfig::create(runner_temp.path(), None, ECR).unwrap();
        let b_path = b.path().to_path_buf();
        remove_all();
        assert!(!b_path.exists());
        drop(b);
    }
}
