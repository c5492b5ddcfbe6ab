//! ECR, the registry the images live in: the repository's URI, whether a tag is already there,
//! the registry login, the stack tags and deleting images.
//!
//! Which images belong to which stack: image tags are content hashes, so two pull
//! requests with the same content share one image; each deploy therefore adds a stack tag
//! `stack-<stack>.<content tag>` and a teardown removes only its own stack tags, deleting an
//! image only when no other stack still tags it.
//!
//! The tags deliberately do not start with `pr-`: an ECR lifecycle rule on a `pr-` prefix
//! would expire an image that `main` runs too (merged content is the same image).

use aws_sdk_ecr::types::{ImageIdentifier, TagStatus};
use base64::Engine;

use crate::domain::{BuiltImage, StackName};
use crate::error::aws_message;
use crate::{Error, Result};

/// ECR tags allow 128 characters of `[A-Za-z0-9_.-]`.
pub fn stack_tag(stack: &StackName, content_tag: &str) -> String {
    let mut t = format!("{}{content_tag}", stack_prefix(stack));
    t.truncate(128);
    t
}

fn stack_prefix(stack: &StackName) -> String {
    format!("stack-{stack}.")
}

fn is_stack_tag(tag: &str) -> bool {
    tag.strip_prefix("stack-")
        .and_then(|t| t.split_once('.'))
        .is_some_and(|(s, _)| StackName::parse(s).is_ok())
}

/// Adds the stack tag to the image just deployed (same manifest, so no upload).
pub async fn tag_for_stack(
    ecr: &aws_sdk_ecr::Client,
    repository: &str,
    image: &BuiltImage,
    stack: &StackName,
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
                aws_message(&e)
            ))
            .with_source(e)
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
        Err(e) => {
            Err(Error::image(format!("ECR PutImage tag {tag}: {}", aws_message(&e))).with_source(e))
        }
    }
}

/// Removes `stack`'s tags; deletes images that no other stack tags. Returns what it removed
/// (`tag` or `digest`). A missing repository means nothing is left to delete.
pub async fn delete_stack_images(
    ecr: &aws_sdk_ecr::Client,
    repository: &str,
    stack: &StackName,
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
                    aws_message(&e)
                ))
                .with_source(e));
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
    delete_images(ecr, repository, &ids).await?;
    Ok(removed)
}

pub async fn repository_uri(ecr: &aws_sdk_ecr::Client, repository: &str) -> Result<String> {
    let out = ecr.describe_repositories().repository_names(repository).send().await.map_err(|e| {
        let not_found = e.as_service_error().is_some_and(|s| s.is_repository_not_found_exception());
        let err = Error::image(format!("ECR repository `{repository}`: {}", aws_message(&e))).with_source(e);
        if not_found {
            err.with_hint("apply the shared stack first (it creates the ECR repository), or fix image.repository in ecs-poc.yml")
        } else {
            err.with_hint("check the role's ecr:DescribeRepositories permission and the aws-region input")
        }
    })?;
    out.repositories()
        .first()
        .and_then(|r| r.repository_uri())
        .map(str::to_string)
        .ok_or_else(|| Error::image(format!("ECR returned no URI for repository `{repository}`")))
}

pub(super) async fn existing_digest(
    ecr: &aws_sdk_ecr::Client,
    repository: &str,
    tag: &str,
) -> Result<Option<String>> {
    let id = aws_sdk_ecr::types::ImageIdentifier::builder()
        .image_tag(tag)
        .build();
    match ecr
        .describe_images()
        .repository_name(repository)
        .image_ids(id)
        .send()
        .await
    {
        Ok(out) => Ok(out
            .image_details()
            .first()
            .and_then(|d| d.image_digest())
            .map(str::to_string)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_image_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(Error::image(format!(
            "ECR DescribeImages {repository}:{tag}: {}",
            aws_message(&e)
        ))
        .with_source(e)),
    }
}

/// (user, password, proxy endpoint) from ECR GetAuthorizationToken.
pub(super) async fn authorization(ecr: &aws_sdk_ecr::Client) -> Result<(String, String, String)> {
    let out = ecr.get_authorization_token().send().await.map_err(|e| {
        Error::image(format!("ECR GetAuthorizationToken: {}", aws_message(&e)))
            .with_source(e)
            .with_hint("the role needs ecr:GetAuthorizationToken on resource *")
    })?;
    let data = out
        .authorization_data()
        .first()
        .ok_or_else(|| Error::image("ECR GetAuthorizationToken returned no authorization data"))?;
    let token = data.authorization_token().unwrap_or_default();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| Error::image("ECR authorization token is not base64 of user:password"))?;
    let (user, password) = decoded
        .split_once(':')
        .ok_or_else(|| Error::image("ECR authorization token is not user:password"))?;
    crate::redact::Masker::global().add(password);
    let endpoint = data.proxy_endpoint().unwrap_or_default().to_string();
    if endpoint.is_empty() {
        return Err(Error::image(
            "ECR GetAuthorizationToken returned no proxy endpoint",
        ));
    }
    Ok((user.to_string(), password.to_string(), endpoint))
}

