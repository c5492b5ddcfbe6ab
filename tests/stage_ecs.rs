//! The rollout stage over real sockets: the SDK talks to `tests/fakes/fake_ecs.py`, which scripts the
//! rollout moto cannot play and forwards everything else (register, update, describe) to moto.
//! Each scenario asserts what the user sees: the events printed, the error text, the exit code.
//! The tests run the fake on its poll clock (the n-th DescribeServices sees the script's state at
//! n), so they assert on which poll the rollout ended, never on how long it took.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use ecs_poc::ecs::{self, RolloutOutcome, RolloutRequest};

const DIGEST: &str = "123456789012.dkr.ecr.eu-west-2.amazonaws.com/ecs-poc@sha256:1111111111111111111111111111111111111111111111111111111111111111";

struct World {
    _moto: support::Moto,
    fake: support::Service,
    ecs: aws_sdk_ecs::Client,
    template: String,
}

/// A cluster and a 2-task service on revision 1 in moto, and a client that goes through the fake.
/// `clock` is what advances the fake's script: `polls` for the tests, `seconds` for the benchmark.
async fn world(scenario: &str, steady_after: &str, clock: &str) -> Result<World, String> {
    let moto = support::Moto::start()?;
    let fake = support::start_fake_ecs(&moto, scenario, steady_after, clock)?;
    let direct = aws_sdk_ecs::Client::new(&moto.sdk_config().await);
    let template = support::seed_ecs(
        &direct,
        &support::EcsSeed {
            cluster: "poc",
            family: "ecs-poc-pr-3",
            service: Some("pr-3"),
            environment: &[("SCRIPT_NAME", "/pr-3"), ("APP_VERSION", "unknown")],
            tags: &[("Stack", "pr-3")],
        },
    )
    .await?;
    let ecs = aws_sdk_ecs::Client::new(&support::sdk_config(&fake.url()).await);
    Ok(World {
        _moto: moto,
        fake,
        ecs,
        template,
    })
}

fn request(w: &World, timeout: Duration) -> RolloutRequest {
    RolloutRequest {
        cluster: "poc".into(),
        service: "pr-3".into(),
        template_task_definition: w.template.clone(),
        container_name: "app".into(),
        image_ref: DIGEST.into(),
        environment: vec![("APP_VERSION".into(), "0123abc".into())],
        timeout,
        poll_interval: Duration::from_millis(500),
    }
}

async fn run(w: &World, req: &RolloutRequest) -> (ecs_poc::Result<RolloutOutcome>, Vec<String>) {
    let events = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = events.clone();
    let mut on_event = move |m: &str| sink.lock().expect("events lock").push(m.to_string());
    let result = ecs::roll_out(&w.ecs, req, &mut on_event).await;
    let seen = events.lock().expect("events lock").clone();
    (result, seen)
}

/// The fake's record of the rollouts it scripted.
async fn fake_state(w: &World) -> serde_json::Value {
    reqwest::get(format!("{}/_fake/state", w.fake.url()))
        .await
        .expect("state")
        .json()
        .await
        .expect("json")
}

/// How many DescribeServices calls saw the rollout of the service `pr-3`.
async fn polls(w: &World) -> u64 {
    fake_state(w).await["rollouts"]["pr-3"]["polls"]
        .as_u64()
        .expect("polls of pr-3")
}

fn position(events: &[String], needle: &str) -> usize {
    events
        .iter()
        .position(|e| e.contains(needle))
        .unwrap_or_else(|| panic!("no event with {needle:?} in {events:#?}"))
}

#[tokio::test]
async fn completed_rollout_streams_events_in_order_and_a_rerun_is_unchanged() {
    let w = require!(world("complete", "4", "polls").await);
    let (result, events) = run(&w, &request(&w, Duration::from_secs(60))).await;
    let outcome = result.expect("rollout completes");
    assert!(!outcome.unchanged);
    assert_eq!(outcome.revision, 2, "{outcome:?}");
    assert!(
        outcome
            .deployment_id
            .as_deref()
            .is_some_and(|d| d.starts_with("ecs-svc/"))
    );
    // Running == desired from poll 2, but the deployment is IN_PROGRESS until poll 4: the rollout
    // ends on the first poll that shows it COMPLETED, neither before nor after.
    assert_eq!(polls(&w).await, 4, "the poll that ended the rollout");
    // Each event once, oldest first.
    let (s, t, c) = (
        position(&events, "has started"),
        position(&events, "registered 2 targets"),
        position(&events, "reached a steady state"),
    );
    assert!(s < t && t < c, "{events:#?}");
    assert_eq!(events.len(), 4, "{events:#?}");

    // The new revision runs our digest and the overridden environment, with the template's tags.
    let td = w
        .ecs
        .describe_task_definition()
        .task_definition(&outcome.task_definition_arn)
        .include(aws_sdk_ecs::types::TaskDefinitionField::Tags)
        .send()
        .await
        .expect("describe");
    let app = &td.task_definition().expect("td").container_definitions()[0];
    assert_eq!(app.image(), Some(DIGEST));
    let env: Vec<(&str, &str)> = app
        .environment()
        .iter()
        .map(|kv| (kv.name().unwrap_or(""), kv.value().unwrap_or("")))
        .collect();
    assert_eq!(
        env,
        vec![("APP_VERSION", "0123abc"), ("SCRIPT_NAME", "/pr-3")]
    );
    assert!(
        td.tags()
            .iter()
            .any(|t| t.key() == Some("Stack") && t.value() == Some("pr-3")),
        "{:?}",
        td.tags()
    );
    let svc = w
        .ecs
        .describe_services()
        .cluster("poc")
        .services("pr-3")
        .send()
        .await
        .expect("describe service");
    assert_eq!(
        svc.services()[0].task_definition(),
        Some(outcome.task_definition_arn.as_str())
    );

    // Same image again: nothing registered, nothing updated.
    let (again, _) = run(&w, &request(&w, Duration::from_secs(10))).await;
    let again = again.expect("unchanged rollout");
    assert!(again.unchanged);
    assert_eq!(again.task_definition_arn, outcome.task_definition_arn);
    let revisions = w
        .ecs
        .list_task_definitions()
        .family_prefix("ecs-poc-pr-3")
        .send()
        .await
        .expect("list");
    assert_eq!(
        revisions.task_definition_arns().len(),
        2,
        "{:?}",
        revisions.task_definition_arns()
    );
}

