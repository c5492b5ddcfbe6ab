//! `deploy` and `plan`: the terraform branch (shared stack, then the preview stack) and the
//! image branch run side by side; the rollout and the smoke check follow when both succeeded.
//!
//! The shared stack belongs to the default branch: a pull request only shows its plan. On the
//! default branch the shared stack may be about to create the ECR repository the image goes to,
//! so there the image waits for the shared apply (pull requests never do).
//!
//! A pull request's rerun does not plan the shared stack again when nothing its plan depends
//! on has changed: the same configuration, variables and binary (one fingerprint) and the same
//! state (lineage and serial). The last plan's stamp travels, hidden, in the pull request's
//! comment; the comment says when the numbers are that plan's.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::state::shared_state_version;
use super::{Clients, Run, stage};
use crate::comment;
use crate::domain::{BuiltImage, SharedPlanStamp, StackName};
use crate::ecs::{self, RolloutRequest};
use crate::image::{self, ImageRequest};
use crate::report::{PlanRecord, Report, StageStatus};
use crate::smoke;
use crate::terraform::{Outputs, PlanMode, Stack, Terraform};
use crate::{Error, Result};

/// How the terraform branch treats the two stacks.
pub(super) struct TerraformPlan<'a> {
    pub(super) tf: &'a Terraform,
    pub(super) shared: Stack,
    pub(super) preview: Stack,
    pub(super) stack: &'a StackName,
    pub(super) apply_shared: bool,
    pub(super) plan_only: bool,
    /// The last plan of the shared stack, when it is still the plan: no need to plan again.
    pub(super) shared_reused: Option<SharedPlanStamp>,
}

/// What the terraform branch produced: the plans it made and the preview stack's outputs.
pub(super) struct TerraformDone {
    plans: Vec<PlanRecord>,
    outputs: Outputs,
}

/// An image branch failure, with how long it took until then.
pub(super) type ImageFailure = (Error, Duration);

