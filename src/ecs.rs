//! The rollout stage: put the service onto the new image (a task definition rendered from the
//! one terraform made) and wait for *our* deployment to become stable.
//!
//! Waiting watches the deployment this run started, not the service as a whole: a service whose
//! circuit breaker rolled back to the previous revision is also "one deployment, running ==
//! desired", which is how other tools report a failed deploy as green.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use aws_sdk_ecs::types::{
    ContainerDefinition, DeploymentRolloutState, DesiredStatus, KeyValuePair, Service,
    TaskDefinition, TaskDefinitionField,
};

use crate::{Error, Result};

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

/// Settings of the rollout that most callers leave at their defaults.
#[derive(Debug, Clone)]
pub struct RolloutOptions {
    /// Desired count to set when the service is scaled to 0 (nothing could become stable).
    pub desired_count_when_zero: i32,
    /// How many of the last service events a timeout error quotes.
    pub events_in_errors: usize,
}

impl Default for RolloutOptions {
    fn default() -> Self {
        Self {
            desired_count_when_zero: 1,
            events_in_errors: 5,
        }
    }
}

pub use crate::domain::RolloutOutcome;

/// Polls are capped at this, whatever the caller asks: the AWS CLI waiter's 15 s is what we beat.
const MAX_POLL: Duration = Duration::from_secs(5);

/// `on_event` gets every new service event message once, as it appears.
pub async fn roll_out(
    client: &aws_sdk_ecs::Client,
    req: &RolloutRequest,
    on_event: &mut (dyn FnMut(&str) + Send),
) -> Result<RolloutOutcome> {
    roll_out_with(client, req, &RolloutOptions::default(), on_event).await
}

/// [`roll_out`] with explicit [`RolloutOptions`].
pub async fn roll_out_with(
    client: &aws_sdk_ecs::Client,
    req: &RolloutRequest,
    opts: &RolloutOptions,
    on_event: &mut (dyn FnMut(&str) + Send),
) -> Result<RolloutOutcome> {
    let (template, tags) = describe_task_definition(client, &req.template_task_definition).await?;
    let rendered = render(
        &template,
        &req.container_name,
        &req.image_ref,
        &req.environment,
    )?;

    let service = describe_service(client, &req.cluster, &req.service).await?;
    if let Some(controller) = service.deployment_controller().map(|c| c.r#type().as_str())
        && controller != "ECS"
    {
        return Err(Error::rollout(format!(
            "service {} uses the {controller} deployment controller; ecs-poc rolls out only ECS (rolling) deployments",
            req.service
        )));
    }
    // Events already there belong to earlier deploys; only new ones are printed.
    let mut seen: HashSet<String> = service
        .events()
        .iter()
        .filter_map(|e| e.id().map(str::to_string))
        .collect();

    if let Some(current_arn) = service.task_definition() {
        let (current, _) = describe_task_definition(client, current_arn).await?;
        if same_content(&rendered, &current) {
            tracing::info!(task_definition = %current_arn, "the service already runs this task definition; no new revision");
            // An earlier run may have been interrupted mid-rollout: still wait for it to settle.
            let deployment_id =
                wait(client, req, opts, current_arn, None, &mut seen, on_event).await?;
            return Ok(RolloutOutcome {
                task_definition_arn: current_arn.to_string(),
                revision: current.revision(),
                deployment_id,
                unchanged: true,
            });
        }
    }

    let registered = register(client, &rendered, tags).await?;
    let arn = registered
        .task_definition_arn()
        .unwrap_or_default()
        .to_string();
    tracing::info!(task_definition = %arn, "registered");

    let mut update = client
        .update_service()
        .cluster(&req.cluster)
        .service(&req.service)
        .task_definition(&arn);
    if service.desired_count() == 0 {
        tracing::info!(
            desired = opts.desired_count_when_zero,
            "the service is scaled to 0; setting a desired count"
        );
        update = update.desired_count(opts.desired_count_when_zero);
    }
    let updated = update.send().await.map_err(|e| {
        Error::rollout(format!(
            "UpdateService {}/{}: {}",
            req.cluster,
            req.service,
            crate::error::aws_message(&e)
        ))
        .with_source(e)
        .with_hint(
            "check that the role may ecs:UpdateService and iam:PassRole for the task's roles",
        )
    })?;
    let deployment_id = updated
        .service()
        .and_then(|s| {
            s.deployments()
                .iter()
                .find(|d| d.task_definition() == Some(arn.as_str()))
        })
        .and_then(|d| d.id().map(str::to_string));
    let deployment_id = wait(client, req, opts, &arn, deployment_id, &mut seen, on_event).await?;
    Ok(RolloutOutcome {
        task_definition_arn: arn,
        revision: registered.revision(),
        deployment_id,
        unchanged: false,
    })
}

/// What an environment's service runs, read for a promotion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// `<registry>/<repository>@sha256:...` as the task definition names it.
    pub image_ref: String,
    /// `sha256:...`
    pub digest: String,
    /// The task definition's `APP_VERSION` (deploy sets it to the commit).
    pub commit: Option<String>,
    pub task_definition_arn: String,
}

