//! Settings: flags, `ECS_POC_*`/`INPUT_*` environment, the project file `ecs-poc.yml`, and
//! defaults, merged in that order of precedence into one validated [`Settings`].
//!
//! [`Options`] are the values every input source can set; `cli` parses them from flags, and
//! [`Settings::resolve`] fills what the flags left open from the environment, the file and the
//! defaults.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use schemars::JsonSchema;
use secrecy::SecretString;
use serde::Deserialize;

use crate::domain::{Command, StackName};
use crate::{Error, Result};

/// Where variables come from; a map in tests, the process environment otherwise.
pub trait Env: Send + Sync {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl Env for HashMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl Env for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// Human-readable lines on stderr only.
    #[default]
    Text,
    /// The result as one JSON document on stdout (logs stay on stderr).
    Json,
}

impl std::str::FromStr for OutputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        <Self as clap::ValueEnum>::from_str(s, true)
    }
}

/// Options shared by every command. All are optional here: absence means "look further"
/// (environment, input, file, default).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Options {
    /// deploy | plan | destroy | sweep | promote (same as the subcommand). [env: ECS_POC_COMMAND, input: command]
    #[arg(long, global = true, value_name = "COMMAND")]
    pub command: Option<Command>,

    /// The environment of `ecs-poc.yml`'s `environments:` to act on; follows the event when
    /// unset (see docs/cli.md). [env: ECS_POC_ENVIRONMENT, input: environment]
    #[arg(long, global = true, value_name = "NAME")]
    pub environment: Option<String>,

    /// promote: the environment whose running image is promoted. [env: ECS_POC_FROM, input: from]
    #[arg(long = "from", global = true, value_name = "ENVIRONMENT")]
    pub promote_from: Option<String>,

    /// promote: the environment that receives the image (needs `promote-from:` naming --from).
    /// [env: ECS_POC_TO, input: to]
    #[arg(long = "to", global = true, value_name = "ENVIRONMENT")]
    pub promote_to: Option<String>,

    /// IAM role ARN to assume with the run's OIDC token (Actions only).
    /// [env: ECS_POC_ROLE_TO_ASSUME, input: role-to-assume]
    #[arg(long, global = true, value_name = "ARN")]
    pub role_to_assume: Option<String>,

    /// AWS region. [default: the runner's AWS_REGION, then AWS_DEFAULT_REGION, then eu-west-2]
    /// [env: ECS_POC_AWS_REGION, input: aws-region]
    #[arg(long, global = true, value_name = "REGION")]
    pub aws_region: Option<String>,

    /// STS session name; derived from the repository and run when unset.
    /// [env: ECS_POC_ROLE_SESSION_NAME, input: role-session-name]
    #[arg(long, global = true, value_name = "NAME")]
    pub role_session_name: Option<String>,

    /// Lifetime of the assumed role's credentials, 900-43200. [default: 3600]
    /// [env: ECS_POC_ROLE_DURATION_SECONDS, input: role-duration-seconds]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub role_duration_seconds: Option<u32>,

    /// Token for pull request comments and state; prefer the environment (GITHUB_TOKEN) to a
    /// flag, which other processes can read. [env: ECS_POC_GITHUB_TOKEN, GITHUB_TOKEN, input: github-token]
    #[arg(long, global = true, value_name = "TOKEN", hide_env_values = true)]
    pub github_token: Option<String>,

    /// S3 bucket holding the terraform state (made by terraform/bootstrap).
    /// [env: ECS_POC_STATE_BUCKET, input: state-bucket]
    #[arg(long, global = true, value_name = "BUCKET")]
    pub state_bucket: Option<String>,

    /// Preview stack: `main` or `pr-<N>`; follows the event when unset. [env: ECS_POC_STACK, input: stack]
    #[arg(long, global = true, value_name = "STACK")]
    pub stack: Option<String>,

    /// Pull request number (destroy from workflow_dispatch, or by hand).
    /// [env: ECS_POC_PULL_REQUEST, input: pull-request]
    #[arg(long, global = true, value_name = "N")]
    pub pull_request: Option<u64>,

    /// `owner/name`; needed outside Actions for comments and sweep. [env: ECS_POC_REPOSITORY, GITHUB_REPOSITORY]
    #[arg(long, global = true, value_name = "OWNER/NAME")]
    pub repository: Option<String>,

    /// Project config file. [default: ecs-poc.yml] [env: ECS_POC_CONFIG, input: config]
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// `terraform`, `tofu`, or a path. [default: terraform] [env: ECS_POC_TERRAFORM_BINARY, input: terraform-binary]
    #[arg(long, global = true, value_name = "BIN")]
    pub terraform_binary: Option<String>,

    /// Seconds to wait for the rollout before failing. [default: 900]
    /// [env: ECS_POC_WAIT_TIMEOUT, input: wait-timeout]
    #[arg(long, global = true, value_name = "SECONDS")]
    pub wait_timeout: Option<u64>,

    /// GET <endpoint>/healthz after the rollout and require the deployed version. [default: true]
    /// [env: ECS_POC_SMOKE_CHECK, input: smoke-check]
    #[arg(long, global = true, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub smoke_check: Option<bool>,

    /// Allow destroying the `main` stack. [default: false] [env: ECS_POC_FORCE, input: force]
    #[arg(long, global = true, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub force: Option<bool>,

    /// Show what would happen; change nothing (sweep lists, destroy plans).
    /// [default: false] [env: ECS_POC_DRY_RUN, input: dry-run]
    #[arg(long, global = true, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub dry_run: Option<bool>,

    /// text | json (json: the result on stdout). [default: text] [env: ECS_POC_OUTPUT, input: output]
    #[arg(long, global = true, value_name = "FORMAT")]
    pub output: Option<OutputFormat>,
}