impl Run<'_> {
    /// deploy, or with `plan_only` the plan command.
    pub(super) async fn deploy(&self, report: &mut Report, plan_only: bool) -> Result<()> {
        let stack = self.stack()?;
        report.stack = Some(stack.clone());
        report.pull_request = stack.pull_request().or(self.ctx.pull_request());
        let commit = self.commit();
        report.commit = Some(commit.clone());
        if !plan_only {
            self.warn_if_checkout_differs(&commit);
            // Before anything is applied, so GitHub shows the deploy in progress.
            self.start_deployment(&stack, &commit).await;
        }
        let bucket = self.bucket()?;
        let session = self.credentials(report).await?;
        let clients = Clients::new(&session);
        let tf = self.terraform(&session);
        let apply_shared = !plan_only && stack.is_main();
        let shared = self.shared_stack(&bucket);
        // What this run's shared plan is made from; the default branch applies, so always plans.
        let shared_inputs = match stack.pull_request() {
            Some(pr) if !apply_shared => self
                .shared_plan_inputs(&clients, &tf, &shared, &bucket)
                .await
                .map(|inputs| (pr, inputs)),
            _ => None,
        };
        let shared_reused = match &shared_inputs {
            Some((pr, inputs)) => self
                .last_shared_plan(*pr, &stack)
                .await
                .filter(|last| last.same_inputs(inputs)),
            None => None,
        };
        let terraform = TerraformPlan {
            tf: &tf,
            shared,
            preview: self.preview_stack(&bucket, &stack),
            stack: &stack,
            apply_shared,
            plan_only,
            shared_reused: shared_reused.clone(),
        };

        // Terraform and the image are independent until the rollout: run them side by side.
        self.workflow.group(if plan_only {
            "terraform plan"
        } else {
            "terraform and image (in parallel)"
        });
        let (shared_done, shared_ready) = oneshot::channel::<()>();
        let tf_timed = async {
            let started = Instant::now();
            let r = terraform_branch(&terraform, shared_done).await;
            (r, started.elapsed())
        };
        let image_branch = async {
            if plan_only {
                return Ok(None);
            }
            // A dropped sender means terraform failed; its error is the one to report.
            if apply_shared && shared_ready.await.is_err() {
                return Ok(None);
            }
            self.image_branch(&clients, &stack, &commit).await.map(Some)
        };
        let ((tf_result, tf_took), image_result) = tokio::join!(tf_timed, image_branch);
        self.workflow.end_group();

        if let Some(last) = &shared_reused {
            report.note(format!(
                "The shared stack was not planned again: no shared-stack file, variable or state changed since its last plan (state serial {}); its numbers are that plan's.",
                last.serial
            ));
        }
        report.shared_plan_reused = shared_reused.is_some();
        report.shared_plan = shared_reused.or_else(|| {
            let (_, inputs) = shared_inputs?;
            let done = tf_result.as_ref().ok()?;
            let planned = done.plans.iter().find(|p| p.stack == "shared")?;
            Some(SharedPlanStamp {
                add: planned.summary.add,
                change: planned.summary.change,
                destroy: planned.summary.destroy,
                replace: planned.summary.replace,
                ..inputs
            })
        });
        let outputs = record_branches(report, tf_result, tf_took, image_result, plan_only)?;
        if plan_only {
            return Ok(());
        }
        self.roll_out(report, &clients, &stack, &outputs, &commit)
            .await
    }

    /// The inputs of a plan of the shared stack made now (counts still zero); `None` when they
    /// cannot be told (no state yet, a file unreadable): then it is planned.
    async fn shared_plan_inputs(
        &self,
        clients: &Clients,
        tf: &Terraform,
        shared: &Stack,
        bucket: &str,
    ) -> Option<SharedPlanStamp> {
        let configuration = tf
            .plan_inputs(shared)
            .map_err(|e| tracing::debug!("shared plan inputs: {e}"))
            .ok()?;
        let state = shared_state_version(&clients.s3, bucket).await?;
        Some(SharedPlanStamp {
            configuration,
            lineage: state.lineage,
            serial: state.serial,
            add: 0,
            change: 0,
            destroy: 0,
            replace: 0,
        })
    }

    /// The shared plan stamp this pull request's comment carries from the last run, if any.
    async fn last_shared_plan(&self, pr: u64, stack: &StackName) -> Option<SharedPlanStamp> {
        let api = self.github.as_ref()?;
        let ours = comment::find(api, pr, stack.as_str())
            .await
            .map_err(|e| tracing::debug!("last shared plan: {e}"))
            .ok()??;
        comment::shared_plan_stamp(&ours.body)
    }

    /// Builds and pushes the image unless ECR already holds its content, then tags it for the
    /// stack.
    async fn image_branch(
        &self,
        clients: &Clients,
        stack: &StackName,
        commit: &str,
    ) -> std::result::Result<(BuiltImage, Duration), ImageFailure> {
        let request = ImageRequest {
            context: self.settings.context.clone(),
            dockerfile: self.settings.dockerfile.clone(),
            repository: self.settings.image_repository_for(stack).to_string(),
            app_version: commit.to_string(),
            build_args: self.settings.build_args.clone().into_iter().collect(),
            platform: self.settings.image_platform.clone(),
            docker: self
                .env
                .var("ECS_POC_DOCKER")
                .unwrap_or_else(|| "docker".into())
                .into(),
            temp_dir: self
                .env
                .var("RUNNER_TEMP")
                .filter(|t| !t.is_empty())
                .map_or_else(std::env::temp_dir, PathBuf::from),
            user_docker_config: self
                .env
                .var("DOCKER_CONFIG")
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .or_else(|| {
                    self.env
                        .var("HOME")
                        .map(|h| PathBuf::from(h).join(".docker"))
                }),
        };
        let started = Instant::now();
        let built = match image::ensure_image(&clients.ecr, &request).await {
            Ok(b) => b,
            Err(e) => return Err((e, started.elapsed())),
        };
        if let Err(e) = image::tag_for_stack(&clients.ecr, &request.repository, &built, stack).await
        {
            // Only teardown's bookkeeping depends on the tag; the deploy itself is fine.
            self.workflow
                .warning(&format!("could not tag the image for {stack}: {e}"));
        }
        Ok((built, started.elapsed()))
    }

    /// Puts the service on the image, waits for it, then asks the endpoint for the version.
    pub(super) async fn roll_out(
        &self,
        report: &mut Report,
        clients: &Clients,
        stack: &StackName,
        outputs: &Outputs,
        commit: &str,
    ) -> Result<()> {
        let endpoint = output_str(outputs, "endpoint_url").ok();
        report.endpoint = endpoint.clone();
        let image_repository = self.settings.image_repository_for(stack);
        if let Ok(name) = output_str(outputs, "ecr_repository_name")
            && name != image_repository
        {
            let key = if stack.is_main() {
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
            cluster: output_str(outputs, "cluster_name")?,
            service: output_str(outputs, "service_name")?,
            template_task_definition: output_str(outputs, "task_definition_arn")?,
            container_name: output_str(outputs, "container_name").unwrap_or_else(|_| "app".into()),
            image_ref: built.image_ref.clone(),
            environment: vec![("APP_VERSION".into(), commit.to_string())],
            timeout: self.settings.wait_timeout,
            poll_interval: Duration::from_secs(5),
        };
        let mut on_event = |message: &str| tracing::info!(target: "ecs", "{message}");
        let outcome = stage(
            report,
            &self.workflow,
            "rollout",
            ecs::roll_out(&clients.ecs, &request, &mut on_event),
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
                    smoke::check(url, commit, 20, Duration::from_secs(3)),
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
}

/// Plans (and applies, where this run may) the shared stack, then the preview stack; reads the
/// preview stack's outputs when it was applied. `shared_done` fires once the shared stack is
/// settled, for the image branch waiting on it.
pub(super) async fn terraform_branch(
    t: &TerraformPlan<'_>,
    shared_done: oneshot::Sender<()>,
) -> Result<TerraformDone> {
    let mut plans = Vec::new();
    match &t.shared_reused {
        Some(last) => {
            let _ = shared_done.send(());
            plans.push(PlanRecord {
                stack: "shared".into(),
                applied: false,
                summary: last.summary(),
                text: String::new(),
            });
        }
        None => {
            t.tf.init(&t.shared).await?;
            // Only the default branch applies the shared stack; everyone else only shows its
            // plan, without the state lock (the preview role may not write the shared state).
            let mode = if t.apply_shared {
                PlanMode::Apply
            } else {
                PlanMode::ShowOnly
            };
            let p = t.tf.plan(&t.shared, mode).await?;
            let applied = t.apply_shared && p.has_changes;
            if applied {
                t.tf.apply(&t.shared, &p).await?;
            }
            // The receiver is gone when the image branch does not wait: nothing to tell then.
            let _ = shared_done.send(());
            plans.push(PlanRecord {
                stack: "shared".into(),
                applied,
                summary: p.summary.clone(),
                text: p.text.clone(),
            });
        }
    }
    t.tf.init(&t.preview).await?;
    let p = t.tf.plan(&t.preview, PlanMode::Apply).await?;
    let applied = !t.plan_only && p.has_changes;
    if applied {
        t.tf.apply(&t.preview, &p).await?;
    }
    plans.push(PlanRecord {
        stack: t.stack.to_string(),
        applied,
        summary: p.summary.clone(),
        text: p.text.clone(),
    });
    let outputs = if t.plan_only {
        Outputs::new()
    } else {
        t.tf.outputs(&t.preview).await?
    };
    Ok(TerraformDone { plans, outputs })
}

/// Records both branches in the report; the first error (terraform's before the image's) ends
/// the run, and with none the preview stack's outputs are returned.
pub(super) fn record_branches(
    report: &mut Report,
    tf_result: Result<TerraformDone>,
    tf_took: Duration,
    image_result: std::result::Result<Option<(BuiltImage, Duration)>, ImageFailure>,
    plan_only: bool,
) -> Result<Outputs> {
    let mut first_error = None;
    let mut outputs = Outputs::new();
    match tf_result {
        Ok(done) => {
            let detail = done
                .plans
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
            report.push_stage("terraform", StageStatus::Ok, tf_took, Some(detail));
            if let Some(shared) = done
                .plans
                .iter()
                .find(|p| p.stack == "shared" && !p.applied && p.changes() > 0)
                && !plan_only
            {
                report.note(format!(
                    "The shared stack has {} pending change(s), shown here; they are applied by the default branch's deploy.",
                    shared.changes()
                ));
            }
            report.plans = done.plans;
            outputs = done.outputs;
        }
        Err(e) => {
            report.push_stage(
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
            report.push_stage("image", StageStatus::Failed, took, Some(e.to_string()));
            report.fail(&e, Some("image"));
            first_error.get_or_insert(e);
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(outputs),
    }
}

/// A non-empty string output of the preview stack.
pub(super) fn output_str(outputs: &Outputs, name: &str) -> Result<String> {
    outputs
        .get(name)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .ok_or_else(|| Error::terraform(format!("the preview stack has no `{name}` output")).with_hint(
            "the preview stack must output cluster_name, service_name, task_definition_arn, container_name and endpoint_url",
        ))
}
