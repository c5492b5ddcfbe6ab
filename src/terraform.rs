//! The terraform stage: terraform (or OpenTofu) for one stack directory: init with the S3
//! backend, plan to a saved file, summarise the plan, apply exactly that plan, read outputs.
//!
//! Terraform runs as a child process with the stack directory as its working directory. The
//! credentials reach it only through `child_env` (never argv, never logged). Its stderr is
//! carried in errors unredacted: the caller passes every error through the masker.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};
use tokio::process::Command;

use crate::credentials::RenewingWebIdentity;
use crate::process::{self, ProcessError, Stream};
use crate::{Error, Result};

/// One terraform root module and where its state lives.
#[derive(Debug, Clone)]
pub struct Stack {
    /// e.g. `terraform/stacks/preview`
    pub dir: PathBuf,
    /// S3 backend: bucket, key (e.g. `preview/pr-12.tfstate`), region; `use_lockfile=true` always.
    pub backend_bucket: String,
    pub backend_key: String,
    pub backend_region: String,
    /// `-var name=value` pairs.
    pub vars: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanMode {
    /// A plan that will be applied: it holds the state lock while it runs.
    Apply,
    /// A plan to show, never to apply (a pull request's view of the shared stack): it takes
    /// no lock (`-lock=false`), so the role running it needs no write access to the state.
    ShowOnly,
    /// A plan that destroys everything, holding the lock.
    Destroy,
}

pub use crate::domain::{PlanSummary, ResourceChange};

/// What [`Terraform::init`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    /// terraform init ran.
    Ran,
    /// The directory was already initialised for this backend and lock file.
    Reused,
}

/// The stamp of the last successful init, inside terraform's own `.terraform/` directory.
const INIT_STAMP: &str = "ecs-poc-init.sha256";

/// What an init depends on: the binary, the backend settings, the dependency lock file and the
/// configuration files (module and provider requirements) of the stack and its local modules.
fn init_stamp(stack: &Stack, binary: &Path) -> Result<String> {
    inputs_digest(stack, binary, &[])
}