pub const DEFAULT_CONFIG: &str = "ecs-poc.yml";
pub const DEFAULT_REGION: &str = "eu-west-2";
/// The cluster's instances are x86_64 unless `image.platform` says otherwise.
pub const DEFAULT_PLATFORM: &str = "linux/amd64";

/// `ecs-poc.yml`: project settings that rarely change between runs. Every key is optional.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
#[schemars(
    title = "ecs-poc.yml",
    description = "Project settings for ecs-poc. Flags, ECS_POC_* variables and action inputs override these."
)]
pub struct FileConfig {
    /// AWS region of the stacks (default eu-west-2).
    pub aws_region: Option<String>,
    /// S3 bucket holding the terraform state.
    pub state_bucket: Option<String>,
    /// IAM role ARN to assume through GitHub OIDC.
    pub role_to_assume: Option<String>,
    /// Lifetime of the assumed role's credentials in seconds (900-43200).
    pub role_duration_seconds: Option<u32>,
    /// `terraform`, `tofu`, or a path to either.
    pub terraform_binary: Option<String>,
    /// Seconds to wait for a rollout (default 900).
    pub wait_timeout: Option<u64>,
    /// Check `<endpoint>/healthz` after the rollout (default true).
    pub smoke_check: Option<bool>,
    #[serde(default)]
    pub stacks: StacksConfig,
    #[serde(default)]
    pub image: ImageConfig,
    #[serde(default)]
    pub service: ServiceConfig,
    /// Named environments (e.g. staging, production), each with its own account, region, roles
    /// and state bucket. Without it there is one environment, `main`, made of the keys above.
    #[serde(default)]
    #[schemars(extend("propertyNames" = { "pattern": "^[a-z]([a-z0-9]|-[a-z0-9])*$", "maxLength": 20 }))]
    pub environments: BTreeMap<String, EnvironmentConfig>,
}

