//! The commands, stage by stage: deploy, plan, destroy, sweep. Each stage is timed, wrapped
//! in a `::group::`, and recorded in the [`Report`]; a failing stage ends the run with its
//! error category's exit code after the comment and the summary have said what happened.

mod ecr_images;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::cli::{Command, Options, SubCommand};
use crate::comment;
use crate::config::{self, Env, FileConfig, Settings};
use crate::credentials::{self, AwsSession};
use crate::ecs::{self, RolloutRequest};
use crate::github::{Context, Event, GitHubApi, Workflow};
use crate::image::{self, ImageRequest};
use crate::report::{PlanRecord, Report, StageStatus, SweepRecord};
use crate::smoke;
use crate::terraform::{Outputs, PlanMode, Stack, Terraform};
use crate::{Error, Result};

pub use ecr_images::{delete_stack_images, stack_tag, tag_for_stack};

/// Where the shared stack keeps its state (contract with terraform/stacks/preview).
pub const SHARED_STATE_KEY: &str = "shared/terraform.tfstate";

pub fn preview_state_key(stack: &str) -> String {
    format!("preview/{stack}.tfstate")
}

/// Everything a command needs, resolved once.
pub struct Run<'a> {
    pub settings: Settings,
    pub ctx: Context,
    pub workflow: Workflow,
    pub env: &'a dyn Env,
    pub command: Command,
}

