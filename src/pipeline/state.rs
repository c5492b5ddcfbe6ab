//! Where the stacks keep their terraform state in the state bucket, and the two things the
//! pipeline does with those objects itself: list the preview stacks (for `sweep`) and remove a
//! torn-down stack's state (so `sweep` does not revisit it).

use crate::domain::StackName;
use crate::error::aws_message;
use crate::{Error, Result};

/// Where the shared stack keeps its state (contract with terraform/stacks/preview).
pub const SHARED_STATE_KEY: &str = "shared/terraform.tfstate";

const PREVIEW_PREFIX: &str = "preview/";
const STATE_SUFFIX: &str = ".tfstate";

pub fn preview_state_key(stack: &StackName) -> String {
    format!("{PREVIEW_PREFIX}{stack}{STATE_SUFFIX}")
}

/// Preview stacks with state in the bucket: `preview/<stack>.tfstate` keys, pull requests in
/// number order after `main`.
pub async fn list_preview_stacks(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<Vec<StackName>> {
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(PREVIEW_PREFIX)
        .into_paginator()
        .send();
    let mut stacks = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| {
            Error::terraform(format!(
                "cannot list s3://{bucket}/{PREVIEW_PREFIX}: {}",
                aws_message(&e)
            ))
            .with_hint("check state-bucket and that the role may s3:ListBucket on it")
            .with_source(e)
        })?;
        stacks.extend(
            page.contents()
                .iter()
                .filter_map(|o| o.key())
                .filter_map(|k| k.strip_prefix(PREVIEW_PREFIX))
                .filter_map(|k| k.strip_suffix(STATE_SUFFIX))
                .filter_map(|s| StackName::parse(s).ok()),
        );
    }
    stacks.sort_by_key(|s| s.pull_request().unwrap_or(0));
    Ok(stacks)
}

/// The identity of a state's current version: its lineage and serial. Terraform raises the
/// serial on every write, so an equal pair means an unchanged state.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct StateVersion {
    pub lineage: String,
    pub serial: u64,
}

/// The shared stack's state version; `None` when there is no state yet or it cannot be read
/// (the caller then plans, as it would anyway).
pub async fn shared_state_version(s3: &aws_sdk_s3::Client, bucket: &str) -> Option<StateVersion> {
    let got = s3
        .get_object()
        .bucket(bucket)
        .key(SHARED_STATE_KEY)
        .send()
        .await
        .map_err(|e| tracing::debug!("shared state version: {}", aws_message(&e)))
        .ok()?;
    let bytes = got
        .body
        .collect()
        .await
        .map_err(|e| tracing::debug!("shared state version: {e}"))
        .ok()?
        .into_bytes();
    serde_json::from_slice(&bytes)
        .map_err(|e| tracing::debug!("shared state version: {e}"))
        .ok()
}

/// Deletes a preview stack's state object; one that is already gone is not an error.
pub async fn delete_preview_state(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    stack: &StackName,
) -> Result<()> {
    let key = preview_state_key(stack);
    s3.delete_object()
        .bucket(bucket)
        .key(&key)
        .send()
        .await
        .map_err(|e| {
            Error::terraform(format!(
                "cannot delete s3://{bucket}/{key}: {}",
                aws_message(&e)
            ))
            .with_source(e)
        })?;
    Ok(())
}
