//! `sweep`: every preview stack with state in the bucket whose pull request is closed is torn
//! down as `destroy` would, and its pull request's comment says so. Stacks of open pull
//! requests, and stacks whose pull request GitHub cannot tell us about, are kept.

use super::state::list_preview_stacks;
use super::{Clients, Run, now_utc, stage};
use crate::domain::{Command, StackName, SweepAction};
use crate::report::{Report, SweepRecord};
use crate::{Error, Result};

impl Run<'_> {
    pub(super) async fn sweep(&self, report: &mut Report) -> Result<()> {
        let bucket = self.bucket()?;
        let api = self.github.as_ref().ok_or_else(|| {
            Error::config("sweep needs a github-token and the repository to ask which pull requests are closed")
                .with_hint("pass github-token (GITHUB_TOKEN) and, outside Actions, --repository owner/name")
        })?;
        let session = self.credentials(report).await?;
        let clients = Clients::new(&session);
        let stacks = stage(
            report,
            &self.workflow,
            "list stacks",
            list_preview_stacks(&clients.s3, &bucket),
        )
        .await?;
        let mut failure = None;
        for stack in stacks {
            let Some(pr) = stack.pull_request() else {
                continue;
            };
            let record = |state: &str, action: SweepAction, reason: Option<String>| SweepRecord {
                stack: stack.clone(),
                pull_request_state: state.to_string(),
                action,
                reason,
            };
            let state = match api.pull_request_state(pr).await {
                Ok(s) => s,
                Err(e) => {
                    report
                        .swept
                        .push(record("unknown", SweepAction::Kept, Some(e.to_string())));
                    failure.get_or_insert(e);
                    continue;
                }
            };
            if state != "closed" {
                tracing::info!("{stack}: pull request #{pr} is {state}: kept");
                report.swept.push(record(&state, SweepAction::Kept, None));
                continue;
            }
            if self.settings.dry_run {
                tracing::info!("{stack}: pull request #{pr} is closed: would destroy (dry run)");
                report
                    .swept
                    .push(record(&state, SweepAction::WouldDestroy, None));
                continue;
            }
            tracing::info!("{stack}: pull request #{pr} is closed: destroying");
            let result = self
                .sweep_one(&session, &clients, &bucket, &stack, pr)
                .await;
            let swept = match result {
                Ok(()) => record(&state, SweepAction::Destroyed, None),
                Err(e) => {
                    let r = record(&state, SweepAction::Failed, Some(e.to_string()));
                    failure.get_or_insert(e);
                    r
                }
            };
            report.swept.push(swept);
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Destroys one stack with a report of its own, and tells its pull request.
    async fn sweep_one(
        &self,
        session: &crate::credentials::AwsSession,
        clients: &Clients,
        bucket: &str,
        stack: &StackName,
        pr: u64,
    ) -> Result<()> {
        let mut sub = self.new_report(Command::Destroy);
        sub.updated_at = Some(now_utc());
        sub.stack = Some(stack.clone());
        sub.pull_request = Some(pr);
        let result = self
            .destroy_stack(&mut sub, session, clients, bucket, stack)
            .await;
        if let Err(e) = &result {
            sub.fail(e, None);
        }
        if let Err(e) = self.post_comment(&sub, pr, stack).await {
            self.workflow.warning(&format!(
                "could not update the comment of pull request {pr}: {e}"
            ));
        }
        result
    }
}
