//! Stage 5 and 6: roll the service onto the new image and wait for *our* deployment.
//! CONTRACT (owned by the AWS-stages helper): roll_out(&ecs, &RolloutRequest, on_event) -> RolloutOutcome.
#![allow(dead_code, unused_variables)]

use std::time::Duration;

use crate::Result;

#[derive(Debug, Clone)]
pub struct RolloutRequest {
    pub cluster: String,
    pub service: String,
    /// Task definition terraform rendered (stack output); used as the template.
    pub template_task_definition: String,
    pub container_name: String,
    /// `repo@sha256:...`
    pub image_ref: String,
    /// Extra/overridden container environment (APP_VERSION etc.).
    pub environment: Vec<(String, String)>,
    pub timeout: Duration,
    pub poll_interval: Duration,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct RolloutOutcome {
    pub task_definition_arn: String,
    pub revision: i32,
    pub deployment_id: Option<String>,
    /// True when the service already ran exactly this task definition content.
    pub unchanged: bool,
}

/// `on_event` gets every new service event message once, as it appears.
pub async fn roll_out(
    client: &aws_sdk_ecs::Client,
    req: &RolloutRequest,
    on_event: &mut (dyn FnMut(&str) + Send),
) -> Result<RolloutOutcome> {
    todo!()
}