/// One environment's settings; each key overrides the top-level key of the same name, and a
/// flag, `ECS_POC_*` variable or action input overrides both.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct EnvironmentConfig {
    /// AWS region of this environment's stacks.
    pub aws_region: Option<String>,
    /// IAM role ARN to assume through GitHub OIDC for the default branch and promotions into
    /// this environment.
    pub role_to_assume: Option<String>,
    /// IAM role ARN to assume for pull requests' preview stacks (default: role-to-assume).
    pub preview_role_to_assume: Option<String>,
    /// S3 bucket holding this environment's terraform state.
    pub state_bucket: Option<String>,
    /// Pull requests deploy their previews here (at most one environment; default false).
    #[serde(default)]
    pub previews: bool,
    /// The only environment whose images `promote` may bring here; a run that names no
    /// environment never picks one that has this key.
    pub promote_from: Option<String>,
    /// Read-only role in this environment's account that `promote` reads the running image
    /// through when this environment is the source (default: role-to-assume).
    pub promote_source_role: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StacksConfig {
    /// Directory of the shared stack (default terraform/stacks/shared).
    pub shared: Option<PathBuf>,
    /// Directory of the per-pull-request stack (default terraform/stacks/preview).
    pub preview: Option<PathBuf>,
    /// Extra `-var` values for the preview stack.
    #[serde(default)]
    pub preview_vars: BTreeMap<String, String>,
    /// Extra `-var` values for the shared stack.
    #[serde(default)]
    pub shared_vars: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ImageConfig {
    /// ECR repository of the default branch's (production) images (default `ecs-poc-<environment>`, i.e. ecs-poc-main without `environments:`: the shared stack's `<name>-<environment>` with its defaults).
    pub repository: Option<String>,
    /// ECR repository of pull-request images (default `<repository>-previews`, the shared stack's preview repository).
    pub preview_repository: Option<String>,
    /// Docker build context (default .).
    pub context: Option<PathBuf>,
    /// Dockerfile (default <context>/Dockerfile).
    pub dockerfile: Option<PathBuf>,
    /// Extra `--build-arg` values.
    #[serde(default)]
    pub build_args: BTreeMap<String, String>,
    /// Platform the image is built for: the cluster instances' architecture, whatever the
    /// runner's (default linux/amd64; linux/arm64 for Graviton instances).
    pub platform: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema, PartialEq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServiceConfig {
    /// Tasks to run before autoscaling takes over (default 2).
    #[schemars(range(min = 0))]
    pub desired_count: Option<u32>,
    /// Autoscaling lower bound.
    pub min_count: Option<u32>,
    /// Autoscaling upper bound.
    pub max_count: Option<u32>,
    /// Task CPU units (256 = 0.25 vCPU).
    pub cpu: Option<u32>,
    /// Task memory in MiB.
    pub memory: Option<u32>,
    /// Port the container listens on (default 8000).
    #[schemars(range(min = 1, max = 65535))]
    pub container_port: Option<u16>,
    /// Health check path (default /healthz).
    pub health_check_path: Option<String>,
}

impl FileConfig {
    /// Parses the file's text; errors name the file, line and column.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        if text.trim().is_empty() {
            return Ok(Self::default());
        }
        let config: Self = serde_yaml_ng::from_str(text).map_err(|e| {
            let at = e
                .location()
                .map(|l| format!(":{}:{}", l.line(), l.column()))
                .unwrap_or_default();
            Error::config(format!("{}{at}: {e}", path.display())).with_hint(
                "see docs/cli.md or schema/ecs-poc.schema.json for the keys ecs-poc.yml accepts",
            )
        })?;
        config.validate_environments(text, path)?;
        Ok(config)
    }

    /// Names, `promote-from` references and the one previews environment; errors point at the
    /// key's line and column.
    fn validate_environments(&self, text: &str, path: &Path) -> Result<()> {
        let at = |keys: &[&str]| match locate(text, keys) {
            Some((line, column)) => format!("{}:{line}:{column}", path.display()),
            None => path.display().to_string(),
        };
        let known = || self.environment_names().join(", ");
        for (name, env) in &self.environments {
            if !is_environment_name(name) {
                return Err(Error::config(format!(
                    "{}: environments: `{name}` is not a valid environment name",
                    at(&["environments", name])
                ))
                .with_hint(
                    "use 1-20 lower-case letters, digits or single inner hyphens, starting with a letter (e.g. staging)",
                ));
            }
            if let Some(from) = &env.promote_from {
                if from == name {
                    return Err(Error::config(format!(
                        "{}: environments.{name}.promote-from names `{name}` itself",
                        at(&["environments", name, "promote-from"])
                    ))
                    .with_hint("promote-from names the environment whose images are promoted here, e.g. staging"));
                }
                if !self.environments.contains_key(from) {
                    return Err(Error::config(format!(
                        "{}: environments.{name}.promote-from: no environment `{from}` (known: {})",
                        at(&["environments", name, "promote-from"]),
                        known()
                    ))
                    .with_hint("promote-from must name another entry of environments:"));
                }
            }
            for (key, value) in [
                ("role-to-assume", &env.role_to_assume),
                ("preview-role-to-assume", &env.preview_role_to_assume),
                ("promote-source-role", &env.promote_source_role),
            ] {
                if let Some(role) = value
                    && !is_role_arn(role)
                {
                    return Err(Error::config(format!(
                        "{}: environments.{name}.{key} `{role}` is not an IAM role ARN",
                        at(&["environments", name, key])
                    ))
                    .with_hint(
                        "use the full ARN, e.g. arn:aws:iam::123456789012:role/ecs-poc-staging-deploy-shared",
                    ));
                }
            }
        }
        let previews: Vec<&str> = self
            .environments
            .iter()
            .filter(|(_, e)| e.previews)
            .map(|(n, _)| n.as_str())
            .collect();
        if let [_, second, ..] = previews.as_slice() {
            return Err(Error::config(format!(
                "{}: environments: {} all have `previews: true`",
                at(&["environments", second, "previews"]),
                previews.join(", ")
            ))
            .with_hint("pull requests deploy their previews to one environment: set previews: true on only one"));
        }
        Ok(())
    }

    /// The environments' names, sorted.
    pub fn environment_names(&self) -> Vec<&str> {
        self.environments.keys().map(String::as_str).collect()
    }
}