/// Reads the image `service` runs, refusing (rollout error) unless its last deployment is
/// settled and healthy: the PRIMARY deployment COMPLETED, running == desired, no deployment
/// FAILED, and the image pinned by digest. `environment` names the environment in the errors.
pub async fn running_release(
    client: &aws_sdk_ecs::Client,
    environment: &str,
    cluster: &str,
    service: &str,
) -> Result<Release> {
    let svc = describe_service(client, cluster, service)
        .await
        .map_err(|e| {
            let message = format!("{environment}: {}", e.message());
            let missing = e.message().contains("not found");
            let e = e.with_message(message);
            if missing {
                e.with_hint(format!(
                    "{environment} runs nothing to promote yet: deploy its `main` stack first"
                ))
            } else {
                e
            }
        })?;
    let primary_td = healthy_primary(environment, &svc)?;
    // Without its tags: a read-only role needs no ecs:ListTagsForResource for this.
    let out = client
        .describe_task_definition()
        .task_definition(&primary_td)
        .send()
        .await
        .map_err(|e| {
            Error::rollout(format!(
                "{environment}: DescribeTaskDefinition {primary_td}: {}",
                crate::error::aws_message(&e)
            ))
            .with_source(e)
        })?;
    let td = out.task_definition().ok_or_else(|| {
        Error::rollout(format!(
            "{environment}: DescribeTaskDefinition {primary_td} returned no task definition"
        ))
    })?;
    release_of(environment, td)
}

/// The PRIMARY deployment's task definition, when the service's last deployment is settled
/// and healthy; otherwise why not.
pub fn healthy_primary(environment: &str, service: &Service) -> Result<String> {
    let name = service.service_name().unwrap_or_default();
    let refuse = |why: String| {
        Error::rollout(why).with_hint(format!(
            "promote only what {environment} runs healthily: fix and deploy {environment} first, wait for it to settle, then promote again"
        ))
    };
    let deployments = service.deployments();
    if let Some(failed) = deployments
        .iter()
        .find(|d| d.rollout_state() == Some(&DeploymentRolloutState::Failed))
    {
        return Err(refuse(format!(
            "{environment}'s last deployment FAILED: {}",
            failed.rollout_state_reason().unwrap_or("no reason given")
        )));
    }
    let Some(primary) = deployments.iter().find(|d| d.status() == Some("PRIMARY")) else {
        return Err(refuse(format!(
            "{environment}'s service {name} has no PRIMARY deployment"
        )));
    };
    match primary.rollout_state() {
        Some(DeploymentRolloutState::Completed) => {}
        Some(state) => {
            return Err(refuse(format!(
                "{environment}'s last deployment is {}, not COMPLETED: {}",
                state.as_str(),
                primary.rollout_state_reason().unwrap_or("no reason given")
            )));
        }
        None if deployments.len() == 1 => {}
        None => {
            return Err(refuse(format!(
                "{environment}'s service {name} is still deploying ({} deployments)",
                deployments.len()
            )));
        }
    }
    if primary.running_count() != primary.desired_count() || primary.desired_count() == 0 {
        return Err(refuse(format!(
            "{environment}'s service {name} runs {} of {} tasks",
            primary.running_count(),
            primary.desired_count()
        )));
    }
    primary
        .task_definition()
        .map(str::to_string)
        .ok_or_else(|| {
            refuse(format!(
                "{environment}'s PRIMARY deployment names no task definition"
            ))
        })
}

