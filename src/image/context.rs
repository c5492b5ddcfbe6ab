//! The image's content tag: a hash of everything that decides what `docker build` makes (the
//! platform, the build arguments, the Dockerfile and the build context with `.dockerignore`
//! honoured), so the same content is built once and reused by every stack that deploys it.

use std::path::Path;

use globset::{GlobBuilder, GlobMatcher};
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Hex digits of the content hash kept in the tag: 64 bits, collisions are not a concern.
const TAG_HEX: usize = 16;

/// What the build is asked for besides its files.
#[derive(Debug, Clone, Copy)]
pub struct BuildInputs<'a> {
    /// `docker build --platform`, e.g. linux/amd64.
    pub platform: &'a str,
    /// `--build-arg`s that vary the image. `APP_VERSION` is not among them: it is the commit,
    /// and the same content built at another commit is the same image.
    pub build_args: &'a [(String, String)],
}

/// `c-<16 hex>`: sha256 over the platform, the build arguments (sorted by name), the
/// Dockerfile and every file of the build context that docker would send (`.dockerignore`
/// honoured), by sorted relative path. The base image is covered by its reference: the
/// Dockerfile's `FROM` line and any build argument it names (`FROM ${BASE_IMAGE}`); a moving
/// tag such as `python:3.12-slim` is not resolved, so pin it by digest to rebuild when it
/// moves. `.git` is never hashed: it changes on every commit and would make every tag new.
pub fn content_tag(context: &Path, dockerfile: &Path, inputs: BuildInputs<'_>) -> Result<String> {
    let ignore = DockerIgnore::load(context)?;
    let mut files = Vec::new();
    walk(context, context, &ignore, &mut files)?;
    files.sort();
    let mut h = Sha256::new();
    let field = |h: &mut Sha256, bytes: &[u8]| {
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
    };
    h.update(b"platform\0");
    field(&mut h, inputs.platform.as_bytes());
    let mut args: Vec<&(String, String)> = inputs.build_args.iter().collect();
    args.sort();
    for (k, v) in args {
        h.update(b"build-arg\0");
        field(&mut h, k.as_bytes());
        field(&mut h, v.as_bytes());
    }
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
    .with_source(e)
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

/// `.dockerignore` patterns, matched as docker matches them: comments, `!` re-includes,
/// `*`/`?`/`[...]` within a path segment, `**` across segments; a pattern that matches a
/// directory excludes what is inside it; the last matching pattern wins.
#[derive(Debug, Default)]
pub struct DockerIgnore {
    /// (re-include?, pattern) in file order.
    rules: Vec<(bool, GlobMatcher)>,
    has_negations: bool,
}

impl DockerIgnore {
    pub fn load(context: &Path) -> Result<Self> {
        let path = context.join(".dockerignore");
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&text).map_err(|e| {
                let message = format!("{}: {}", path.display(), e.message());
                e.with_message(message)
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(io_err(&path, e)),
        }
    }

    pub fn parse(text: &str) -> Result<Self> {
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
            let glob = GlobBuilder::new(pat)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| {
                    Error::config(format!("`.dockerignore` pattern `{pat}` is not valid: {e}"))
                        .with_hint("fix the pattern; docker would reject it too")
                        .with_source(e)
                })?;
            rules.push((negate, glob.compile_matcher()));
        }
        let has_negations = rules.iter().any(|(n, _)| *n);
        Ok(Self {
            rules,
            has_negations,
        })
    }

    pub fn excluded(&self, rel: &str) -> bool {
        // The path itself or any of its parent directories.
        let candidates: Vec<&str> = rel
            .match_indices('/')
            .map(|(i, _)| &rel[..i])
            .chain(std::iter::once(rel))
            .collect();
        let mut excluded = false;
        for (negate, glob) in &self.rules {
            if candidates.iter().any(|c| glob.is_match(c)) {
                excluded = !negate;
            }
        }
        excluded
    }
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

    const AMD64: BuildInputs<'static> = BuildInputs {
        platform: "linux/amd64",
        build_args: &[],
    };

    fn tag(d: &tempfile::TempDir) -> String {
        content_tag(d.path(), &d.path().join("Dockerfile"), AMD64).unwrap()
    }

    #[test]
    fn tag_changes_with_platform_and_build_arguments() {
        let d = ctx(&[(
            "Dockerfile",
            "ARG BASE_IMAGE=python:3.12-slim\nFROM ${BASE_IMAGE}\n",
        )]);
        let with = |platform: &str, args: &[(&str, &str)]| {
            let args: Vec<(String, String)> = args
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let inputs = BuildInputs {
                platform,
                build_args: &args,
            };
            content_tag(d.path(), &d.path().join("Dockerfile"), inputs).unwrap()
        };
        let base = with("linux/amd64", &[]);
        assert_eq!(base, tag(&d));
        assert_ne!(base, with("linux/arm64", &[]), "platform");
        let python = with("linux/amd64", &[("BASE_IMAGE", "python:3.13-slim")]);
        assert_ne!(base, python, "a build argument, here the base image");
        assert_ne!(
            python,
            with("linux/amd64", &[("BASE_IMAGE", "python:3.12-slim")]),
            "its value"
        );
        assert_eq!(
            with("linux/amd64", &[("A", "1"), ("B", "2")]),
            with("linux/amd64", &[("B", "2"), ("A", "1")]),
            "the order they are given in does not matter"
        );
        assert_ne!(
            with("linux/amd64", &[("A", "1B=2")]),
            with("linux/amd64", &[("A", "1"), ("B", "2")]),
            "boundaries are kept"
        );
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
        let ig = DockerIgnore::parse(
            "# c\n**/__pycache__\n*.md\n!README.md\n/target/\ndocs/*.txt\n[a-c]?.py\n",
        )
        .expect("patterns");
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
        assert!(ig.excluded("b1.py") && !ig.excluded("d1.py"));
        let negated = DockerIgnore::parse("[!a-c]?.py\n").expect("patterns");
        assert!(!negated.excluded("b1.py") && negated.excluded("d1.py"));
    }

    #[test]
    fn an_invalid_pattern_is_a_config_error() {
        let e = DockerIgnore::parse("[z-\n").expect_err("unclosed class");
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("[z-"), "{e}");
    }

    #[test]
    fn missing_dockerfile_is_a_config_error() {
        let d = ctx(&[("app.py", "1")]);
        let e = content_tag(d.path(), &d.path().join("Dockerfile"), AMD64).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.hint().unwrap_or_default().contains("dockerfile"));
    }
}
