//! From inputs to a run: the settings, the event, the command an event implies, the stack it
//! works on, and the terraform variables of the shared and the preview stack. Errors here are
//! configuration errors: nothing outside has been touched yet.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret;

use super::Run;
use super::state::{SHARED_STATE_KEY, preview_state_key};
use crate::config::{self, Env, FileConfig, Options, Settings};
use crate::credentials::AwsSession;
use crate::domain::{Command, StackName};
use crate::github::{Context, Event, GitHubApi, Workflow};
use crate::terraform::{Stack, Terraform};
use crate::{Error, Result};

/// Resolves the settings, the event and the command. `command` is the subcommand, when one was
/// given; it must agree with `--command`.
pub fn prepare<'a>(command: Option<Command>, opts: &Options, env: &'a dyn Env) -> Result<Run<'a>> {
    let mut opts = opts.clone();
    if let Some(c) = command {
        match opts.command {
            Some(other) if other != c => {
                return Err(Error::config(format!(
                    "the subcommand `{c}` and --command {other} disagree"
                )));
            }
            _ => opts.command = Some(c),
        }
    }
    let explicit = opts
        .config
        .clone()
        .or_else(|| config::env_value(env, "config").map(PathBuf::from));
    let config_path = explicit
        .clone()
        .unwrap_or_else(|| PathBuf::from(config::DEFAULT_CONFIG));
    let file = FileConfig::load(&config_path, explicit.is_some())?;
    let settings = Settings::resolve(&opts, env, &file, config_path)?;
    let ctx = Context::from_env(env)?;
    let workflow = Workflow::from_env(env);
    if let Some(token) = &settings.github_token {
        workflow.add_mask(token.expose_secret());
    }
    let command = match settings.command {
        Some(c) => c,
        None => default_command(&ctx, settings.pull_request)?,
    };
    // A pull request's preview builds into its own repository; only the `main` service of an
    // environment that takes promotions must never run a fresh build.
    if command == Command::Deploy && resolve_stack(&settings, &ctx).is_ok_and(|s| s.is_main()) {
        settings.refuse_builds_into_promoted_environment()?;
    }
    let github = github_client(&settings, &ctx, &workflow);
    Ok(Run {
        settings,
        ctx,
        workflow,
        env,
        command,
        github,
        deployment: Default::default(),
    })
}

/// The GitHub client, when there is a token and a repository; a client that cannot be built
/// is a warning (the run still deploys, it only cannot comment).
fn github_client(settings: &Settings, ctx: &Context, workflow: &Workflow) -> Option<GitHubApi> {
    let token = settings.github_token.as_ref()?;
    let repo = repository(settings, ctx)?;
    match GitHubApi::new(&ctx.api_url, token, &repo) {
        Ok(api) => Some(api),
        Err(e) => {
            workflow.warning(&format!("GitHub client: {e}"));
            None
        }
    }
}

fn repository(settings: &Settings, ctx: &Context) -> Option<String> {
    settings
        .repository
        .clone()
        .or_else(|| ctx.repository.clone())
}

/// The command an event implies when none is given.
pub fn default_command(ctx: &Context, pull_request: Option<u64>) -> Result<Command> {
    match &ctx.event {
        Event::PullRequest { action, .. } if action == "closed" => Ok(Command::Destroy),
        Event::PullRequest { .. } | Event::Push { .. } => Ok(Command::Deploy),
        Event::WorkflowDispatch if pull_request.is_some() => Ok(Command::Destroy),
        Event::Schedule => Ok(Command::Sweep),
        Event::WorkflowDispatch => Err(Error::config("workflow_dispatch without a pull-request input: nothing to do")
            .with_hint("pass the `pull-request` input to tear down its stack, or `command`")),
        Event::None => Err(Error::config("no command given and not in a GitHub Actions run")
            .with_hint("run `ecs-poc deploy`, `ecs-poc plan`, `ecs-poc destroy` or `ecs-poc sweep`; see --help")),
        Event::Other(name) => Err(Error::config(format!("no default command for the `{name}` event"))
            .with_hint("set the `command` input (deploy, plan, destroy, sweep or promote)")),
    }
}

/// The preview stack a command works on: flag/input `stack`, then `pull-request`, then the event.
pub fn resolve_stack(settings: &Settings, ctx: &Context) -> Result<StackName> {
    if let Some(s) = &settings.stack {
        return Ok(s.clone());
    }
    let pull_request = |n: u64| {
        StackName::for_pull_request(n)
            .ok_or_else(|| Error::config("pull-request must be a positive number"))
    };
    if let Some(n) = settings.pull_request {
        return pull_request(n);
    }
    match &ctx.event {
        Event::PullRequest { number, .. } => pull_request(*number),
        Event::Push { on_default_branch: true, .. } => Ok(StackName::main()),
        Event::Push { git_ref, .. } => Err(Error::config(format!(
            "a push to {git_ref} has no stack: only the default branch deploys `main`"
        ))
        .with_hint("run on pull_request events for previews, or restrict the push trigger to the default branch")),
        _ => Err(Error::config("no stack: give --stack (main or pr-<N>) or --pull-request")
            .with_hint("in Actions the stack follows the pull_request or push event")),
    }
}