/// The image and commit of a task definition's application container (`app`, else the only
/// one), which must be pinned by digest.
pub fn release_of(environment: &str, td: &TaskDefinition) -> Result<Release> {
    let arn = td.task_definition_arn().unwrap_or_default().to_string();
    let containers = td.container_definitions();
    let app = containers
        .iter()
        .find(|c| c.name() == Some("app"))
        .or(match containers {
            [only] => Some(only),
            _ => None,
        })
        .ok_or_else(|| {
            Error::rollout(format!(
                "{environment}'s task definition {arn} has no container named `app`"
            ))
        })?;
    let image = app.image().unwrap_or_default();
    let digest = image
        .rsplit_once('@')
        .map(|(_, d)| d)
        .filter(|d| {
            d.strip_prefix("sha256:")
                .is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit()))
        })
        .ok_or_else(|| {
            Error::rollout(format!(
                "{environment} runs `{image}`, which is not pinned by digest"
            ))
            .with_hint(format!(
                "deploy {environment} with ecs-poc (it pins images by digest), then promote"
            ))
        })?;
    let commit = app
        .environment()
        .iter()
        .find(|kv| kv.name() == Some("APP_VERSION"))
        .and_then(|kv| kv.value())
        .filter(|v| !v.is_empty())
        .map(str::to_string);
    Ok(Release {
        image_ref: image.to_string(),
        digest: digest.to_string(),
        commit,
        task_definition_arn: arn,
    })
}

async fn describe_task_definition(
    client: &aws_sdk_ecs::Client,
    arn: &str,
) -> Result<(TaskDefinition, Vec<aws_sdk_ecs::types::Tag>)> {
    let out = client
        .describe_task_definition()
        .task_definition(arn)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|e| {
            Error::rollout(format!("DescribeTaskDefinition {arn}: {}", crate::error::aws_message(&e))).with_source(e)
                .with_hint("the stack output task_definition_arn must name a registered task definition; apply the stack again")
        })?;
    let td = out.task_definition().cloned().ok_or_else(|| {
        Error::rollout(format!(
            "DescribeTaskDefinition {arn} returned no task definition"
        ))
    })?;
    Ok((td, out.tags().to_vec()))
}