/// Resolves the settings, the event and the command. Errors here are configuration errors.
pub fn prepare<'a>(sub: Option<&SubCommand>, opts: &Options, env: &'a dyn Env) -> Result<Run<'a>> {
    let mut opts = opts.clone();
    if let Some(c) = sub.and_then(SubCommand::command) {
        match opts.command {
            Some(other) if other != c => {
                return Err(Error::config(format!(
                    "the subcommand `{}` and --command {} disagree",
                    c.as_str(),
                    other.as_str()
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
        use secrecy::ExposeSecret;
        workflow.add_mask(token.expose_secret());
    }
    let command = match settings.command {
        Some(c) => c,
        None => default_command(&ctx, settings.pull_request)?,
    };
    Ok(Run {
        settings,
        ctx,
        workflow,
        env,
        command,
    })
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
            .with_hint("set the `command` input (deploy, plan, destroy or sweep)")),
    }
}

/// The preview stack a command works on: flag/input `stack`, then `pull-request`, then the event.
pub fn resolve_stack(settings: &Settings, ctx: &Context) -> Result<String> {
    if let Some(s) = &settings.stack {
        return Ok(s.clone());
    }
    if let Some(n) = settings.pull_request {
        return Ok(format!("pr-{n}"));
    }
    match &ctx.event {
        Event::PullRequest { number, .. } => Ok(format!("pr-{number}")),
        Event::Push { on_default_branch: true, .. } => Ok("main".into()),
        Event::Push { git_ref, .. } => Err(Error::config(format!(
            "a push to {git_ref} has no stack: only the default branch deploys `main`"
        ))
        .with_hint("run on pull_request events for previews, or restrict the push trigger to the default branch")),
        _ => Err(Error::config("no stack: give --stack (main or pr-<N>) or --pull-request")
            .with_hint("in Actions the stack follows the pull_request or push event")),
    }
}

fn now_utc() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .unwrap_or_default()
}

/// Runs one stage inside a group, records its timing and outcome.
async fn stage<T>(
    report: &mut Report,
    workflow: &Workflow,
    name: &str,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    workflow.group(name);
    let started = Instant::now();
    // A refused AWS call (SDK or terraform) names the action and resource and says where the
    // deploy roles' permissions live.
    let r = fut.await.map_err(Error::explain_refusal);
    workflow.end_group();
    match &r {
        Ok(_) => report.record(name, StageStatus::Ok, started, None),
        Err(e) => {
            report.record(name, StageStatus::Failed, started, Some(e.to_string()));
            report.fail(e, Some(name));
        }
    }
    r
}

impl Run<'_> {
    fn bucket(&self) -> Result<String> {
        self.settings.state_bucket.clone().ok_or_else(|| {
            Error::config("no state-bucket: the S3 bucket holding the terraform state is required")
                .with_hint("pass --state-bucket, ECS_POC_STATE_BUCKET, the `state-bucket` input, or `state-bucket:` in ecs-poc.yml")
        })
    }

    fn commit(&self) -> String {
        self.ctx
            .commit()
            .or_else(git_head)
            .unwrap_or_else(|| "unknown".into())
    }

    fn terraform(&self, session: &AwsSession) -> Terraform {
        let mut env = session.child_env.clone();
        env.push(("TF_IN_AUTOMATION".into(), "true".into()));
        env.push(("CHECKPOINT_DISABLE".into(), "1".into()));
        Terraform::new(self.settings.terraform_binary.clone(), env)
    }

    fn shared_stack(&self, bucket: &str) -> Stack {
        let mut vars = BTreeMap::from([("region".to_string(), self.settings.aws_region.clone())]);
        if let Some(r) = self.repository() {
            vars.insert("repository".into(), r);
        }
        vars.extend(self.settings.shared_vars.clone());
        Stack {
            dir: self.settings.shared_dir.clone(),
            backend_bucket: bucket.to_string(),
            backend_key: SHARED_STATE_KEY.into(),
            backend_region: self.settings.aws_region.clone(),
            vars,
        }
    }

    fn preview_stack(&self, bucket: &str, stack: &str) -> Stack {
        let s = &self.settings;
        let mut vars = BTreeMap::from([
            ("region".to_string(), s.aws_region.clone()),
            ("stack_name".to_string(), stack.to_string()),
            ("state_bucket".to_string(), bucket.to_string()),
        ]);
        if let Some(r) = self.repository() {
            vars.insert("repository".into(), r);
        }
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

    fn repository(&self) -> Option<String> {
        self.settings
            .repository
            .clone()
            .or_else(|| self.ctx.repository.clone())
    }

    fn github(&self) -> Option<GitHubApi> {
        let token = self.settings.github_token.as_ref()?;
        let repo = self.repository()?;
        match GitHubApi::new(&self.ctx.api_url, token, &repo) {
            Ok(api) => Some(api),
            Err(e) => {
                self.workflow.warning(&format!("GitHub client: {e}"));
                None
            }
        }
    }

    fn new_report(&self) -> Report {
        let mut r = Report::new(self.command.as_str());
        r.repository = self.repository();
        r.run_url = self.ctx.run_url();
        r.dry_run = self.settings.dry_run;
        r
    }

    /// Runs the command; always returns a report, with the error when one happened.
    pub async fn execute(&self) -> (Report, Option<Error>) {
        let mut report = self.new_report();
        let result = match self.command {
            Command::Deploy => self.deploy(&mut report, false).await,
            Command::Plan => self.deploy(&mut report, true).await,
            Command::Destroy => self.destroy_command(&mut report).await,
            Command::Sweep => self.sweep(&mut report).await,
        };
        if let Err(e) = &result {
            report.fail(e, None);
        }
        self.finish(&mut report, result.err()).await
    }

    /// Comment, summary, outputs, annotations: whatever happened before.
    async fn finish(
        &self,
        report: &mut Report,
        mut error: Option<Error>,
    ) -> (Report, Option<Error>) {
        report.updated_at = Some(now_utc());
        if let Some(e) = &error
            && self.workflow.in_actions
        {
            let msg = match e.hint() {
                Some(h) => format!("{e}\nWhat to do: {h}"),
                None => e.to_string(),
            };
            self.workflow
                .error(&format!("ecs-poc {} failed", self.command.as_str()), &msg);
        }
        if report.command != "sweep"
            && let (Some(pr), Some(stack)) = (report.pull_request, report.stack.clone())
            && let Err(e) = self.post_comment(report, pr, &stack).await
        {
            self.workflow
                .warning(&format!("could not update the pull request comment: {e}"));
            if error.is_none() {
                report.fail(&e, Some("comment"));
                error = Some(e);
            }
        }
        if let Err(e) = self
            .workflow
            .append_summary(&comment::render_summary(report))
        {
            self.workflow.warning(&e.to_string());
        }
        if let Err(e) = report.write_outputs(&self.workflow) {
            self.workflow.warning(&e.to_string());
        }
        (report.clone(), error)
    }

    async fn post_comment(&self, report: &Report, pr: u64, stack: &str) -> Result<()> {
        let Some(api) = self.github() else {
            tracing::info!("no github-token or repository: not commenting on the pull request");
            return Ok(());
        };
        let started = Instant::now();
        let upserted = comment::upsert(&api, pr, stack, &comment::render_comment(report)).await?;
        tracing::info!(
            ?upserted,
            seconds = started.elapsed().as_secs_f64(),
            "pull request comment"
        );
        Ok(())
    }

    async fn credentials(&self, report: &mut Report) -> Result<AwsSession> {
        stage(
            report,
            &self.workflow,
            "credentials",
            credentials::establish(&self.settings, &self.ctx, &self.workflow, self.env),
        )
        .await
    }

    /// deploy, or with `plan_only` the plan command.
    async fn deploy(&self, report: &mut Report, plan_only: bool) -> Result<()> {
        let stack = resolve_stack(&self.settings, &self.ctx)?;
        report.stack = Some(stack.clone());
        report.pull_request = config::pr_number(&stack).or(self.ctx.pull_request());
        let commit = self.commit();
        report.commit = Some(commit.clone());
        let bucket = self.bucket()?;
        let session = self.credentials(report).await?;
        let tf = self.terraform(&session);
        let shared = self.shared_stack(&bucket);
        let preview = self.preview_stack(&bucket, &stack);
        // The shared stack belongs to the default branch: pull requests only show its plan.
        let apply_shared = !plan_only && stack == "main";

        let ecr = aws_sdk_ecr::Client::new(&session.sdk_config);
        let image_req = ImageRequest {
            context: self.settings.context.clone(),
            dockerfile: self.settings.dockerfile.clone(),
            repository: self.settings.image_repository_for(&stack).to_string(),
            app_version: commit.clone(),
            build_args: self.settings.build_args.clone().into_iter().collect(),
            docker: self
                .env
                .var("ECS_POC_DOCKER")
                .unwrap_or_else(|| "docker".into())
                .into(),
        };

        // Terraform and the image are independent until the rollout: run them side by side.
        self.workflow.group(if plan_only {
            "terraform plan"
        } else {
            "terraform and image (in parallel)"
        });
        let tf_started = Instant::now();
        // On the default branch the shared stack may be about to create the ECR repository the
        // image goes to, so there the image waits for the shared apply (pull requests never do).
        let (shared_done, shared_ready) = tokio::sync::oneshot::channel::<()>();
        let terraform_branch = async {
            let mut plans = Vec::new();
            tf.init(&shared).await?;
            // Only the default branch applies the shared stack; everyone else only shows its
            // plan, without the state lock (the preview role may not write the shared state).
            let mode = if apply_shared {
                PlanMode::Apply
            } else {
                PlanMode::ShowOnly
            };
            let p = tf.plan(&shared, mode).await?;
            let applied = apply_shared && p.has_changes;
            if applied {
                tf.apply(&shared, &p).await?;
            }
            let _ = shared_done.send(());
            plans.push(PlanRecord {
                stack: "shared".into(),
                applied,
                summary: p.summary.clone(),
                text: p.text.clone(),
            });
            tf.init(&preview).await?;
            let p = tf.plan(&preview, PlanMode::Apply).await?;
            let applied = !plan_only && p.has_changes;
            if applied {
                tf.apply(&preview, &p).await?;
            }
            plans.push(PlanRecord {
                stack: stack.clone(),
                applied,
                summary: p.summary.clone(),
                text: p.text.clone(),
            });
            let outputs = if plan_only {
                Outputs::new()
            } else {
                tf.outputs(&preview).await?
            };
            Ok::<_, Error>((plans, outputs))
        };
        let image_branch = async {
            if plan_only {
                return Ok(None);
            }
            // A dropped sender means terraform failed; its error is the one to report.
            if apply_shared && shared_ready.await.is_err() {
                return Ok(None);
            }
            let started = Instant::now();
            let built = match image::ensure_image(&ecr, &image_req).await {
                Ok(b) => b,
                Err(e) => return Err((e, started.elapsed())),
            };
            if let Err(e) = tag_for_stack(&ecr, &image_req.repository, &built, &stack).await {
                // Only teardown's bookkeeping depends on the tag; the deploy itself is fine.
                self.workflow
                    .warning(&format!("could not tag the image for {stack}: {e}"));
            }
            Ok::<_, (Error, Duration)>(Some((built, started.elapsed())))
        };
        let tf_timed = async {
            let r = terraform_branch.await;
            (r, tf_started.elapsed())
        };
        let ((tf_result, tf_took), image_result) = tokio::join!(tf_timed, image_branch);
        self.workflow.end_group();

        let mut first_error = None;
        let mut outputs = Outputs::new();
        match tf_result {
            Ok((plans, out)) => {
                let detail = plans
                    .iter()
                    .map(|p| {
                        format!(
                            "{}: {} change(s){}",
                            p.stack,
                            p.changes(),
                            if p.applied { ", applied" } else { "" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                push_stage(report, "terraform", StageStatus::Ok, tf_took, Some(detail));
                if let Some(shared) = plans
                    .iter()
                    .find(|p| p.stack == "shared" && !p.applied && p.changes() > 0)
                    && !plan_only
                {
                    report.note(format!(
                        "The shared stack has {} pending change(s), shown here; they are applied by the default branch's deploy.",
                        shared.changes()
                    ));
                }
                report.plans = plans;
                outputs = out;
            }
            Err(e) => {
                push_stage(
                    report,
                    "terraform",
                    StageStatus::Failed,
                    tf_took,
                    Some(e.to_string()),
                );
                report.fail(&e, Some("terraform"));
                first_error = Some(e);
            }
        }
        match image_result {
            Ok(Some((built, took))) => {
                let detail = if built.reused {
                    "already in ECR: build skipped"
                } else {
                    "built and pushed"
                };
                report.push_stage("image", StageStatus::Ok, took, Some(detail.into()));
                report.image = Some(built);
            }
            Ok(None) => {}
            Err((e, took)) => {
                push_stage(
                    report,
                    "image",
                    StageStatus::Failed,
                    took,
                    Some(e.to_string()),
                );
                report.fail(&e, Some("image"));
                first_error.get_or_insert(e);
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        if plan_only {
            return Ok(());
        }
        let endpoint = output_str(&outputs, "endpoint_url").ok();
        report.endpoint = endpoint.clone();
        let image_repository = self.settings.image_repository_for(&stack);
        if let Ok(name) = output_str(&outputs, "ecr_repository_name")
            && name != image_repository
        {
            let key = if stack == "main" {
                "image.repository"
            } else {
                "image.preview-repository"
            };
            self.workflow.warning(&format!(
                "the stack's ECR repository is `{name}` but the image went to `{image_repository}`: set {key} in ecs-poc.yml"
            ));
        }
        let Some(built) = report.image.clone() else {
            return Err(Error::image("no image was produced"));
        };

        let request = RolloutRequest {
            cluster: output_str(&outputs, "cluster_name")?,
            service: output_str(&outputs, "service_name")?,
            template_task_definition: output_str(&outputs, "task_definition_arn")?,
            container_name: output_str(&outputs, "container_name").unwrap_or_else(|_| "app".into()),
            image_ref: built.image_ref.clone(),
            environment: vec![("APP_VERSION".into(), commit.clone())],
            timeout: self.settings.wait_timeout,
            poll_interval: Duration::from_secs(5),
        };
        let ecs_client = aws_sdk_ecs::Client::new(&session.sdk_config);
        let mut on_event = |message: &str| tracing::info!(target: "ecs", "{message}");
        let outcome = stage(
            report,
            &self.workflow,
            "rollout",
            ecs::roll_out(&ecs_client, &request, &mut on_event),
        )
        .await?;
        if let Some(last) = report.stages.last_mut() {
            last.detail = Some(if outcome.unchanged {
                format!("unchanged: revision {} already running", outcome.revision)
            } else {
                format!("revision {} is stable", outcome.revision)
            });
        }
        report.rollout = Some(outcome);

        match (&endpoint, self.settings.smoke_check) {
            (Some(url), true) => {
                let version = stage(
                    report,
                    &self.workflow,
                    "smoke check",
                    smoke::check(url, &commit, 20, Duration::from_secs(3)),
                )
                .await?;
                report.smoke_version = Some(version);
            }
            _ => report.push_stage(
                "smoke check",
                StageStatus::Skipped,
                Duration::ZERO,
                Some(if endpoint.is_none() {
                    "no endpoint_url output".into()
                } else {
                    "smoke-check: false".into()
                }),
            ),
        }
        Ok(())
    }

    async fn destroy_command(&self, report: &mut Report) -> Result<()> {
        let stack = resolve_stack(&self.settings, &self.ctx)?;
        report.stack = Some(stack.clone());
        report.pull_request = config::pr_number(&stack);
        self.guard_destroy(&stack)?;
        let bucket = self.bucket()?;
        let session = self.credentials(report).await?;
        self.destroy_stack(report, &session, &bucket, &stack).await
    }

    /// Never the shared stack (not nameable here), `main` only when forced.
    fn guard_destroy(&self, stack: &str) -> Result<()> {
        config::validate_stack(stack)?;
        if stack == "main" && !self.settings.force {
            return Err(Error::config("refusing to destroy the `main` stack")
                .with_hint("`main` serves the default branch; pass --force (input force: true) if you really mean it"));
        }
        Ok(())
    }

    /// terraform destroy of the preview stack, its images, then its state object. Every step
    /// is safe to repeat, so a failed teardown is finished by running it again.
    async fn destroy_stack(
        &self,
        report: &mut Report,
        session: &AwsSession,
        bucket: &str,
        stack: &str,
    ) -> Result<()> {
        let tf = self.terraform(session);
        let preview = self.preview_stack(bucket, stack);
        let dry_run = self.settings.dry_run;
        let (plan, repository) = stage(report, &self.workflow, "terraform destroy", async {
            tf.init(&preview).await?;
            // Read before the outputs are gone; a stack without state has none, which is fine.
            let repository = tf
                .outputs(&preview)
                .await
                .ok()
                .and_then(|o| output_str(&o, "ecr_repository_name").ok());
            let plan = tf.plan(&preview, PlanMode::Destroy).await?;
            if plan.has_changes
                && !dry_run
                && let Err(e) = tf.apply(&preview, &plan).await
            {
                return Err(with_leftovers(e, &plan.summary.resources));
            }
            Ok((plan, repository))
        })
        .await
        .map_err(|e| add_retry_hint(e, stack))?;
        let gone_already = !plan.has_changes;
        report.plans.push(PlanRecord {
            stack: stack.to_string(),
            applied: !dry_run && plan.has_changes,
            summary: plan.summary.clone(),
            text: plan.text.clone(),
        });
        if gone_already {
            report.note(format!(
                "`{stack}` had no resources left: nothing to destroy."
            ));
        }
        if dry_run {
            report.note("Dry run: nothing was destroyed.");
            return Ok(());
        }
        let ecr = aws_sdk_ecr::Client::new(&session.sdk_config);
        let repo =
            repository.unwrap_or_else(|| self.settings.image_repository_for(stack).to_string());
        let removed = stage(
            report,
            &self.workflow,
            "delete images",
            delete_stack_images(&ecr, &repo, stack),
        )
        .await
        .map_err(|e| add_retry_hint(e, stack))?;
        report.deleted_images = removed;
        let s3 = aws_sdk_s3::Client::new(&session.sdk_config);
        let key = preview_state_key(stack);
        stage(report, &self.workflow, "remove state", async {
            // The empty state would otherwise make `sweep` revisit this stack forever.
            s3.delete_object()
                .bucket(bucket)
                .key(&key)
                .send()
                .await
                .map_err(|e| {
                    Error::terraform(format!(
                        "cannot delete s3://{bucket}/{key}: {}",
                        crate::error::aws_message(&e)
                    ))
                })?;
            Ok(())
        })
        .await
        .map_err(|e| add_retry_hint(e, stack))?;
        report.torn_down_at = Some(now_utc());
        Ok(())
    }

    async fn sweep(&self, report: &mut Report) -> Result<()> {
        let bucket = self.bucket()?;
        let api = self.github().ok_or_else(|| {
            Error::config("sweep needs a github-token and the repository to ask which pull requests are closed")
                .with_hint("pass github-token (GITHUB_TOKEN) and, outside Actions, --repository owner/name")
        })?;
        let session = self.credentials(report).await?;
        let s3 = aws_sdk_s3::Client::new(&session.sdk_config);
        let stacks = stage(
            report,
            &self.workflow,
            "list stacks",
            list_preview_stacks(&s3, &bucket),
        )
        .await?;
        let mut failure = None;
        for stack in stacks {
            let Some(pr) = config::pr_number(&stack) else {
                continue;
            };
            let state = match api.pull_request_state(pr).await {
                Ok(s) => s,
                Err(e) => {
                    report.swept.push(SweepRecord {
                        stack,
                        pull_request_state: "unknown".into(),
                        action: format!("kept: {e}"),
                    });
                    failure.get_or_insert(e);
                    continue;
                }
            };
            if state != "closed" {
                tracing::info!("{stack}: pull request #{pr} is {state}: kept");
                report.swept.push(SweepRecord {
                    stack,
                    pull_request_state: state,
                    action: "kept".into(),
                });
                continue;
            }
            if self.settings.dry_run {
                tracing::info!("{stack}: pull request #{pr} is closed: would destroy (dry run)");
                report.swept.push(SweepRecord {
                    stack,
                    pull_request_state: state,
                    action: "would destroy".into(),
                });
                continue;
            }
            tracing::info!("{stack}: pull request #{pr} is closed: destroying");
            let mut sub = self.new_report();
            sub.updated_at = Some(now_utc());
            sub.command = "destroy".into();
            sub.stack = Some(stack.clone());
            sub.pull_request = Some(pr);
            let result = self
                .destroy_stack(&mut sub, &session, &bucket, &stack)
                .await;
            if let Err(e) = &result {
                sub.fail(e, None);
            }
            if let Err(e) = self.post_comment(&sub, pr, &stack).await {
                self.workflow.warning(&format!(
                    "could not update the comment of pull request {pr}: {e}"
                ));
            }
            let action = match result {
                Ok(()) => "destroyed".to_string(),
                Err(e) => {
                    let a = format!("failed: {e}");
                    failure.get_or_insert(e);
                    a
                }
            };
            report.swept.push(SweepRecord {
                stack,
                pull_request_state: state,
                action,
            });
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Preview stacks with state in the bucket: `preview/<stack>.tfstate` keys.
pub async fn list_preview_stacks(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Vec<String>> {
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix("preview/")
        .into_paginator()
        .send();
    let mut stacks = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            Error::terraform(format!(
                "cannot list s3://{bucket}/preview/: {}",
                crate::error::aws_message(&e)
            ))
            .with_hint("check state-bucket and that the role may s3:ListBucket on it")
        })?;
        for o in page.contents() {
            let stack = o
                .key()
                .and_then(|k| k.strip_prefix("preview/"))
                .and_then(|k| k.strip_suffix(".tfstate"));
            if let Some(stack) = stack
                && config::validate_stack(stack).is_ok()
            {
                stacks.push(stack.to_string());
            }
        }
    }
    stacks.sort_by_key(|s| config::pr_number(s).unwrap_or(0));
    Ok(stacks)
}

/// A failed destroy names what it was destroying, so the user knows what may be left.
fn with_leftovers(e: Error, resources: &[crate::terraform::ResourceChange]) -> Error {
    if resources.is_empty() {
        return e;
    }
    let record = crate::report::ErrorRecord::from_error(&e, None);
    let names: Vec<&str> = resources.iter().map(|r| r.address.as_str()).collect();
    let message = format!(
        "{}\nthe stack may still hold some of these {} resources: {}",
        record.message,
        names.len(),
        names.join(", ")
    );
    let rebuilt = match e {
        Error::Terraform { .. } => Error::terraform(message),
        Error::Credentials { .. } => Error::credentials(message),
        other => return other,
    };
    match record.hint {
        Some(h) => rebuilt.with_hint(h),
        None => rebuilt,
    }
}

fn add_retry_hint(e: Error, stack: &str) -> Error {
    let hint = match e.hint() {
        Some(h) => format!(
            "{h}; then run `ecs-poc destroy --stack {stack}` again: it finishes what is left"
        ),
        None => format!("run `ecs-poc destroy --stack {stack}` again: it finishes what is left"),
    };
    e.with_hint(hint)
}

fn push_stage(
    report: &mut Report,
    name: &str,
    status: StageStatus,
    took: Duration,
    detail: Option<String>,
) {
    report.push_stage(name, status, took, detail);
}

fn output_str(outputs: &Outputs, name: &str) -> Result<String> {
    outputs
        .get(name)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| Error::terraform(format!("the preview stack has no `{name}` output")).with_hint(
            "the preview stack must output cluster_name, service_name, task_definition_arn, container_name and endpoint_url",
        ))
}

/// The checked-out commit, for runs outside Actions.
fn git_head() -> Option<String> {
    let out = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}
