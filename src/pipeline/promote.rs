//! `promote --from S --to P`: run in P exactly the image S runs, by digest, never rebuilt.
//!
//! 1. P must name S as its `promote-from` (a configuration error otherwise).
//! 2. With S's credentials (its `promote-source-role`, else its `role-to-assume`, assumed with
//!    the same OIDC token), S's `main` service must be settled and healthy: the image its
//!    PRIMARY deployment runs, pinned by digest, and the commit it was built from
//!    (`APP_VERSION`) are what is promoted.
//! 3. With P's credentials, P's shared stack is applied (it holds P's repository), the image is
//!    copied by digest from S's registry into P's repository (same manifest bytes, blobs copied
//!    or mounted), P's `main` stack is applied beside the copy, and P's service is rolled onto
//!    `<P repository>@<digest>`, waited for and smoke-checked, as a deploy does.

use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::deploy::{ImageFailure, TerraformPlan, record_branches, terraform_branch};
use super::{Clients, Run, stage};
use crate::config::Settings;
use crate::credentials;
use crate::domain::{BuiltImage, StackName};
use crate::ecs::{self, Release};
use crate::image::{self, copy};
use crate::report::Report;
use crate::{Error, Result};

/// The `name` the shared stack's resources start with when `stacks.shared-vars` leaves it.
const DEFAULT_NAME: &str = "ecs-poc";

