//! `destroy`: tear down one preview stack, then its images, then its state object. Every step
//! is safe to repeat, so a failed teardown is finished by running it again, and every error
//! says so.

use super::state::delete_preview_state;
use super::{Clients, Run, now_utc, stage};
use crate::credentials::AwsSession;
use crate::domain::StackName;
use crate::image;
use crate::report::{PlanRecord, Report};
use crate::terraform::{PlanMode, ResourceChange};
use crate::{Error, Result};

use super::deploy::output_str;

impl Run<'_> {
    pub(super) async fn destroy_command(&self, report: &mut Report) -> Result<()> {
        let stack = self.stack()?;
        report.stack = Some(stack.clone());
        report.pull_request = stack.pull_request();
        report.commit = Some(self.commit());
        self.guard_destroy(&stack)?;
        let bucket = self.bucket()?;
        let session = self.credentials(report).await?;
        let clients = Clients::new(&session);
        self.destroy_stack(report, &session, &clients, &bucket, &stack)
            .await
    }

    /// Never the shared stack (not nameable as a [`StackName`]), `main` only when forced.
    fn guard_destroy(&self, stack: &StackName) -> Result<()> {
        if stack.is_main() && !self.settings.force {
            return Err(Error::config("refusing to destroy the `main` stack")
                .with_hint("`main` serves the default branch; pass --force (input force: true) if you really mean it"));
        }
        Ok(())
    }

    /// terraform destroy of the preview stack, its images, then its state object.
    pub(super) async fn destroy_stack(
        &self,
        report: &mut Report,
        session: &AwsSession,
        clients: &Clients,
        bucket: &str,
        stack: &StackName,
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
        let repo =
            repository.unwrap_or_else(|| self.settings.image_repository_for(stack).to_string());
        let removed = stage(
            report,
            &self.workflow,
            "delete images",
            image::delete_stack_images(&clients.ecr, &repo, stack),
        )
        .await
        .map_err(|e| add_retry_hint(e, stack))?;
        report.deleted_images = removed;
        // The empty state would otherwise make `sweep` revisit this stack forever.
        stage(
            report,
            &self.workflow,
            "remove state",
            delete_preview_state(&clients.s3, bucket, stack),
        )
        .await
        .map_err(|e| add_retry_hint(e, stack))?;
        report.torn_down_at = Some(now_utc());
        self.deactivate_deployments(stack).await;
        Ok(())
    }
}

/// A failed destroy names what it was destroying, so the user knows what may be left.
fn with_leftovers(e: Error, resources: &[ResourceChange]) -> Error {
    if resources.is_empty() {
        return e;
    }
    let names: Vec<&str> = resources.iter().map(|r| r.address.as_str()).collect();
    let message = format!(
        "{}\nthe stack may still hold some of these {} resources: {}",
        e.message(),
        names.len(),
        names.join(", ")
    );
    e.with_message(message)
}

fn add_retry_hint(e: Error, stack: &StackName) -> Error {
    let hint = match e.hint() {
        Some(h) => format!(
            "{h}; then run `ecs-poc destroy --stack {stack}` again: it finishes what is left"
        ),
        None => format!("run `ecs-poc destroy --stack {stack}` again: it finishes what is left"),
    };
    e.with_hint(hint)
}