/// sha256 of the binary, the backend, `extra`, the lock file and the configuration files.
fn inputs_digest(stack: &Stack, binary: &Path, extra: &[String]) -> Result<String> {
    let mut h = Sha256::new();
    let fixed = [
        binary.display().to_string(),
        stack.backend_bucket.clone(),
        stack.backend_key.clone(),
        stack.backend_region.clone(),
        "use_lockfile=true".into(),
    ];
    for part in fixed.iter().chain(extra) {
        h.update(part.as_bytes());
        h.update(b"\0");
    }
    let lock = stack.dir.join(".terraform.lock.hcl");
    match std::fs::read(&lock) {
        Ok(bytes) => h.update(&bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => h.update(b"no lock file"),
        Err(e) => return Err(config_read_error(&lock, e)),
    }
    for file in configuration_files(&stack.dir)? {
        let bytes = std::fs::read(&file).map_err(|e| config_read_error(&file, e))?;
        h.update(file.display().to_string().as_bytes());
        h.update(b"\0");
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(&bytes);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

fn config_read_error(path: &Path, e: std::io::Error) -> Error {
    Error::terraform(format!("cannot read {}: {e}", path.display())).with_source(e)
}

/// `*.tf` and `*.tf.json` files of `dir` and of the local modules it calls (`source = "./.."`
/// or `"../.."`), recursively, each directory once, in a stable order.
pub fn configuration_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut seen = std::collections::BTreeSet::new();
    let mut pending = vec![dir.to_path_buf()];
    let mut files = Vec::new();
    while let Some(d) = pending.pop() {
        let canonical = d.canonicalize().map_err(|e| config_read_error(&d, e))?;
        if !seen.insert(canonical.clone()) {
            continue;
        }
        let mut here: Vec<PathBuf> = std::fs::read_dir(&canonical)
            .map_err(|e| config_read_error(&canonical, e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.ends_with(".tf") || n.ends_with(".tf.json"))
            })
            .collect();
        here.sort();
        for file in &here {
            let text = std::fs::read_to_string(file).map_err(|e| config_read_error(file, e))?;
            pending.extend(local_module_sources(&text).map(|s| canonical.join(s)));
        }
        files.extend(here);
    }
    Ok(files)
}

/// The `source = "./x"` / `"../x"` values of module blocks in a configuration file.
fn local_module_sources(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices("source").filter_map(|(i, _)| {
        let rest = text[i + "source".len()..].trim_start().strip_prefix('=')?;
        let value = rest.trim_start().strip_prefix('"')?.split('"').next()?;
        (value.starts_with("./") || value.starts_with("../")).then_some(value)
    })
}

/// A saved plan. It owns its file: the file holds the variables' values and a snapshot of the
/// state, so it is deleted when the plan is dropped, applied or not.
#[derive(Debug)]
pub struct Plan {
    /// The saved plan file; `apply` applies exactly this.
    pub file: PathBuf,
    pub has_changes: bool,
    /// Human-readable plan: what `terraform show -no-color FILE` prints, taken from the plan's
    /// own output (see [`plan_text`]).
    pub text: String,
    pub summary: PlanSummary,
}

impl Drop for Plan {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
        // The per-run directory goes with its last plan (it fails harmlessly while others remain).
        if let Some(dir) = self.file.parent() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

/// `terraform output -json`, flattened to name -> value.
pub type Outputs = BTreeMap<String, serde_json::Value>;

pub struct Terraform {
    pub binary: PathBuf,
    /// Extra environment for the child (AWS credentials, TF_IN_AUTOMATION, ...). Never logged.
    pub child_env: Vec<(String, String)>,
    /// An assumed role's renewing credentials: each invocation starts with the current ones,
    /// over those in `child_env`.
    pub renewing: Option<RenewingWebIdentity>,
}

/// What one terraform invocation left behind.
struct Finished {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Lines of stderr kept in an error: enough for terraform's diagnostics, not a whole log.
const STDERR_TAIL_LINES: usize = 60;

impl Terraform {
    pub fn new(binary: impl Into<PathBuf>, child_env: Vec<(String, String)>) -> Self {
        Self {
            binary: binary.into(),
            child_env,
            renewing: None,
        }
    }

    /// Starts every invocation with `renewing`'s credentials as they are then.
    pub fn with_renewing(mut self, renewing: Option<RenewingWebIdentity>) -> Self {
        self.renewing = renewing;
        self
    }

    /// `terraform init` with the stack's S3 backend. `-reconfigure` because one stack directory
    /// serves many states (pr-1, pr-2, main): the backend key changes between runs.
    ///
    /// A directory initialised before for the same backend, lock file, configuration files and
    /// terraform binary is used as it is: init would download nothing and change nothing. The
    /// proof is a stamp in `.terraform/`, written after a successful init.
    pub async fn init(&self, stack: &Stack) -> Result<Init> {
        // A stamp that cannot be made (say, the directory is missing) means init runs, and
        // terraform says what is wrong.
        let stamp = init_stamp(stack, &self.binary).ok();
        let stamp_file = stack.dir.join(".terraform").join(INIT_STAMP);
        if let Some(stamp) = &stamp
            && std::fs::read_to_string(&stamp_file).is_ok_and(|s| &s == stamp)
        {
            tracing::info!(stack = %stack.backend_key, "terraform init: already initialised for this backend and lock file");
            return Ok(Init::Reused);
        }
        // A failed init must not leave the stamp of an earlier one behind.
        let _ = std::fs::remove_file(&stamp_file);
        let args = vec![
            "init".to_string(),
            "-input=false".into(),
            "-no-color".into(),
            "-reconfigure".into(),
            format!("-backend-config=bucket={}", stack.backend_bucket),
            format!("-backend-config=key={}", stack.backend_key),
            format!("-backend-config=region={}", stack.backend_region),
            "-backend-config=use_lockfile=true".into(),
        ];
        let done = self.run(stack, &args, false).await?;
        if done.code != 0 {
            let hint = if done.stderr.contains("NoSuchBucket")
                || done.stderr.contains("bucket does not exist")
            {
                format!(
                    "the state bucket `{}` does not exist in {}: create it with terraform/bootstrap or fix the state-bucket input",
                    stack.backend_bucket, stack.backend_region
                )
            } else {
                "check the state-bucket and aws-region inputs and that the role may read and write the bucket".into()
            };
            return Err(self.failure("init", stack, &done).with_hint(hint));
        }
        // Init writes the lock file when there was none: the stamp is of what it left.
        let stamp = init_stamp(stack, &self.binary).ok();
        if let Some(stamp) = stamp
            && let Err(e) = std::fs::write(&stamp_file, &stamp)
        {
            tracing::debug!(
                "cannot write {}: {e}; the next run initialises again",
                stamp_file.display()
            );
        }
        Ok(Init::Ran)
    }

    /// Everything a plan of `stack` depends on besides its state: the binary, the backend, the
    /// variables, the lock file and the configuration files of the stack and its local modules.
    pub fn plan_inputs(&self, stack: &Stack) -> Result<String> {
        let vars: Vec<String> = stack
            .vars
            .iter()
            .map(|(k, v)| format!("-var {k}={v}"))
            .collect();
        inputs_digest(stack, &self.binary, &vars)
    }

    /// Plan to a saved file (`-detailed-exitcode`: 0 no changes, 2 changes) and summarise it.
    pub async fn plan(&self, stack: &Stack, mode: PlanMode) -> Result<Plan> {
        let file = plan_file(stack)?;
        let mut args = vec![
            "plan".to_string(),
            "-input=false".into(),
            "-no-color".into(),
            "-detailed-exitcode".into(),
            format!("-out={}", file.display()),
        ];
        match mode {
            PlanMode::Apply => args.push("-lock-timeout=300s".into()),
            PlanMode::ShowOnly => args.push("-lock=false".into()),
            PlanMode::Destroy => {
                args.push("-lock-timeout=300s".into());
                args.push("-destroy".into());
            }
        }
        for (name, value) in &stack.vars {
            args.push("-var".into());
            args.push(format!("{name}={value}"));
        }
        let done = self.run(stack, &args, false).await?;
        let has_changes = match done.code {
            0 => false,
            2 => true,
            _ => {
                return Err(self
                    .failure("plan", stack, &done)
                    .with_hint(hint_for(&done.stderr)));
            }
        };
        // An empty plan (exit 0) has no resource change to summarise: `show -json`, which loads
        // every provider's schema again (about 2 s for the AWS provider), would add nothing.
        let summary = if has_changes {
            self.summary(stack, &file).await?
        } else {
            PlanSummary::default()
        };
        tracing::info!(
            stack = %stack.backend_key,
            add = summary.add,
            change = summary.change,
            destroy = summary.destroy,
            replace = summary.replace,
            "plan saved"
        );
        Ok(Plan {
            file,
            has_changes,
            text: plan_text(&done.stdout),
            summary,
        })
    }

    /// The summary of a saved plan, from `terraform show -json FILE`.
    async fn summary(&self, stack: &Stack, file: &Path) -> Result<PlanSummary> {
        let file_arg = file.display().to_string();
        let json = self
            .run(stack, &["show".into(), "-json".into(), file_arg], false)
            .await?;
        if json.code != 0 {
            return Err(self.failure("show -json", stack, &json));
        }
        let show: ShowJson = serde_json::from_str(json.stdout.trim()).map_err(|e| {
            Error::terraform(format!(
                "`terraform show -json` printed something that is not a plan: {e}"
            ))
            .with_hint("check that terraform-binary is terraform >= 1.5 or OpenTofu")
            .with_source(e)
        })?;
        summarize(&show)
    }

    /// Apply exactly the saved plan; a stale plan (state moved on) fails rather than re-planning.
    pub async fn apply(&self, stack: &Stack, plan: &Plan) -> Result<()> {
        let args = vec![
            "apply".to_string(),
            "-input=false".into(),
            "-no-color".into(),
            "-lock-timeout=300s".into(),
            plan.file.display().to_string(),
        ];
        let done = self.run(stack, &args, true).await?;
        if done.code != 0 {
            return Err(self
                .failure("apply", stack, &done)
                .with_hint(hint_for(&done.stderr)));
        }
        Ok(())
    }

    /// `terraform output -json` flattened to name -> value.
    pub async fn outputs(&self, stack: &Stack) -> Result<Outputs> {
        let done = self
            .run(
                stack,
                &["output".into(), "-json".into(), "-no-color".into()],
                false,
            )
            .await?;
        if done.code != 0 {
            return Err(self.failure("output", stack, &done));
        }
        parse_outputs(&done.stdout)
    }

    async fn run(&self, stack: &Stack, args: &[String], stream: bool) -> Result<Finished> {
        let subcommand = args.first().map(String::as_str).unwrap_or_default();
        tracing::debug!(binary = %self.binary.display(), dir = %stack.dir.display(), subcommand, "terraform");
        let mut cmd = Command::new(&self.binary);
        cmd.args(args)
            .current_dir(&stack.dir)
            .env("TF_IN_AUTOMATION", "true")
            .env("CHECKPOINT_DISABLE", "true")
            .env("TF_INPUT", "false")
            .envs(self.child_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if let Some(renewing) = &self.renewing {
            cmd.envs(renewing.env().await?);
        }
        let stream = Stream {
            stdout: stream,
            stderr: false,
        };
        let done = process::run(&mut cmd, None, stream)
            .await
            .map_err(|e| match e {
                ProcessError::Spawn(_) => Error::terraform(format!(
                    "cannot run `{}`: {e}",
                    self.binary.display()
                ))
                .with_hint(
                    "install terraform (or OpenTofu) or set the terraform-binary input to its path",
                )
                .with_source(e),
                ProcessError::Io(_) => {
                    Error::terraform(format!("running terraform {subcommand}: {e}")).with_source(e)
                }
            })?;
        Ok(Finished {
            code: done.code(),
            stdout: done.stdout,
            stderr: done.stderr,
        })
    }

    fn failure(&self, what: &str, stack: &Stack, done: &Finished) -> Error {
        let tail = process::tail(&done.stderr, STDERR_TAIL_LINES);
        Error::terraform(format!(
            "`terraform {what}` failed (exit {}) in {} for state {}:\n{tail}",
            done.code,
            stack.dir.display(),
            stack.backend_key
        ))
    }
}

/// The human-readable plan from `terraform plan -no-color`'s output: the same text as
/// `terraform show -no-color FILE` (under `TF_IN_AUTOMATION`), after the progress lines of the
/// refresh (`ADDRESS: Refreshing state... [id=..]`, `Reading...`, `Read complete after ..`).
/// Taking it from the plan saves a `terraform show`, which loads every provider's schema again
/// (about 2 s for the AWS provider) for each planned stack.
pub fn plan_text(stdout: &str) -> String {
    const PROGRESS: [&str; 4] = [
        ": Refreshing state...",
        ": Reading...",
        ": Still reading...",
        ": Read complete after ",
    ];
    let progress = |line: &str| {
        !line.starts_with(char::is_whitespace) && PROGRESS.iter().any(|p| line.contains(p))
    };
    let mut lines = stdout.lines().peekable();
    while lines
        .next_if(|line| line.trim().is_empty() || progress(line))
        .is_some()
    {}
    let mut text = lines.collect::<Vec<_>>().join("\n");
    if !text.is_empty() {
        text.push('\n');
    }
    text
}

fn hint_for(stderr: &str) -> String {
    if stderr.contains("Error acquiring the state lock") || stderr.contains("PreconditionFailed") {
        "another run holds the state lock; wait for it, or if it died run `terraform force-unlock` with the lock ID shown".into()
    } else if stderr.contains("Saved plan is stale") {
        "the state changed since the plan was made; run the deploy again to plan afresh".into()
    } else if stderr.contains("No value for required variable") {
        "a required terraform variable has no value; set it in ecs-poc.yml or as a default in the stack".into()
    } else if stderr.contains("ExpiredToken")
        || stderr.contains("InvalidClientTokenId")
        || stderr.contains("no valid credential")
    {
        "the AWS credentials were refused or expired; check role-to-assume and role-duration-seconds".into()
    } else {
        "read terraform's error above; fix the stack or its inputs and run again".into()
    }
}

fn plan_file(stack: &Stack) -> Result<PathBuf> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    // RUNNER_TEMP is emptied by GitHub after each job, so plan files (which hold variable
    // values) do not outlive the run there; elsewhere the system temp dir.
    let base = std::env::var_os("RUNNER_TEMP")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let dir = base.join(format!("ecs-poc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| {
        Error::terraform(format!(
            "cannot create a directory for the plan file ({}): {e}",
            dir.display()
        ))
    })?;
    let name: String = stack
        .backend_key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    Ok(absolute(&dir.join(format!("{name}-{seq}.tfplan"))))
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// One entry of `terraform output -json`; its type and sensitivity are not needed.
#[derive(Debug, serde::Deserialize)]
struct OutputJson {
    #[serde(default)]
    value: serde_json::Value,
}

/// Parse `terraform output -json` (`{"name": {"value": .., "type": .., "sensitive": ..}}`).
pub fn parse_outputs(text: &str) -> Result<Outputs> {
    let raw: BTreeMap<String, OutputJson> = serde_json::from_str(text.trim()).map_err(|e| {
        Error::terraform(format!(
            "`terraform output -json` is not the expected JSON: {e}"
        ))
        .with_source(e)
    })?;
    Ok(raw.into_iter().map(|(name, o)| (name, o.value)).collect())
}

/// The part of `terraform show -json PLAN` that the summary reads.
#[derive(Debug, Default, serde::Deserialize)]
pub struct ShowJson {
    #[serde(default)]
    resource_changes: Option<Vec<ResourceChangeJson>>,
}

#[derive(Debug, serde::Deserialize)]
struct ResourceChangeJson {
    address: Option<String>,
    change: Option<ChangeJson>,
}

#[derive(Debug, serde::Deserialize)]
struct ChangeJson {
    actions: Option<Vec<String>>,
}

impl ShowJson {
    pub fn parse(text: &str) -> Result<Self> {
        serde_json::from_str(text.trim()).map_err(|e| {
            Error::terraform(format!("plan JSON is not a terraform plan: {e}")).with_source(e)
        })
    }
}

/// Summary from `terraform show -json PLAN`; a replace counts as a replace.
pub fn summarize(show: &ShowJson) -> Result<PlanSummary> {
    let Some(changes) = &show.resource_changes else {
        return Ok(PlanSummary::default());
    };
    let mut summary = PlanSummary::default();
    for rc in changes {
        let address = rc
            .address
            .as_deref()
            .ok_or_else(|| Error::terraform("plan JSON: a resource change has no address"))?;
        let actions: Vec<&str> = rc
            .change
            .as_ref()
            .and_then(|c| c.actions.as_ref())
            .ok_or_else(|| Error::terraform(format!("plan JSON: {address} has no change.actions")))?
            .iter()
            .map(String::as_str)
            .collect();
        let action = match actions.as_slice() {
            ["no-op"] => continue,
            ["create"] => {
                summary.add += 1;
                "create"
            }
            ["update"] => {
                summary.change += 1;
                "update"
            }
            ["delete"] => {
                summary.destroy += 1;
                "delete"
            }
            ["delete", "create"] | ["create", "delete"] => {
                summary.replace += 1;
                "replace"
            }
            ["read"] => "read",
            other => {
                return Err(Error::terraform(format!(
                    "plan JSON: {address} has unknown actions {other:?}"
                )));
            }
        };
        summary.resources.push(ResourceChange {
            address: address.to_string(),
            action: action.to_string(),
        });
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> ShowJson {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/plans")
            .join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        ShowJson::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn json(v: serde_json::Value) -> ShowJson {
        ShowJson::parse(&v.to_string()).expect("a plan")
    }

    fn actions(s: &PlanSummary) -> Vec<(&str, &str)> {
        s.resources
            .iter()
            .map(|r| (r.address.as_str(), r.action.as_str()))
            .collect()
    }

    #[test]
    fn plan_text_is_the_plan_without_the_refresh_progress() {
        let stdout = "data.aws_region.current: Reading...\n\
module.net.aws_vpc.this: Refreshing state... [id=vpc-1]\n\
module.x.aws_iam_policy.shared[\"images logs\"]: Refreshing state... [id=arn:aws:iam::1:policy/p]\n\
data.aws_region.current: Read complete after 0s [id=eu-west-2]\n\
\n\
Terraform used the selected providers to generate the following execution\n\
plan. Resource actions are indicated with the following symbols:\n\
  + create\n\
\n\
Terraform will perform the following actions:\n\
\n\
  # aws_s3_bucket.data will be created\n\
  + resource \"aws_s3_bucket\" \"data\" {\n\
      + note = \"x: Refreshing state... stays: it is indented\"\n\
    }\n\
\n\
Plan: 1 to add, 0 to change, 0 to destroy.\n";
        let text = plan_text(stdout);
        assert!(
            text.starts_with("Terraform used the selected providers"),
            "{text}"
        );
        assert!(
            !text.contains("vpc-1") && !text.contains("Read complete"),
            "{text}"
        );
        assert!(text.contains("stays: it is indented"), "{text}");
        assert!(
            text.ends_with("Plan: 1 to add, 0 to change, 0 to destroy.\n"),
            "{text}"
        );
    }

    #[test]
    fn plan_text_of_an_unchanged_stack_says_so() {
        let stdout = "aws_vpc.this: Refreshing state... [id=vpc-1]\n\n\
No changes. Your infrastructure matches the configuration.\n\n\
Terraform has compared your real infrastructure against your configuration\n\
and found no differences, so no changes are needed.\n";
        assert!(plan_text(stdout).starts_with("No changes."));
        assert_eq!(plan_text(""), "");
    }

    #[test]
    fn create_counts_every_new_resource() {
        let s = summarize(&fixture("create.json")).unwrap();
        assert_eq!((s.add, s.change, s.destroy, s.replace), (3, 0, 0, 0));
        assert!(
            s.resources.iter().all(|r| r.action == "create"),
            "{:?}",
            s.resources
        );
    }

    #[test]
    fn in_place_update_is_a_change() {
        let s = summarize(&fixture("update.json")).unwrap();
        assert_eq!((s.add, s.change, s.destroy, s.replace), (0, 1, 0, 0));
        assert_eq!(actions(&s), vec![("aws_ssm_parameter.version", "update")]);
    }

    #[test]
    fn a_replace_is_only_a_replace() {
        let s = summarize(&fixture("replace.json")).unwrap();
        assert_eq!((s.add, s.change, s.destroy, s.replace), (0, 0, 0, 1));
        assert_eq!(actions(&s), vec![("aws_s3_bucket.data", "replace")]);
    }

    #[test]
    fn destroy_plan_deletes_everything() {
        let s = summarize(&fixture("destroy.json")).unwrap();
        assert_eq!((s.add, s.change, s.destroy, s.replace), (0, 0, 3, 0));
        assert!(s.resources.iter().all(|r| r.action == "delete"));
    }

    #[test]
    fn no_op_plan_is_empty() {
        let s = summarize(&fixture("no-op.json")).unwrap();
        assert_eq!(s, PlanSummary::default());
        assert_eq!(s.total(), 0);
    }

    #[test]
    fn create_before_destroy_replace_counts_once() {
        let v = serde_json::json!({"resource_changes": [
            {"address": "a.b", "change": {"actions": ["create", "delete"]}},
            {"address": "data.x.y", "change": {"actions": ["read"]}}
        ]});
        let s = summarize(&json(v)).unwrap();
        assert_eq!((s.add, s.destroy, s.replace), (0, 0, 1));
        assert_eq!(actions(&s), vec![("a.b", "replace"), ("data.x.y", "read")]);
    }

    #[test]
    fn malformed_plan_json_is_an_error_not_a_silent_zero() {
        let v = serde_json::json!({"resource_changes": [{"address": "a.b", "change": {}}]});
        let e = summarize(&json(v)).unwrap_err();
        assert_eq!(e.exit_code(), 4);
        assert!(e.to_string().contains("a.b"));
        let v = serde_json::json!({"resource_changes": [{"address": "a.b", "change": {"actions": ["explode"]}}]});
        assert!(summarize(&json(v)).is_err());
    }

    #[test]
    fn local_module_sources_are_found_and_registry_ones_are_not() {
        let tf = r#"
module "network" {
  source = "../../modules/network"
}
module "x" { source = "terraform-aws-modules/vpc/aws" }
module "one_line" { source = "./one" }
module "here" {
  source="./sub"
}
"#;
        let found: Vec<&str> = local_module_sources(tf).collect();
        assert_eq!(found, ["../../modules/network", "./one", "./sub"]);
    }

    #[test]
    fn outputs_are_flattened_to_values() {
        let o = parse_outputs(r#"{"url": {"sensitive": false, "type": "string", "value": "http://x/"}, "n": {"type": "number", "value": 2}}"#)
            .unwrap();
        assert_eq!(o["url"], serde_json::json!("http://x/"));
        assert_eq!(o["n"], serde_json::json!(2));
        assert!(parse_outputs("not json").is_err());
    }
}