impl Run<'_> {
    pub(super) async fn promote(&self, report: &mut Report) -> Result<()> {
        let (source_name, source_env) = self.settings.promotion_source()?;
        let stack = StackName::main();
        report.stack = Some(stack.clone());
        report.source_environment = Some(source_name.clone());
        let bucket = self.bucket()?;
        let source = self.settings.source_settings(&source_name, &source_env);

        let source_session = self.source_session(report, &source).await?;
        let source_clients = Clients::new(&source_session);
        let release = self.read_source(report, &source, &source_clients).await?;
        let commit = release.commit.clone().unwrap_or_else(|| "unknown".into());
        report.digest = Some(release.digest.clone());
        report.source_commit = release.commit.clone();
        report.commit = Some(commit.clone());
        report.note(format!(
            "Promoting {} (commit {commit}) from {source_name}.",
            release.digest
        ));

        // The environment's GitHub deployment, at the commit staging built, in progress before
        // anything here is touched; the finish path ends it, as for a deploy.
        self.start_deployment(&stack, &commit).await;

        let session = self.credentials(report).await?;
        let clients = Clients::new(&session);
        let tf = self.terraform(&session);
        let terraform = TerraformPlan {
            tf: &tf,
            shared: self.shared_stack(&bucket),
            preview: self.preview_stack(&bucket, &stack),
            stack: &stack,
            apply_shared: true,
            plan_only: false,
            shared_reused: None,
        };

        self.workflow
            .group("terraform and image copy (in parallel)");
        let (shared_done, shared_ready) = oneshot::channel::<()>();
        let tf_timed = async {
            let started = Instant::now();
            let r = terraform_branch(&terraform, shared_done).await;
            (r, started.elapsed())
        };
        let copy_branch = async {
            // The shared stack makes the repository the image is copied to.
            if shared_ready.await.is_err() {
                return Ok(None);
            }
            self.copy_branch(&source_clients, &clients, &release, &stack)
                .await
                .map(Some)
        };
        let ((tf_result, tf_took), copy_result) = tokio::join!(tf_timed, copy_branch);
        self.workflow.end_group();
        let outputs = record_branches(report, tf_result, tf_took, copy_result, false)?;
        if let Some(image_stage) = report.stages.iter_mut().find(|s| s.name == "image") {
            image_stage.detail = Some(format!(
                "copied from {source_name} by digest: {}",
                release.digest
            ));
        }
        self.roll_out(report, &clients, &stack, &outputs, &commit)
            .await
    }

    /// S's credentials: its read-only promote-source role, else its deploy role.
    async fn source_session(
        &self,
        report: &mut Report,
        source: &Settings,
    ) -> Result<credentials::AwsSession> {
        stage(
            report,
            &self.workflow,
            "source credentials",
            credentials::establish(source, &self.ctx, &self.workflow, self.env),
        )
        .await
        .map_err(|e| {
            let message = format!("{}: {}", source.environment, e.message());
            e.with_message(message)
        })
    }

    /// What the source environment's `main` service runs, refused unless settled and healthy.
    async fn read_source(
        &self,
        report: &mut Report,
        source: &Settings,
        clients: &Clients,
    ) -> Result<Release> {
        let name = source
            .shared_vars
            .get("name")
            .map_or(DEFAULT_NAME, String::as_str);
        // The shared stack names the cluster `<name>-<environment>`, and the `main` stack its
        // service `<cluster>-main`.
        let cluster = format!("{name}-{}", source.environment);
        let service = format!("{cluster}-main");
        stage(
            report,
            &self.workflow,
            "read source",
            ecs::running_release(&clients.ecs, &source.environment, &cluster, &service),
        )
        .await
    }

    /// Copies the source's image into this environment's repository under the same digest,
    /// tagged as a deploy tags its image (its content tag, and the stack tag).
    async fn copy_branch(
        &self,
        source_clients: &Clients,
        clients: &Clients,
        release: &Release,
        stack: &StackName,
    ) -> std::result::Result<(BuiltImage, Duration), ImageFailure> {
        let started = Instant::now();
        self.copy_image(source_clients, clients, release, stack)
            .await
            .map(|built| (built, started.elapsed()))
            .map_err(|e| (e, started.elapsed()))
    }

    async fn copy_image(
        &self,
        source_clients: &Clients,
        clients: &Clients,
        release: &Release,
        stack: &StackName,
    ) -> Result<BuiltImage> {
        let (source_host, source_repository, digest) = copy::parse_image_ref(&release.image_ref)?;
        let target_repository = self.settings.image_repository_for(stack).to_string();
        let target_uri = image::repository_uri(&clients.ecr, &target_repository).await?;
        let target_host = target_uri
            .split_once('/')
            .map(|(h, _)| h.to_string())
            .ok_or_else(|| {
                Error::image(format!("ECR repository URI `{target_uri}` has no host"))
            })?;
        let tag = content_tag_of(&source_clients.ecr, &source_repository, &digest).await;
        let source_login = copy::ecr_login(&source_clients.ecr).await?;
        if source_login.host != source_host {
            tracing::info!(
                token_for = %source_login.host,
                image_on = %source_host,
                "the source image lives on another registry host than the source login's; using the image's"
            );
        }
        let from = copy::Repository {
            login: copy::Login {
                host: source_host,
                ..source_login
            },
            name: source_repository,
        };
        let to = copy::Repository {
            login: copy::Login {
                host: target_host,
                ..copy::ecr_login(&clients.ecr).await?
            },
            name: target_repository,
        };
        let tags = vec![tag.clone(), image::stack_tag(stack, &tag)];
        let copied =
            copy::copy_by_digest(&copy::http_client()?, &from, &to, &digest, &tags).await?;
        Ok(BuiltImage {
            image_ref: format!("{target_uri}@{digest}"),
            repository_uri: target_uri,
            tag,
            digest,
            reused: copied.blobs_uploaded + copied.blobs_mounted == 0,
        })
    }
}

/// The source image's content tag (the tag deploy gave it), so the target names it the same;
/// `promoted-<digest prefix>` when the source's tags cannot be read.
async fn content_tag_of(ecr: &aws_sdk_ecr::Client, repository: &str, digest: &str) -> String {
    let fallback = || {
        format!(
            "promoted-{}",
            digest
                .trim_start_matches("sha256:")
                .chars()
                .take(12)
                .collect::<String>()
        )
    };
    let described = ecr
        .describe_images()
        .repository_name(repository)
        .image_ids(
            aws_sdk_ecr::types::ImageIdentifier::builder()
                .image_digest(digest)
                .build(),
        )
        .send()
        .await;
    match described {
        Ok(out) => out
            .image_details()
            .iter()
            .flat_map(|d| d.image_tags())
            .find(|t| !t.starts_with("stack-"))
            .cloned()
            .unwrap_or_else(fallback),
        Err(e) => {
            tracing::info!(
                "cannot read the source image's tags ({}); tagging it {}",
                crate::error::aws_message(&e),
                fallback()
            );
            fallback()
        }
    }
}