/// `^[a-z][a-z0-9-]{0,19}$` without a trailing or doubled hyphen (as the stacks' `environment`
/// variable requires): an environment name fits in resource and role names.
pub fn is_environment_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && name.len() <= 20
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// The 1-based line and column of a nested key in block-style YAML (`environments` ->
/// `staging` -> `promote-from`), for errors about values serde accepted but the rules do not.
/// `None` when the text is written in a way this does not follow (flow style, anchors).
fn locate(text: &str, keys: &[&str]) -> Option<(usize, usize)> {
    let mut parent_indent: Option<usize> = None;
    let mut found = None;
    let mut lines = text.lines().enumerate();
    for key in keys {
        found = None;
        for (i, line) in lines.by_ref() {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indent = line.len() - trimmed.len();
            if parent_indent.is_some_and(|p| indent <= p) {
                return None;
            }
            let unquoted = trimmed.trim_start_matches(['"', '\'']);
            if let Some(rest) = unquoted.strip_prefix(key)
                && rest
                    .trim_start_matches(['"', '\''])
                    .trim_start()
                    .starts_with(':')
            {
                found = Some((i + 1, indent + 1));
                parent_indent = Some(indent);
                break;
            }
        }
        found?;
    }
    found
}

impl FileConfig {
    /// Loads the file; a missing file is fine unless the user named it explicitly.
    pub fn load(path: &Path, explicit: bool) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => Ok(Self::default()),
            Err(e) => Err(Error::config(format!(
                "cannot read config file {}: {e}",
                path.display()
            ))
            .with_hint(
                "pass --config with an existing file, or remove the option to use the defaults",
            )),
        }
    }
}

/// The JSON schema of `ecs-poc.yml`, as committed under `schema/`.
pub fn schema_json() -> String {
    let schema = schemars::schema_for!(FileConfig);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Everything the pipeline needs, resolved and validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub command: Option<Command>,
    /// The environment this run acts on: a key of `environments:`, or `main` without them.
    pub environment: String,
    /// True when `ecs-poc.yml` names its environments; false for the implicit `main`.
    pub named_environment: bool,
    /// Every environment of `ecs-poc.yml` (empty without `environments:`).
    pub environments: BTreeMap<String, EnvironmentConfig>,
    /// The role for pull requests' preview stacks, when the environment names one and no flag
    /// or input chose `role-to-assume`.
    pub preview_role_to_assume: Option<String>,
    /// promote: the source environment (`--from`).
    pub promote_from: Option<String>,
    /// The file's top-level `aws-region`, `role-to-assume` and `state-bucket`: what an
    /// environment that leaves one out falls back to (for reading another environment).
    pub top_level: EnvironmentConfig,
    pub role_to_assume: Option<String>,
    pub aws_region: String,
    pub role_session_name: Option<String>,
    pub role_duration_seconds: u32,
    pub github_token: Option<SecretString>,
    pub state_bucket: Option<String>,
    pub stack: Option<StackName>,
    pub pull_request: Option<u64>,
    pub repository: Option<String>,
    pub config_path: PathBuf,
    pub terraform_binary: String,
    pub wait_timeout: Duration,
    pub smoke_check: bool,
    pub force: bool,
    pub dry_run: bool,
    pub output: OutputFormat,
    pub shared_dir: PathBuf,
    pub preview_dir: PathBuf,
    pub shared_vars: BTreeMap<String, String>,
    pub preview_vars: BTreeMap<String, String>,
    pub image_repository: String,
    pub image_preview_repository: String,
    pub context: PathBuf,
    pub dockerfile: PathBuf,
    pub build_args: BTreeMap<String, String>,
    /// `docker build --platform`, e.g. linux/amd64.
    pub image_platform: String,
    pub service: ServiceConfig,
}

/// Looks a setting up in the environment: `ECS_POC_<NAME>` first, then the action input
/// `INPUT_<NAME>` (upper case, hyphens kept). Empty values count as unset, because an
/// action passes every input, given or not.
pub fn env_value(env: &dyn Env, name: &str) -> Option<String> {
    let ours = format!("ECS_POC_{}", name.to_uppercase().replace('-', "_"));
    let input = format!("INPUT_{}", name.to_uppercase().replace(' ', "_"));
    [ours, input]
        .iter()
        .filter_map(|k| env.var(k))
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
}