#[tokio::test]
async fn failed_deployment_fails_fast_with_the_stopped_tasks_reasons() {
    let w = require!(world("fail", "2", "polls").await);
    let (result, events) = run(&w, &request(&w, Duration::from_secs(60))).await;
    let err = result.expect_err("a FAILED deployment must fail the rollout");
    // Fail-fast: it ends on the poll that shows the deployment FAILED, not at the timeout.
    assert_eq!(polls(&w).await, 2, "the poll that ended the rollout");
    assert_eq!(err.exit_code(), 6);
    let text = err.to_string();
    assert!(
        text.contains("deployment of pr-3 failed: ECS deployment circuit breaker"),
        "{text}"
    );
    assert!(
        text.contains("Essential container in task exited; container app: exit code 3"),
        "{text}"
    );
    assert!(text.contains("Task failed ELB health checks"), "{text}");
    assert!(err.hint().is_some());
    position(&events, "deployment failed: tasks failed to start");
}

#[tokio::test]
async fn rolled_back_service_is_a_failure_even_though_it_is_steady() {
    let w = require!(world("rollback", "1", "polls").await);
    let (result, events) = run(&w, &request(&w, Duration::from_secs(60))).await;
    let err = result.expect_err("a rollback must not be reported as success");
    assert_eq!(err.exit_code(), 6);
    let text = err.to_string();
    assert!(
        text.contains("was rolled back: the service now runs") && text.contains(":1, not"),
        "{text}"
    );
    assert!(text.contains("Task failed ELB health checks"), "{text}");
    position(&events, "rolling back");
}

#[tokio::test]
async fn never_stable_times_out_quoting_the_last_events() {
    let w = require!(world("stuck", "1", "polls").await);
    let (result, events) = run(&w, &request(&w, Duration::from_secs(3))).await;
    let err = result.expect_err("a stuck deployment must time out");
    assert_eq!(err.exit_code(), 6);
    let text = err.to_string();
    assert!(
        text.contains("did not become stable") && text.contains("within 3 s"),
        "{text}"
    );
    assert!(text.contains("unable to place a task"), "{text}");
    assert!(err.hint().unwrap_or_default().contains("wait-timeout"));
    position(&events, "unable to place a task");
    // It kept polling the stuck deployment until the timeout rather than giving up on a poll.
    assert!(polls(&w).await >= 2, "{}", fake_state(&w).await);
    // The fake saw exactly one rollout (no retries that would register more revisions).
    let state = fake_state(&w).await;
    assert_eq!(state["rollouts"].as_object().map(|o| o.len()), Some(1));
}

#[tokio::test]
async fn missing_container_is_a_clear_error_before_anything_is_registered() {
    let w = require!(world("complete", "1", "polls").await);
    let mut req = request(&w, Duration::from_secs(5));
    req.container_name = "web".into();
    let (result, _) = run(&w, &req).await;
    let err = result.expect_err("unknown container");
    assert_eq!(err.exit_code(), 6);
    assert!(
        err.to_string()
            .contains("no container named `web` (it has: app)"),
        "{err}"
    );
    let revisions = w
        .ecs
        .list_task_definitions()
        .family_prefix("ecs-poc-pr-3")
        .send()
        .await
        .expect("list");
    assert_eq!(revisions.task_definition_arns().len(), 1);
}

/// Benchmark, not a test (`bench/pipeline/run.sh` runs it): how long after the fake ECS reaches
/// steady state does `roll_out` return, polling at the pipeline's 5 s. Prints one JSON line.
#[tokio::test]
#[ignore = "benchmark: run by bench/pipeline/run.sh"]
async fn bench_wait_notice_latency() {
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let mut latencies = Vec::new();
    for round in 0..rounds {
        // Spread the steady moment over the poll cycle, so the rounds sample every phase.
        let steady_after = 3.0 + 5.0 * round as f64 / rounds as f64;
        let w = require!(world("complete", &format!("{steady_after:.2}"), "seconds").await);
        let mut req = request(&w, Duration::from_secs(120));
        req.poll_interval = Duration::from_secs(5);
        let (result, _) = run(&w, &req).await;
        result.expect("rollout completes");
        let noticed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs_f64();
        let state: serde_json::Value = reqwest::get(format!("{}/_fake/state", w.fake.url()))
            .await
            .expect("state")
            .json()
            .await
            .expect("json");
        let steady_at = state["rollouts"]["pr-3"]["steady_at"]
            .as_f64()
            .expect("steady_at");
        latencies.push(noticed - steady_at);
    }
    let max = latencies.iter().cloned().fold(f64::MIN, f64::max);
    let mean = latencies.iter().sum::<f64>() / latencies.len() as f64;
    println!(
        "{}",
        serde_json::json!({"poll_seconds": 5, "rounds": rounds, "mean_s": mean, "max_s": max, "latencies_s": latencies})
    );
}