/// Delete these images (by tag or by digest) from a repository, at most 100 per call; returns
/// how many image ids ECR deleted. Images that are already gone are not an error (a teardown
/// may run twice).
pub async fn delete_images(
    ecr: &aws_sdk_ecr::Client,
    repository: &str,
    ids: &[aws_sdk_ecr::types::ImageIdentifier],
) -> Result<usize> {
    let mut deleted = 0;
    for chunk in ids.chunks(100) {
        let out = ecr
            .batch_delete_image()
            .repository_name(repository)
            .set_image_ids(Some(chunk.to_vec()))
            .send()
            .await
            .map_err(|e| {
                Error::image(format!(
                    "ECR BatchDeleteImage in {repository}: {}",
                    aws_message(&e)
                ))
                .with_source(e)
                .with_hint("the role needs ecr:BatchDeleteImage on the repository")
            })?;
        deleted += out.image_ids().len();
        let real_failures: Vec<String> = out
            .failures()
            .iter()
            .filter(|f| f.failure_code().map(|c| c.as_str()) != Some("ImageNotFound"))
            .map(|f| {
                format!(
                    "{:?}: {}",
                    f.failure_code(),
                    f.failure_reason().unwrap_or_default()
                )
            })
            .collect();
        if !real_failures.is_empty() {
            return Err(Error::image(format!(
                "ECR could not delete images from {repository}: {}",
                real_failures.join("; ")
            ))
            .with_hint("run `ecs-poc destroy` again; it only deletes what is left"));
        }
    }
    Ok(deleted)
}

/// Tags in a repository starting with `prefix` (e.g. a stack tag prefix), all pages.
pub async fn list_image_tags(
    ecr: &aws_sdk_ecr::Client,
    repository: &str,
    prefix: &str,
) -> Result<Vec<String>> {
    let mut tags = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let out = ecr
            .list_images()
            .repository_name(repository)
            .filter(
                aws_sdk_ecr::types::ListImagesFilter::builder()
                    .tag_status(aws_sdk_ecr::types::TagStatus::Tagged)
                    .build(),
            )
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| {
                Error::image(format!("ECR ListImages {repository}: {}", aws_message(&e)))
                    .with_source(e)
            })?;
        tags.extend(
            out.image_ids()
                .iter()
                .filter_map(|i| i.image_tag())
                .filter(|t| t.starts_with(prefix))
                .map(str::to_string),
        );
        match out.next_token() {
            Some(t) if !t.is_empty() => next = Some(t.to_string()),
            _ => break,
        }
    }
    tags.sort();
    tags.dedup();
    Ok(tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(name: &str) -> StackName {
        StackName::parse(name).expect("a stack name")
    }

    #[test]
    fn stack_tags_do_not_collide_between_pr_1_and_pr_12() {
        let t = stack_tag(&stack("pr-12"), "abc");
        assert_eq!(t, "stack-pr-12.abc");
        assert!(!t.starts_with(&stack_prefix(&stack("pr-1"))));
        assert!(is_stack_tag("stack-main.abc"));
        assert!(!is_stack_tag("abc123"));
        assert!(
            !is_stack_tag("pr-1.abc"),
            "not ours: lifecycle rules may expire pr- tags"
        );
        assert_eq!(stack_tag(&stack("pr-1"), &"x".repeat(200)).len(), 128);
    }
}