async fn describe_service(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<Service> {
    let out = client.describe_services().cluster(cluster).services(service).send().await.map_err(|e| {
        Error::rollout(format!("DescribeServices {cluster}/{service}: {}", crate::error::aws_message(&e))).with_source(e)
            .with_hint("check the cluster_name and service_name outputs of the stack and the role's ecs:DescribeServices")
    })?;
    let found = out
        .services()
        .iter()
        .find(|s| s.status() != Some("INACTIVE"))
        .cloned();
    found.ok_or_else(|| {
        let why = out
            .failures()
            .iter()
            .filter_map(|f| f.reason())
            .collect::<Vec<_>>()
            .join(", ");
        Error::rollout(format!(
            "service {service} not found in cluster {cluster} ({why})"
        ))
        .with_hint("apply the preview stack first; it creates the service")
    })
}

/// The template with our image and environment in the named container, read-only fields
/// stripped so it can be registered as a new revision.
pub fn render(
    template: &TaskDefinition,
    container: &str,
    image_ref: &str,
    environment: &[(String, String)],
) -> Result<TaskDefinition> {
    let mut td = strip_read_only(template);
    let containers = td.container_definitions.get_or_insert_with(Vec::new);
    let names: Vec<String> = containers
        .iter()
        .filter_map(|c| c.name().map(str::to_string))
        .collect();
    let target = containers.iter_mut().find(|c| c.name() == Some(container)).ok_or_else(|| {
        Error::rollout(format!(
            "the task definition {} has no container named `{container}` (it has: {})",
            template.task_definition_arn().unwrap_or_default(),
            names.join(", ")
        ))
        .with_hint("set container name in ecs-poc.yml to the container that runs the image, or fix the stack output container_name")
    })?;
    target.image = Some(image_ref.to_string());
    let env = target.environment.get_or_insert_with(Vec::new);
    for (name, value) in environment {
        env.retain(|kv| kv.name() != Some(name.as_str()));
        env.push(KeyValuePair::builder().name(name).value(value).build());
    }
    sort_env(target);
    Ok(td)
}

fn sort_env(c: &mut ContainerDefinition) {
    if let Some(env) = c.environment.as_mut() {
        env.sort_by(|a, b| a.name().cmp(&b.name()));
    }
}

/// What RegisterTaskDefinition accepts: everything ECS adds on its own is removed.
pub fn strip_read_only(td: &TaskDefinition) -> TaskDefinition {
    let mut td = td.clone();
    td.task_definition_arn = None;
    td.revision = 0;
    td.status = None;
    td.requires_attributes = None;
    td.compatibilities = None;
    td.registered_at = None;
    td.registered_by = None;
    td.deregistered_at = None;
    td.delete_requested_at = None;
    td
}

/// Same registrable content (environment order and empty-vs-absent lists ignored).
pub fn same_content(a: &TaskDefinition, b: &TaskDefinition) -> bool {
    fn norm(td: &TaskDefinition) -> TaskDefinition {
        let mut td = strip_read_only(td);
        if let Some(cs) = td.container_definitions.as_mut() {
            cs.iter_mut().for_each(sort_env);
        }
        empty_to_none(&mut td.volumes);
        empty_to_none(&mut td.placement_constraints);
        empty_to_none(&mut td.requires_compatibilities);
        td
    }
    norm(a) == norm(b)
}

fn empty_to_none<T>(list: &mut Option<Vec<T>>) {
    if list.as_ref().is_some_and(Vec::is_empty) {
        *list = None;
    }
}

async fn register(
    client: &aws_sdk_ecs::Client,
    td: &TaskDefinition,
    tags: Vec<aws_sdk_ecs::types::Tag>,
) -> Result<TaskDefinition> {
    let family = td.family().unwrap_or_default();
    let out = client
        .register_task_definition()
        .family(family)
        .set_container_definitions(td.container_definitions.clone())
        .set_task_role_arn(td.task_role_arn.clone())
        .set_execution_role_arn(td.execution_role_arn.clone())
        .set_network_mode(td.network_mode.clone())
        .set_volumes(td.volumes.clone())
        .set_placement_constraints(td.placement_constraints.clone())
        .set_requires_compatibilities(td.requires_compatibilities.clone())
        .set_cpu(td.cpu.clone())
        .set_memory(td.memory.clone())
        .set_pid_mode(td.pid_mode.clone())
        .set_ipc_mode(td.ipc_mode.clone())
        .set_proxy_configuration(td.proxy_configuration.clone())
        .set_ephemeral_storage(td.ephemeral_storage.clone())
        .set_runtime_platform(td.runtime_platform.clone())
        .set_enable_fault_injection(td.enable_fault_injection)
        .set_tags(if tags.is_empty() { None } else { Some(tags) })
        .send()
        .await
        .map_err(|e| {
            Error::rollout(format!(
                "RegisterTaskDefinition {family}: {}",
                crate::error::aws_message(&e)
            ))
            .with_source(e)
            .with_hint("check that the role may ecs:RegisterTaskDefinition and ecs:TagResource")
        })?;
    out.task_definition().cloned().ok_or_else(|| {
        Error::rollout(format!(
            "RegisterTaskDefinition {family} returned no task definition"
        ))
    })
}

/// Poll until our deployment is COMPLETED with running == desired; fail fast when it failed or
/// the service moved away from it. Returns the deployment id.
async fn wait(
    client: &aws_sdk_ecs::Client,
    req: &RolloutRequest,
    opts: &RolloutOptions,
    our_td: &str,
    mut our_id: Option<String>,
    seen: &mut HashSet<String>,
    on_event: &mut (dyn FnMut(&str) + Send),
) -> Result<Option<String>> {
    let poll = req.poll_interval.clamp(Duration::from_millis(50), MAX_POLL);
    let deadline = Instant::now() + req.timeout;
    let mut recent: Vec<String> = Vec::new();
    loop {
        let service = describe_service(client, &req.cluster, &req.service).await?;
        // ECS lists events newest first; print oldest first.
        for ev in service.events().iter().rev() {
            let id = ev.id().unwrap_or_default().to_string();
            if seen.insert(id) {
                let msg = ev.message().unwrap_or_default();
                on_event(msg);
                recent.push(msg.to_string());
            }
        }
        let deployments = service.deployments();
        let ours = deployments.iter().find(|d| match &our_id {
            Some(id) => d.id() == Some(id.as_str()),
            None => d.task_definition() == Some(our_td),
        });
        let primary = deployments.iter().find(|d| d.status() == Some("PRIMARY"));
        match ours {
            None => {
                let now = primary.and_then(|p| p.task_definition()).unwrap_or("none");
                let reasons = stopped_reasons(client, req, our_td).await;
                return Err(rolled_back(req, our_td, now, &reasons));
            }
            Some(d) => {
                if our_id.is_none() {
                    our_id = d.id().map(str::to_string);
                }
                let state = d.rollout_state();
                if state == Some(&DeploymentRolloutState::Failed) {
                    let why = d
                        .rollout_state_reason()
                        .unwrap_or("no reason given")
                        .to_string();
                    let reasons = stopped_reasons(client, req, our_td).await;
                    return Err(failed(req, &why, &reasons));
                }
                if d.status() != Some("PRIMARY") {
                    let now = primary.and_then(|p| p.task_definition()).unwrap_or("none");
                    let reasons = stopped_reasons(client, req, our_td).await;
                    return Err(rolled_back(req, our_td, now, &reasons));
                }
                let settled = match state {
                    Some(DeploymentRolloutState::Completed) => true,
                    // Without rollout state (old API shapes), only the sole deployment counts.
                    None => deployments.len() == 1,
                    Some(_) => false,
                };
                if settled && d.running_count() == d.desired_count() && d.desired_count() > 0 {
                    tracing::info!(
                        deployment = d.id().unwrap_or_default(),
                        running = d.running_count(),
                        "deployment completed"
                    );
                    return Ok(our_id);
                }
                tracing::debug!(
                    rollout = ?state,
                    running = d.running_count(),
                    desired = d.desired_count(),
                    pending = d.pending_count(),
                    "waiting"
                );
            }
        }
        let now = Instant::now();
        if now >= deadline {
            let last: Vec<&str> = last_events(&service, &recent, opts.events_in_errors);
            return Err(Error::rollout(format!(
                "service {} did not become stable on {our_td} within {} s; last events:\n{}",
                req.service,
                req.timeout.as_secs(),
                if last.is_empty() { "  (none)".to_string() } else { last.iter().map(|m| format!("  {m}")).collect::<Vec<_>>().join("\n") }
            ))
            .with_hint(
                "read the events above (placement, health checks, image pull); raise wait-timeout if the service is just slow to start",
            ));
        }
        tokio::time::sleep(poll.min(deadline - now)).await;
    }
}

fn last_events<'a>(service: &'a Service, recent: &'a [String], n: usize) -> Vec<&'a str> {
    if !recent.is_empty() {
        return recent[recent.len().saturating_sub(n)..]
            .iter()
            .map(String::as_str)
            .collect();
    }
    // Nothing new happened during the wait: quote the latest events the service has.
    let mut v: Vec<&str> = service
        .events()
        .iter()
        .take(n)
        .filter_map(|e| e.message())
        .collect();
    v.reverse();
    v
}

fn failed(req: &RolloutRequest, why: &str, reasons: &[String]) -> Error {
    Error::rollout(format!("deployment of {} failed: {why}{}", req.service, format_reasons(reasons))).with_hint(
        "the new tasks did not stay healthy; read the stopped tasks' reasons and the service's logs, fix, and push again",
    )
}

fn rolled_back(req: &RolloutRequest, ours: &str, now: &str, reasons: &[String]) -> Error {
    Error::rollout(format!(
        "deployment of {} was rolled back: the service now runs {now}, not {ours}{}",
        req.service,
        format_reasons(reasons)
    ))
    .with_hint("the deployment circuit breaker (or someone) replaced this deployment; read the stopped tasks' reasons and the service's logs")
}

fn format_reasons(reasons: &[String]) -> String {
    if reasons.is_empty() {
        String::new()
    } else {
        format!(
            "\nstopped tasks:\n{}",
            reasons
                .iter()
                .map(|r| format!("  {r}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    }
}

/// Why the tasks of our task definition stopped (best effort: an error here must not hide the
/// rollout failure being reported).
async fn stopped_reasons(
    client: &aws_sdk_ecs::Client,
    req: &RolloutRequest,
    our_td: &str,
) -> Vec<String> {
    let listed = client
        .list_tasks()
        .cluster(&req.cluster)
        .service_name(&req.service)
        .desired_status(DesiredStatus::Stopped)
        .max_results(100)
        .send()
        .await;
    let arns = match listed {
        Ok(out) => out.task_arns().to_vec(),
        Err(e) => {
            tracing::warn!(
                "could not list stopped tasks: {}",
                crate::error::aws_message(&e)
            );
            return Vec::new();
        }
    };
    if arns.is_empty() {
        return Vec::new();
    }
    let described = match client
        .describe_tasks()
        .cluster(&req.cluster)
        .set_tasks(Some(arns))
        .send()
        .await
    {
        Ok(out) => out,
        Err(e) => {
            tracing::warn!(
                "could not describe stopped tasks: {}",
                crate::error::aws_message(&e)
            );
            return Vec::new();
        }
    };
    let mut reasons: Vec<String> = Vec::new();
    for task in described
        .tasks()
        .iter()
        .filter(|t| t.task_definition_arn() == Some(our_td))
    {
        let id = task
            .task_arn()
            .and_then(|a| a.rsplit('/').next())
            .unwrap_or("?");
        let mut line = format!(
            "task {id}: {}",
            task.stopped_reason().unwrap_or("stopped (no reason given)")
        );
        for c in task.containers() {
            let mut parts = Vec::new();
            if let Some(code) = c.exit_code() {
                parts.push(format!("exit code {code}"));
            }
            if let Some(r) = c.reason() {
                parts.push(r.to_string());
            }
            if !parts.is_empty() {
                line.push_str(&format!(
                    "; container {}: {}",
                    c.name().unwrap_or("?"),
                    parts.join(", ")
                ));
            }
        }
        if !reasons.contains(&line) {
            reasons.push(line);
        }
        if reasons.len() >= 5 {
            break;
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> TaskDefinition {
        let app = ContainerDefinition::builder()
            .name("app")
            .image("placeholder")
            .environment(
                KeyValuePair::builder()
                    .name("SCRIPT_NAME")
                    .value("/pr-3")
                    .build(),
            )
            .environment(
                KeyValuePair::builder()
                    .name("APP_VERSION")
                    .value("unknown")
                    .build(),
            )
            .build();
        let sidecar = ContainerDefinition::builder()
            .name("log-router")
            .image("fluent-bit")
            .build();
        TaskDefinition::builder()
            .task_definition_arn("arn:aws:ecs:eu-west-2:123456789012:task-definition/pr-3:4")
            .family("pr-3")
            .revision(4)
            .status(aws_sdk_ecs::types::TaskDefinitionStatus::Active)
            .container_definitions(app)
            .container_definitions(sidecar)
            .registered_by("arn:aws:iam::123456789012:role/x")
            .build()
    }

    fn env_of(td: &TaskDefinition, name: &str) -> Vec<(String, String)> {
        td.container_definitions()
            .iter()
            .find(|c| c.name() == Some(name))
            .map(|c| {
                c.environment()
                    .iter()
                    .map(|kv| {
                        (
                            kv.name().unwrap_or_default().into(),
                            kv.value().unwrap_or_default().into(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn render_sets_image_and_overrides_env_in_the_named_container_only() {
        let td = render(
            &template(),
            "app",
            "repo@sha256:abc",
            &[("APP_VERSION".into(), "deadbeef".into())],
        )
        .unwrap();
        let app = td
            .container_definitions()
            .iter()
            .find(|c| c.name() == Some("app"))
            .unwrap();
        assert_eq!(app.image(), Some("repo@sha256:abc"));
        assert_eq!(
            env_of(&td, "app"),
            vec![
                ("APP_VERSION".into(), "deadbeef".into()),
                ("SCRIPT_NAME".into(), "/pr-3".into())
            ]
        );
        let side = td
            .container_definitions()
            .iter()
            .find(|c| c.name() == Some("log-router"))
            .unwrap();
        assert_eq!(side.image(), Some("fluent-bit"));
        // Read-only fields are gone, so RegisterTaskDefinition accepts it.
        assert_eq!(td.task_definition_arn(), None);
        assert_eq!(td.registered_by(), None);
        assert_eq!(td.status(), None);
        assert_eq!(td.revision(), 0);
    }

    #[test]
    fn render_names_the_containers_when_the_container_is_missing() {
        let e = render(&template(), "web", "i", &[]).unwrap_err();
        assert_eq!(e.exit_code(), 6);
        assert!(
            e.to_string().contains("`web`") && e.to_string().contains("app, log-router"),
            "{e}"
        );
        assert!(e.hint().unwrap_or_default().contains("ecs-poc.yml"));
    }

    #[test]
    fn same_content_ignores_revision_and_env_order_but_not_the_image() {
        let a = render(&template(), "app", "repo@sha256:abc", &[]).unwrap();
        let mut b = template();
        b.revision = 9;
        b.task_definition_arn = Some("arn:...:pr-3:9".into());
        let c = b
            .container_definitions
            .as_mut()
            .unwrap()
            .iter_mut()
            .find(|c| c.name() == Some("app"))
            .unwrap();
        c.image = Some("repo@sha256:abc".into());
        assert!(same_content(&a, &b));
        let c = b
            .container_definitions
            .as_mut()
            .unwrap()
            .iter_mut()
            .find(|c| c.name() == Some("app"))
            .unwrap();
        c.image = Some("repo@sha256:def".into());
        assert!(!same_content(&a, &b));
    }
}