/// `linux/<arch>` or `linux/<arch>/<variant>`, as `docker build --platform` takes it; ECS
/// on EC2 runs Linux containers.
fn is_linux_platform(p: &str) -> bool {
    let parts: Vec<&str> = p.split('/').collect();
    (2..=3).contains(&parts.len())
        && parts[0] == "linux"
        && parts[1..].iter().all(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
}

/// The region the runner's environment names: `AWS_REGION`, then `AWS_DEFAULT_REGION`.
fn runner_region(env: &dyn Env) -> Option<String> {
    ["AWS_REGION", "AWS_DEFAULT_REGION"]
        .iter()
        .filter_map(|k| env.var(k))
        .map(|v| v.trim().to_string())
        .find(|v| !v.is_empty())
}

fn parsed<T: std::str::FromStr>(env: &dyn Env, name: &str, what: &str) -> Result<Option<T>> {
    match env_value(env, name) {
        None => Ok(None),
        Some(v) => v.parse::<T>().map(Some).map_err(|_| {
            Error::config(format!("{name} = `{v}` is not {what}")).with_hint(format!(
                "set ECS_POC_{} / the `{name}` input to {what}",
                name.to_uppercase().replace('-', "_")
            ))
        }),
    }
}

/// What decides the environment of a run when ecs-poc.yml names several.
#[derive(Debug, Default)]
struct Selection {
    /// `--environment`, `ECS_POC_ENVIRONMENT`, input `environment`.
    explicit: Option<String>,
    /// promote's `--to`.
    promote_to: Option<String>,
    /// The run deploys or tears down a pull request's preview.
    preview: bool,
}

/// The environment a run acts on, and its settings (`None`: the implicit `main`).
fn select_environment<'f>(
    file: &'f FileConfig,
    wanted: &Selection,
) -> Result<(String, Option<&'f EnvironmentConfig>)> {
    let known = || file.environment_names().join(", ");
    if file.environments.is_empty() {
        return match wanted.explicit.as_deref().or(wanted.promote_to.as_deref()) {
            None | Some("main") => Ok(("main".into(), None)),
            Some(other) => Err(Error::config(format!(
                "unknown environment `{other}`: ecs-poc.yml has no `environments:`, so the only environment is `main`"
            ))
            .with_hint("add an `environments:` map to ecs-poc.yml, or drop --environment")),
        };
    }
    if let (Some(e), Some(to)) = (&wanted.explicit, &wanted.promote_to)
        && e != to
    {
        return Err(Error::config(format!(
            "--environment {e} and --to {to} disagree: promote acts on the --to environment"
        ))
        .with_hint(
            "drop --environment (and ECS_POC_ENVIRONMENT / the environment input) for promote",
        ));
    }
    if let Some(name) = wanted.promote_to.as_ref().or(wanted.explicit.as_ref()) {
        return match file.environments.get_key_value(name) {
            Some((name, cfg)) => Ok((name.clone(), Some(cfg))),
            None => Err(Error::config(format!(
                "unknown environment `{name}` (known: {})",
                known()
            ))
            .with_hint("pick one of the environments: in ecs-poc.yml")),
        };
    }
    if wanted.preview {
        return match file.environments.iter().find(|(_, e)| e.previews) {
            Some((name, cfg)) => Ok((name.clone(), Some(cfg))),
            None => Err(Error::config(format!(
                "a pull request's preview needs an environment with `previews: true`, and none of {} has it",
                known()
            ))
            .with_hint("set `previews: true` on the environment pull requests deploy to, or pass --environment")),
        };
    }
    let built: Vec<(&String, &EnvironmentConfig)> = file
        .environments
        .iter()
        .filter(|(_, e)| e.promote_from.is_none())
        .collect();
    match built.as_slice() {
        [(name, cfg)] => Ok(((*name).clone(), Some(*cfg))),
        [] => Err(Error::config(format!(
            "every environment ({}) has promote-from: none is deployed from a build",
            known()
        ))
        .with_hint("leave promote-from unset on the environment the default branch deploys to")),
        several => Err(Error::config(format!(
            "several environments are deployed from a build ({}): which one?",
            several
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
        .with_hint("pass --environment NAME (ECS_POC_ENVIRONMENT, input environment)")),
    }
}

fn parse_bool(env: &dyn Env, name: &str) -> Result<Option<bool>> {
    match env_value(env, name) {
        None => Ok(None),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(Some(true)),
            "false" | "0" | "no" | "off" => Ok(Some(false)),
            _ => Err(Error::config(format!("{name} = `{v}` is not a boolean"))
                .with_hint(format!("use true or false for `{name}`"))),
        },
    }
}

impl Settings {
    /// Merges flag > environment/input > file > default and validates the result.
    pub fn resolve(
        opts: &Options,
        env: &dyn Env,
        file: &FileConfig,
        config_path: PathBuf,
    ) -> Result<Self> {
        let string = |flag: &Option<String>, name: &str, file: &Option<String>| -> Option<String> {
            flag.clone()
                .filter(|s| !s.is_empty())
                .or_else(|| env_value(env, name))
                .or_else(|| file.clone())
        };
        let command = match opts.command {
            Some(c) => Some(c),
            None => parsed::<Command>(
                env,
                "command",
                "one of deploy, plan, destroy, sweep, promote",
            )?,
        };
        let promote_from = string(&opts.promote_from, "from", &None);
        let promote_to = string(&opts.promote_to, "to", &None);
        let pull_request = match opts.pull_request {
            Some(v) => Some(v),
            None => parsed::<u64>(env, "pull-request", "a pull request number")?,
        };
        let stack = string(&opts.stack, "stack", &None)
            .map(|s| StackName::parse(&s))
            .transpose()?;
        let wanted = Selection {
            explicit: string(&opts.environment, "environment", &None),
            promote_to: if command == Some(Command::Promote) {
                promote_to.clone()
            } else {
                None
            },
            preview: match &stack {
                Some(s) => !s.is_main(),
                None => {
                    pull_request.is_some()
                        || env
                            .var("GITHUB_EVENT_NAME")
                            .is_some_and(|e| e.starts_with("pull_request"))
                }
            },
        };
        if command == Some(Command::Promote)
            && wanted.promote_to.is_none()
            && wanted.explicit.is_none()
            && !file.environments.is_empty()
        {
            return Err(Error::config(
                "promote needs --to (the environment that receives the image)",
            )
            .with_hint("e.g. `ecs-poc promote --from staging --to production` (inputs from/to)"));
        }
        let (environment, selected) = select_environment(file, &wanted)?;
        let env_cfg = selected.cloned().unwrap_or_default();
        let named_environment = selected.is_some();
        // An environment's keys stand in for the top-level ones; flags and inputs still win.
        let region_file = env_cfg.aws_region.clone().or(file.aws_region.clone());
        let role_file = env_cfg
            .role_to_assume
            .clone()
            .or(file.role_to_assume.clone());
        let bucket_file = env_cfg.state_bucket.clone().or(file.state_bucket.clone());
        let role_given = opts.role_to_assume.as_ref().is_some_and(|r| !r.is_empty())
            || env_value(env, "role-to-assume").is_some();
        let preview_role_to_assume = if role_given {
            None
        } else {
            env_cfg.preview_role_to_assume.clone()
        };
        // A runner's own region (`AWS_REGION`, then `AWS_DEFAULT_REGION`, as the AWS SDKs read
        // them) comes after everything the user set for ecs-poc, and before the default.
        let aws_region = string(&opts.aws_region, "aws-region", &region_file)
            .or_else(|| runner_region(env))
            .unwrap_or_else(|| DEFAULT_REGION.into());
        let role_duration_seconds = match opts.role_duration_seconds {
            Some(v) => v,
            None => parsed::<u32>(env, "role-duration-seconds", "a number of seconds")?
                .or(file.role_duration_seconds)
                .unwrap_or(3600),
        };
        let wait_timeout = match opts.wait_timeout {
            Some(v) => v,
            None => parsed::<u64>(env, "wait-timeout", "a number of seconds")?
                .or(file.wait_timeout)
                .unwrap_or(900),
        };
        let smoke_check = match opts.smoke_check {
            Some(v) => v,
            None => parse_bool(env, "smoke-check")?
                .or(file.smoke_check)
                .unwrap_or(true),
        };
        let force = match opts.force {
            Some(v) => v,
            None => parse_bool(env, "force")?.unwrap_or(false),
        };
        let dry_run = match opts.dry_run {
            Some(v) => v,
            None => parse_bool(env, "dry-run")?.unwrap_or(false),
        };
        let output = match opts.output {
            Some(v) => v,
            None => parsed::<OutputFormat>(env, "output", "text or json")?.unwrap_or_default(),
        };
        let github_token = string(&opts.github_token, "github-token", &None)
            .or_else(|| env.var("GITHUB_TOKEN").filter(|t| !t.is_empty()))
            .map(SecretString::from);
        let repository =
            string(&opts.repository, "repository", &None).or_else(|| env.var("GITHUB_REPOSITORY"));
        let image_repository = file
            .image
            .repository
            .clone()
            .unwrap_or_else(|| format!("ecs-poc-{environment}"));
        let context = file
            .image
            .context
            .clone()
            .unwrap_or_else(|| PathBuf::from("."));
        let dockerfile = file
            .image
            .dockerfile
            .clone()
            .unwrap_or_else(|| context.join("Dockerfile"));

        let settings = Self {
            command,
            environment,
            named_environment,
            environments: file.environments.clone(),
            preview_role_to_assume,
            promote_from,
            top_level: EnvironmentConfig {
                aws_region: file.aws_region.clone(),
                role_to_assume: file.role_to_assume.clone(),
                state_bucket: file.state_bucket.clone(),
                ..EnvironmentConfig::default()
            },
            role_to_assume: string(&opts.role_to_assume, "role-to-assume", &role_file),
            aws_region,
            role_session_name: string(&opts.role_session_name, "role-session-name", &None),
            role_duration_seconds,
            github_token,
            state_bucket: string(&opts.state_bucket, "state-bucket", &bucket_file),
            stack,
            pull_request,
            repository,
            config_path,
            terraform_binary: string(
                &opts.terraform_binary,
                "terraform-binary",
                &file.terraform_binary,
            )
            .unwrap_or_else(|| "terraform".into()),
            wait_timeout: Duration::from_secs(wait_timeout),
            smoke_check,
            force,
            dry_run,
            output,
            shared_dir: file
                .stacks
                .shared
                .clone()
                .unwrap_or_else(|| "terraform/stacks/shared".into()),
            preview_dir: file
                .stacks
                .preview
                .clone()
                .unwrap_or_else(|| "terraform/stacks/preview".into()),
            shared_vars: file.stacks.shared_vars.clone(),
            preview_vars: file.stacks.preview_vars.clone(),
            image_repository: image_repository.clone(),
            image_preview_repository: file
                .image
                .preview_repository
                .clone()
                .unwrap_or_else(|| format!("{image_repository}-previews")),
            context,
            dockerfile,
            build_args: file.image.build_args.clone(),
            image_platform: file
                .image
                .platform
                .clone()
                .unwrap_or_else(|| DEFAULT_PLATFORM.into()),
            service: file.service.clone(),
        };
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<()> {
        let region_ok = {
            let parts: Vec<&str> = self.aws_region.split('-').collect();
            parts.len() >= 3
                && parts.iter().all(|p| {
                    !p.is_empty()
                        && p.chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
                })
        };
        if !region_ok {
            return Err(Error::config(format!(
                "aws-region `{}` is not an AWS region",
                self.aws_region
            ))
            .with_hint("use a region code such as eu-west-2 or us-east-1"));
        }
        if !(900..=43200).contains(&self.role_duration_seconds) {
            return Err(Error::config(format!(
                "role-duration-seconds {} is outside 900-43200",
                self.role_duration_seconds
            ))
            .with_hint(
                "STS accepts 900 (15 min) up to the role's maximum session duration, at most 43200",
            ));
        }
        if self.wait_timeout.is_zero() {
            return Err(
                Error::config("wait-timeout must be at least 1 second").with_hint(
                    "the default is 900 seconds; a rollout on EC2 usually needs a few minutes",
                ),
            );
        }
        if let Some(role) = &self.role_to_assume
            && !is_role_arn(role)
        {
            return Err(
                Error::config(format!("role-to-assume `{role}` is not an IAM role ARN")).with_hint(
                    "use the full ARN, e.g. arn:aws:iam::123456789012:role/ecs-poc-deploy",
                ),
            );
        }
        if let Some(repo) = &self.repository
            && repo.split('/').filter(|p| !p.is_empty()).count() != 2
        {
            return Err(Error::config(format!(
                "repository `{repo}` is not of the form owner/name"
            )));
        }
        if !is_linux_platform(&self.image_platform) {
            return Err(Error::config(format!(
                "image.platform `{}` is not a Linux platform",
                self.image_platform
            ))
            .with_hint("use the cluster instances' platform: linux/amd64 (x86_64) or linux/arm64 (Graviton)"));
        }
        if self.named_environment {
            let name = self
                .shared_vars
                .get("name")
                .map_or("ecs-poc", String::as_str);
            let base = format!("{name}-{}", self.environment);
            if base.len() > 21 {
                return Err(Error::config(format!(
                    "environment `{}` makes the stacks' names `{base}`, {} characters; at most 21 fit",
                    self.environment,
                    base.len()
                ))
                .with_hint("load balancer and target group names start with <name>-<environment> and AWS allows 32 characters: shorten the environment's name"));
            }
        }
        if self.pull_request == Some(0) {
            return Err(Error::config("pull-request must be a positive number"));
        }
        if self.image_preview_repository == self.image_repository {
            return Err(Error::config(format!(
                "image.preview-repository and image.repository are both `{}`",
                self.image_repository
            ))
            .with_hint(
                "pull requests push to their own repository so production never runs their images; \
                 leave image.preview-repository unset for `<repository>-previews`",
            ));
        }
        Ok(())
    }

    /// This run's environment as `ecs-poc.yml` names it; `None` for the implicit `main`.
    pub fn selected_environment(&self) -> Option<&EnvironmentConfig> {
        self.environments.get(&self.environment)
    }

    /// The `main` service of an environment with `promote-from` only ever runs images that
    /// already ran in its source: a deploy would build and push a new one, so it is refused
    /// with the command to run instead.
    pub fn refuse_builds_into_promoted_environment(&self) -> Result<()> {
        let env = &self.environment;
        match self
            .selected_environment()
            .and_then(|e| e.promote_from.as_deref())
        {
            Some(source) => Err(Error::config(format!(
                "{env} receives images only by promotion from {source}: a deploy would build a new image"
            ))
            .with_hint(format!(
                "run `ecs-poc promote --from {source} --to {env}` (inputs command: promote, from, to), or deploy to {source}"
            ))),
            None => Ok(()),
        }
    }

    /// promote: the source environment's name and settings, after the rule that the target
    /// (this run's environment) accepts images only from its `promote-from`.
    pub fn promotion_source(&self) -> Result<(String, EnvironmentConfig)> {
        let to = &self.environment;
        let Some(from) = self.promote_from.clone() else {
            return Err(
                Error::config("promote needs --from (the source environment)").with_hint(
                    "e.g. `ecs-poc promote --from staging --to production` (inputs from/to)",
                ),
            );
        };
        if !self.named_environment {
            return Err(Error::config(
                "promote needs environments: in ecs-poc.yml, with promote-from on the target",
            )
            .with_hint("add staging and production under environments:, production with `promote-from: staging`"));
        }
        let Some(source) = self.environments.get(&from) else {
            return Err(Error::config(format!(
                "unknown environment `{from}` (known: {})",
                self.environments
                    .keys()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .with_hint("pick one of the environments: in ecs-poc.yml"));
        };
        match self
            .selected_environment()
            .and_then(|t| t.promote_from.as_deref())
        {
            Some(accepted) if accepted == from => Ok((from, source.clone())),
            Some(accepted) => Err(Error::config(format!(
                "{to} only accepts images from {accepted}, not from {from}"
            ))
            .with_hint(format!("promote into {to} with --from {accepted}"))),
            None => Err(Error::config(format!(
                "{to} has no promote-from: it is deployed from builds, not promoted into"
            ))
            .with_hint(format!(
                "set `promote-from: {from}` on environments.{to} in ecs-poc.yml to allow it"
            ))),
        }
    }

    /// The settings of another environment of this file, for reading it (promote's source):
    /// its region and its `promote-source-role`, else its `role-to-assume`, each falling back to
    /// the file's top-level key (flags and inputs name the run's own environment, not this one).
    pub fn source_settings(&self, name: &str, source: &EnvironmentConfig) -> Settings {
        let mut s = self.clone();
        s.environment = name.to_string();
        s.role_to_assume = source
            .promote_source_role
            .clone()
            .or_else(|| source.role_to_assume.clone())
            .or_else(|| self.top_level.role_to_assume.clone());
        s.preview_role_to_assume = None;
        if let Some(region) = source
            .aws_region
            .as_ref()
            .or(self.top_level.aws_region.as_ref())
        {
            s.aws_region = region.clone();
        }
        s.state_bucket = source
            .state_bucket
            .clone()
            .or_else(|| self.top_level.state_bucket.clone());
        s
    }

    /// The ECR repository a stack's images go to: production's for `main`, the preview
    /// repository for pull requests.
    pub fn image_repository_for(&self, stack: &StackName) -> &str {
        if stack.is_main() {
            &self.image_repository
        } else {
            &self.image_preview_repository
        }
    }
}

fn is_role_arn(s: &str) -> bool {
    // arn:<partition>:iam::<12 digits>:role/<path/name>
    let parts: Vec<&str> = s.splitn(6, ':').collect();
    parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[4].len() == 12
        && parts[4].chars().all(|c| c.is_ascii_digit())
        && parts[5]
            .strip_prefix("role/")
            .is_some_and(|n| !n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_arns() {
        assert!(is_role_arn("arn:aws:iam::123456789012:role/deploy"));
        assert!(is_role_arn(
            "arn:aws-us-gov:iam::123456789012:role/path/deploy"
        ));
        assert!(!is_role_arn("arn:aws:iam::123:role/deploy"));
        assert!(!is_role_arn("deploy"));
        assert!(!is_role_arn("arn:aws:iam::123456789012:user/deploy"));
    }

    fn pr(number: u64) -> StackName {
        StackName::for_pull_request(number).expect("a positive number")
    }

    fn settings_from(yaml: &str) -> Result<Settings> {
        let file = FileConfig::parse(yaml, Path::new("ecs-poc.yml"))?;
        Settings::resolve(
            &Options::default(),
            &BTreeMap::<String, String>::new(),
            &file,
            "ecs-poc.yml".into(),
        )
    }

    #[test]
    fn pull_requests_push_to_the_preview_repository_and_main_to_production() {
        let defaults = settings_from("").expect("defaults resolve");
        assert_eq!(
            defaults.image_repository_for(&StackName::main()),
            "ecs-poc-main"
        );
        assert_eq!(
            defaults.image_repository_for(&pr(12)),
            "ecs-poc-main-previews"
        );

        let derived = settings_from("image:\n  repository: shop-prod\n").expect("resolves");
        assert_eq!(derived.image_repository_for(&pr(3)), "shop-prod-previews");

        let explicit =
            settings_from("image:\n  repository: shop-prod\n  preview-repository: shop-pr\n")
                .expect("resolves");
        assert_eq!(
            explicit.image_repository_for(&StackName::main()),
            "shop-prod"
        );
        assert_eq!(explicit.image_repository_for(&pr(3)), "shop-pr");
    }

    #[test]
    fn one_repository_for_production_and_previews_is_refused() {
        let err = settings_from("image:\n  repository: shop\n  preview-repository: shop\n")
            .expect_err("production and previews must not share a repository");
        let text = format!("{err:#}");
        assert!(text.contains("image.preview-repository"), "{text}");
    }
}