impl Run<'_> {
    pub(super) fn stack(&self) -> Result<StackName> {
        resolve_stack(&self.settings, &self.ctx)
    }

    pub(super) fn bucket(&self) -> Result<String> {
        self.settings.state_bucket.clone().ok_or_else(|| {
            Error::config("no state-bucket: the S3 bucket holding the terraform state is required")
                .with_hint("pass --state-bucket, ECS_POC_STATE_BUCKET, the `state-bucket` input, or `state-bucket:` in ecs-poc.yml")
        })
    }

    /// The commit deploy, the image's `APP_VERSION`, the comment and destroy all name: for a
    /// pull request its head commit (see [`Context::commit`]), else `GITHUB_SHA`, else the
    /// checkout's `HEAD`.
    pub(super) fn commit(&self) -> String {
        self.ctx
            .commit()
            .or_else(|| git_head(Path::new(".")))
            .unwrap_or_else(|| "unknown".into())
    }

    /// Warns when the build context is a checkout of another commit than `commit`:
    /// `actions/checkout` checks a pull request's merge commit out unless it is given
    /// `ref: ${{ github.event.pull_request.head.sha }}`, and the image would then be built from
    /// a tree that is not the commit it is labelled with.
    pub(super) fn warn_if_checkout_differs(&self, commit: &str) {
        if self.ctx.pull_request().is_none() {
            return;
        }
        if let Some(head) = git_head(&self.settings.context)
            && head != commit
        {
            self.workflow.warning(&format!(
                "the build context is a checkout of {head}, not the pull request's head {commit}: the image is labelled {commit}; check out `ref: ${{{{ github.event.pull_request.head.sha }}}}` to build what reviewers see"
            ));
        }
    }

    pub(super) fn repository(&self) -> Option<String> {
        repository(&self.settings, &self.ctx)
    }

    pub(super) fn terraform(&self, session: &AwsSession) -> Terraform {
        let mut env = session.child_env.clone();
        env.push(("TF_IN_AUTOMATION".into(), "true".into()));
        env.push(("CHECKPOINT_DISABLE".into(), "1".into()));
        Terraform::new(self.settings.terraform_binary.clone(), env)
            .with_renewing(session.renewing.clone())
    }

    /// Both stacks' `environment` variable, for a named environment (the implicit `main` keeps
    /// the stacks' default).
    fn environment_var(&self) -> Option<(String, String)> {
        self.settings
            .named_environment
            .then(|| ("environment".to_string(), self.settings.environment.clone()))
    }

    /// The shared stack's `previews` variable: a named environment without `previews: true`
    /// builds no preview cluster, load balancer or repository. The implicit `main` keeps the
    /// stack's default (previews on).
    fn previews_var(&self) -> Option<(String, String)> {
        let s = &self.settings;
        let takes_previews = s.selected_environment().is_some_and(|e| e.previews);
        (s.named_environment && !takes_previews)
            .then(|| ("previews".to_string(), "false".to_string()))
    }

    /// The shared stack: cluster, load balancer, ECR repository; one per repository.
    pub fn shared_stack(&self, bucket: &str) -> Stack {
        let mut vars = BTreeMap::from([("region".to_string(), self.settings.aws_region.clone())]);
        if let Some(r) = self.repository() {
            vars.insert("repository".into(), r);
        }
        vars.extend(self.environment_var());
        vars.extend(self.previews_var());
        vars.extend(self.settings.shared_vars.clone());
        Stack {
            dir: self.settings.shared_dir.clone(),
            backend_bucket: bucket.to_string(),
            backend_key: SHARED_STATE_KEY.into(),
            backend_region: self.settings.aws_region.clone(),
            vars,
        }
    }

    /// A preview stack: the service of `main` or of one pull request.
    pub fn preview_stack(&self, bucket: &str, stack: &StackName) -> Stack {
        let s = &self.settings;
        let mut vars = BTreeMap::from([
            ("region".to_string(), s.aws_region.clone()),
            ("stack_name".to_string(), stack.to_string()),
            ("state_bucket".to_string(), bucket.to_string()),
        ]);
        if let Some(r) = self.repository() {
            vars.insert("repository".into(), r);
        }
        vars.extend(self.environment_var());
        let sv = &s.service;
        for (k, v) in [
            ("desired_count", sv.desired_count.map(|v| v.to_string())),
            ("min_count", sv.min_count.map(|v| v.to_string())),
            ("max_count", sv.max_count.map(|v| v.to_string())),
            ("cpu", sv.cpu.map(|v| v.to_string())),
            ("memory", sv.memory.map(|v| v.to_string())),
            ("container_port", sv.container_port.map(|v| v.to_string())),
            ("health_check_path", sv.health_check_path.clone()),
        ] {
            if let Some(v) = v {
                vars.insert(k.into(), v);
            }
        }
        vars.extend(s.preview_vars.clone());
        Stack {
            dir: s.preview_dir.clone(),
            backend_bucket: bucket.to_string(),
            backend_key: preview_state_key(stack),
            backend_region: s.aws_region.clone(),
            vars,
        }
    }
}

/// The commit checked out in `dir`, if it is a git work tree.
fn git_head(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}
