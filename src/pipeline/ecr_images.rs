//! Which ECR images belong to which stack. Image tags are content hashes, so two pull
//! requests with the same content share one image; each deploy therefore adds a stack tag
//! `stack-<stack>.<content tag>` and a teardown removes only its own stack tags, deleting an
//! image only when no other stack still tags it.
//!
//! The tags deliberately do not start with `pr-`: an ECR lifecycle rule on a `pr-` prefix
//! would expire an image that `main` runs too (merged content is the same image).

use aws_sdk_ecr::types::{ImageIdentifier, TagStatus};

use crate::image::BuiltImage;
use crate::{Error, Result};

/// ECR tags allow 128 characters of `[A-Za-z0-9_.-]`.
pub fn stack_tag(stack: &str, content_tag: &str) -> String {
    let mut t = format!("{}{content_tag}", stack_prefix(stack));
    t.truncate(128);
    t
}

fn stack_prefix(stack: &str) -> String {
    format!("stack-{stack}.")
}

fn is_stack_tag(tag: &str) -> bool {
    tag.strip_prefix("stack-")
        .and_then(|t| t.split_once('.'))
        .is_some_and(|(s, _)| crate::config::validate_stack(s).is_ok())
}

/// Adds the stack tag to the image just deployed (same manifest, so no upload).
pub async fn tag_for_stack(
    ecr: &aws_sdk_ecr::Client,
    repository: &str,
    image: &BuiltImage,
    stack: &str,
) -> Result<()> {
    let tag = stack_tag(stack, &image.tag);
    let got = ecr
        .batch_get_image()
        .repository_name(repository)
        .image_ids(
            ImageIdentifier::builder()
                .image_digest(&image.digest)
                .build(),
        )
        .send()
        .await
        .map_err(|e| {
            Error::image(format!(
                "ECR BatchGetImage {repository}@{}: {}",
                image.digest,
                aws_sdk_ecr::error::DisplayErrorContext(&e)
            ))
        })?;
    let Some(found) = got.images().first() else {
        return Err(Error::image(format!(
            "ECR has no image {repository}@{}",
            image.digest
        )));
    };
    let manifest = found.image_manifest().unwrap_or_default();
    let mut put = ecr
        .put_image()
        .repository_name(repository)
        .image_manifest(manifest)
        .image_tag(&tag);
    if let Some(mt) = found.image_manifest_media_type() {
        put = put.image_manifest_media_type(mt);
    }
    match put.send().await {
        Ok(_) => Ok(()),
        // Already tagged by an earlier run of the same content (the tag names the content).
        Err(e)
            if e.as_service_error().is_some_and(|s| {
                s.is_image_already_exists_exception() || s.is_image_tag_already_exists_exception()
            }) =>
        {
            Ok(())
        }
        Err(e) => Err(Error::image(format!(
            "ECR PutImage tag {tag}: {}",
            aws_sdk_ecr::error::DisplayErrorContext(&e)
        ))),
    }
}

/// Removes `stack`'s tags; deletes images that no other stack tags. Returns what it removed
/// (`tag` or `digest`). A missing repository means nothing is left to delete.
pub async fn delete_stack_images(
    ecr: &aws_sdk_ecr::Client,
    repository: &str,
    stack: &str,
) -> Result<Vec<String>> {
    let prefix = stack_prefix(stack);
    let mut pages = ecr
        .describe_images()
        .repository_name(repository)
        .filter(
            aws_sdk_ecr::types::DescribeImagesFilter::builder()
                .tag_status(TagStatus::Tagged)
                .build(),
        )
        .into_paginator()
        .send();
    let mut ids = Vec::new();
    let mut removed = Vec::new();
    while let Some(page) = pages.next().await {
        let page = match page {
            Ok(p) => p,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_repository_not_found_exception()) =>
            {
                return Ok(removed);
            }
            Err(e) => {
                return Err(Error::image(format!(
                    "ECR DescribeImages {repository}: {}",
                    aws_sdk_ecr::error::DisplayErrorContext(&e)
                )));
            }
        };
        for d in page.image_details() {
            let tags = d.image_tags();
            let ours: Vec<&String> = tags.iter().filter(|t| t.starts_with(&prefix)).collect();
            if ours.is_empty() {
                continue;
            }
            let others_use_it = tags
                .iter()
                .any(|t| !t.starts_with(&prefix) && is_stack_tag(t));
            match (others_use_it, d.image_digest()) {
                (false, Some(digest)) => {
                    ids.push(ImageIdentifier::builder().image_digest(digest).build());
                    removed.push(digest.to_string());
                }
                _ => {
                    for t in ours {
                        ids.push(ImageIdentifier::builder().image_tag(t).build());
                        removed.push(t.clone());
                    }
                }
            }
        }
    }
    crate::image::delete_images(ecr, repository, &ids).await?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_tags_do_not_collide_between_pr_1_and_pr_12() {
        let t = stack_tag("pr-12", "abc");
        assert_eq!(t, "stack-pr-12.abc");
        assert!(!t.starts_with(&stack_prefix("pr-1")));
        assert!(is_stack_tag("stack-main.abc"));
        assert!(!is_stack_tag("abc123"));
        assert!(
            !is_stack_tag("pr-1.abc"),
            "not ours: lifecycle rules may expire pr- tags"
        );
        assert_eq!(stack_tag("pr-1", &"x".repeat(200)).len(), 128);
    }
}
