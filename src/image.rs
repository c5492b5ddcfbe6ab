//! Stage 4: the service image. Tag = content hash of build context + Dockerfile; skip the build
//! when ECR already holds the tag; else ECR token -> `docker login --password-stdin` -> build -> push.
//! CONTRACT (owned by the AWS-stages helper): content_tag(...) ; ensure_image(&ecr, &ImageRequest) -> BuiltImage.
#![allow(dead_code, unused_variables)]

use std::path::{Path, PathBuf};

use crate::Result;

#[derive(Debug, Clone)]
pub struct ImageRequest {
    pub context: PathBuf,
    pub dockerfile: PathBuf,
    /// ECR repository *name*; its URI is looked up, so this can start before terraform finishes.
    pub repository: String,
    /// Baked into the image as APP_VERSION (the commit SHA).
    pub app_version: String,
    /// Extra `--build-arg`s (e.g. BASE_IMAGE in the offline harness).
    pub build_args: Vec<(String, String)>,
    /// `docker` binary.
    pub docker: PathBuf,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct BuiltImage {
    pub repository_uri: String,
    pub tag: String,
    pub digest: String,
    /// `repository_uri@digest`, what the task definition gets.
    pub image_ref: String,
    /// True when ECR already held the tag and nothing was built.
    pub reused: bool,
}

pub fn content_tag(context: &Path, dockerfile: &Path) -> Result<String> {
    todo!()
}

pub async fn ensure_image(ecr: &aws_sdk_ecr::Client, req: &ImageRequest) -> Result<BuiltImage> {
    todo!()
}
