//! The core's behaviour without any server: event -> command and stack, settings precedence
//! and errors, comment rendering (snapshots), truncation, masking, workflow files.

mod support;

use std::collections::BTreeMap;
use std::io::Write;

use clap::Parser;
use ecs_poc::cli::{Cli, Command, OutputFormat, SubCommand};
use ecs_poc::comment::{self, GITHUB_COMMENT_LIMIT};
use ecs_poc::config::Settings;
use ecs_poc::domain::{StackName, SweepAction};
use ecs_poc::ecs::RolloutOutcome;
use ecs_poc::github::Workflow;
use ecs_poc::image::BuiltImage;
use ecs_poc::pipeline::{self, Run};
use ecs_poc::report::{ErrorRecord, PlanRecord, Report, StageRecord, StageStatus, Status};
use ecs_poc::terraform::{PlanSummary, ResourceChange};

type Env = BTreeMap<String, String>;

struct Fixture {
    dir: tempfile::TempDir,
    env: Env,
}

impl Fixture {
    /// An Actions-like environment with `event` as the payload and an empty config file.
    fn actions(event_name: &str, event: serde_json::Value) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = support::actions_run_env(dir.path(), event_name, &event, "");
        Self { dir, env }
    }

    fn local() -> Self {
        let mut f = Self::actions("", serde_json::json!({}));
        for k in [
            "GITHUB_ACTIONS",
            "GITHUB_EVENT_NAME",
            "GITHUB_EVENT_PATH",
            "GITHUB_REPOSITORY",
        ] {
            f.env.remove(k);
        }
        f
    }

    fn set(mut self, k: &str, v: &str) -> Self {
        self.env.insert(k.into(), v.into());
        self
    }

    fn config(self, yaml: &str) -> Self {
        std::fs::write(self.dir.path().join("ecs-poc.yml"), yaml).expect("write config");
        self
    }

    fn prepare(&self, args: &[&str]) -> ecs_poc::Result<Run<'_>> {
        let mut argv = vec!["ecs-poc"];
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).expect("arguments parse");
        pipeline::prepare(
            cli.command.as_ref().and_then(SubCommand::command),
            &cli.options,
            &self.env,
        )
    }
}

fn pull_request(action: &str, number: u64, head_repo: &str) -> serde_json::Value {
    serde_json::json!({
        "action": action,
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"sha": "feedfacefeedfacefeedfacefeedfacefeedface", "repo": {"full_name": head_repo}},
            "base": {"repo": {"full_name": "acme/shop"}}
        },
        "repository": {"full_name": "acme/shop", "default_branch": "main"}
    })
}

fn stack_of(run: &Run<'_>) -> String {
    pipeline::resolve_stack(&run.settings, &run.ctx)
        .expect("a stack")
        .to_string()
}

fn stack(name: &str) -> StackName {
    StackName::parse(name).expect("a stack name")
}

#[test]
fn opened_synchronize_reopened_pull_requests_deploy_their_own_stack() {
    for action in ["opened", "synchronize", "reopened"] {
        let f = Fixture::actions("pull_request", pull_request(action, 12, "acme/shop"));
        let run = f.prepare(&[]).expect("prepare");
        assert_eq!(run.command, Command::Deploy, "{action}");
        assert_eq!(stack_of(&run), "pr-12");
        assert!(!run.ctx.from_fork());
        // The version is the head commit the author pushed, not GitHub's merge commit.
        assert_eq!(
            run.ctx.commit().as_deref(),
            Some("feedfacefeedfacefeedfacefeedfacefeedface")
        );
    }
}

#[test]
fn a_closed_pull_request_destroys_its_stack() {
    let f = Fixture::actions("pull_request", pull_request("closed", 12, "acme/shop"));
    let run = f.prepare(&[]).expect("prepare");
    assert_eq!(run.command, Command::Destroy);
    assert_eq!(stack_of(&run), "pr-12");
    // Destroy names the same commit deploy did: the head, not GITHUB_SHA's merge commit.
    assert_eq!(
        run.ctx.commit().as_deref(),
        Some("feedfacefeedfacefeedfacefeedfacefeedface")
    );
}

#[test]
fn a_pull_request_from_a_fork_is_recognised() {
    let f = Fixture::actions("pull_request", pull_request("opened", 3, "stranger/shop"));
    assert!(f.prepare(&[]).expect("prepare").ctx.from_fork());
    let mut deleted_fork = pull_request("opened", 4, "x/y");
    deleted_fork["pull_request"]["head"]["repo"] = serde_json::Value::Null;
    let f = Fixture::actions("pull_request", deleted_fork);
    assert!(f.prepare(&[]).expect("prepare").ctx.from_fork());
}

#[test]
fn a_push_to_the_default_branch_deploys_main_and_other_branches_are_refused() {
    let push = |r: &str| serde_json::json!({"ref": r, "repository": {"full_name": "acme/shop", "default_branch": "main"}});
    let f = Fixture::actions("push", push("refs/heads/main"));
    let run = f.prepare(&[]).expect("prepare");
    assert_eq!(
        (run.command, stack_of(&run).as_str()),
        (Command::Deploy, "main")
    );

    let f = Fixture::actions("push", push("refs/heads/feature"));
    let run = f.prepare(&[]).expect("prepare");
    let err = pipeline::resolve_stack(&run.settings, &run.ctx)
        .expect_err("no stack for a feature branch");
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("refs/heads/feature"), "{err}");
}

#[test]
fn workflow_dispatch_with_a_pull_request_input_destroys_that_stack() {
    let f = Fixture::actions("workflow_dispatch", serde_json::json!({"inputs": {}}))
        .set("INPUT_PULL-REQUEST", "7");
    let run = f.prepare(&[]).expect("prepare");
    assert_eq!(
        (run.command, stack_of(&run).as_str()),
        (Command::Destroy, "pr-7")
    );

    let f = Fixture::actions("workflow_dispatch", serde_json::json!({"inputs": {}}));
    let err = f
        .prepare(&[])
        .err()
        .expect("nothing to do without pull-request");
    assert_eq!(err.exit_code(), 2);
    assert!(err.hint().unwrap_or_default().contains("pull-request"));
}

#[test]
fn a_schedule_sweeps() {
    let f = Fixture::actions("schedule", serde_json::json!({"schedule": "0 3 * * *"}));
    assert_eq!(f.prepare(&[]).expect("prepare").command, Command::Sweep);
}

#[test]
fn the_subcommand_and_the_command_input_override_the_event() {
    let f = Fixture::actions("pull_request", pull_request("opened", 12, "acme/shop"))
        .set("INPUT_COMMAND", "plan");
    assert_eq!(f.prepare(&[]).expect("prepare").command, Command::Plan);
    assert_eq!(
        f.prepare(&["destroy"]).expect("prepare").command,
        Command::Destroy
    );
    let err = f
        .prepare(&["destroy", "--command", "deploy"])
        .err()
        .expect("contradiction");
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn outside_actions_without_a_command_the_user_is_told_what_to_run() {
    let f = Fixture::local();
    let err = f.prepare(&[]).err().expect("no command");
    assert_eq!(err.exit_code(), 2);
    assert!(err.hint().unwrap_or_default().contains("ecs-poc deploy"));
}

#[test]
fn precedence_is_flag_then_environment_then_input_then_file_then_default() {
    let f = Fixture::local();
    let s = |f: &Fixture, args: &[&str]| -> Settings { f.prepare(args).expect("prepare").settings };
    assert_eq!(s(&f, &["plan"]).aws_region, "eu-west-2", "default");

    let f = f.config("aws-region: eu-central-1\nwait-timeout: 600\nsmoke-check: false\n");
    assert_eq!(
        s(&f, &["plan"]).aws_region,
        "eu-central-1",
        "file over default"
    );
    assert_eq!(s(&f, &["plan"]).wait_timeout.as_secs(), 600);
    assert!(!s(&f, &["plan"]).smoke_check);

    let f = f
        .set("INPUT_AWS-REGION", "us-east-1")
        .set("INPUT_SMOKE-CHECK", "true");
    assert_eq!(s(&f, &["plan"]).aws_region, "us-east-1", "input over file");
    assert!(s(&f, &["plan"]).smoke_check);

    let f = f.set("ECS_POC_AWS_REGION", "us-west-2");
    assert_eq!(
        s(&f, &["plan"]).aws_region,
        "us-west-2",
        "ECS_POC_ over INPUT_"
    );

    assert_eq!(
        s(&f, &["plan", "--aws-region", "ap-south-1"]).aws_region,
        "ap-south-1",
        "flag over all"
    );
    assert!(!s(&f, &["plan", "--smoke-check", "false"]).smoke_check);
}

#[test]
fn the_runners_region_comes_after_everything_set_for_ecs_poc() {
    let s = |f: &Fixture, args: &[&str]| -> String {
        f.prepare(args).expect("prepare").settings.aws_region
    };
    let f = Fixture::local().set("AWS_DEFAULT_REGION", "ca-central-1");
    assert_eq!(
        s(&f, &["plan"]),
        "ca-central-1",
        "AWS_DEFAULT_REGION over default"
    );
    let f = f.set("AWS_REGION", "sa-east-1");
    assert_eq!(
        s(&f, &["plan"]),
        "sa-east-1",
        "AWS_REGION over AWS_DEFAULT_REGION"
    );
    let f = f.config("aws-region: eu-central-1\n");
    assert_eq!(s(&f, &["plan"]), "eu-central-1", "file over the runner's");
    let f = f.set("INPUT_AWS-REGION", "us-east-1");
    assert_eq!(s(&f, &["plan"]), "us-east-1", "input over the runner's");
    assert_eq!(
        s(&f, &["plan", "--aws-region", "ap-south-1"]),
        "ap-south-1",
        "flag over all"
    );
}

#[test]
fn empty_inputs_count_as_unset() {
    // A composite action passes every input, given or not.
    let f = Fixture::local()
        .config("state-bucket: from-file\n")
        .set("INPUT_STATE-BUCKET", "")
        .set("INPUT_OUTPUT", "");
    let s = f.prepare(&["plan"]).expect("prepare").settings;
    assert_eq!(s.state_bucket.as_deref(), Some("from-file"));
    assert_eq!(s.output, OutputFormat::Text);
}

#[test]
fn boolean_flags_work_alone_and_with_a_value() {
    let f = Fixture::local();
    assert!(
        f.prepare(&["destroy", "--force"])
            .expect("prepare")
            .settings
            .force
    );
    assert!(
        !f.prepare(&["destroy", "--force", "false"])
            .expect("prepare")
            .settings
            .force
    );
    assert!(!f.prepare(&["destroy"]).expect("prepare").settings.force);
}

#[test]
fn unknown_keys_in_the_config_file_are_errors_with_line_and_column() {
    let f = Fixture::local()
        .config("aws-region: eu-west-2\nservice:\n  desired-count: 2\n  desried-cpu: 256\n");
    let err = f.prepare(&["plan"]).err().expect("unknown key");
    assert_eq!(err.exit_code(), 2);
    let text = err.to_string();
    assert!(text.contains("ecs-poc.yml:4:3"), "{text}");
    assert!(text.contains("desried-cpu"), "{text}");
}

#[test]
fn wrong_types_and_bad_values_are_configuration_errors_that_say_what_to_do() {
    let cases: Vec<(Fixture, &str)> = vec![
        (
            Fixture::local().config("wait-timeout: soon\n"),
            "wait-timeout",
        ),
        (
            Fixture::local().set("INPUT_WAIT-TIMEOUT", "soon"),
            "wait-timeout",
        ),
        (
            Fixture::local().set("INPUT_SMOKE-CHECK", "maybe"),
            "smoke-check",
        ),
        (
            Fixture::local().set("INPUT_AWS-REGION", "Frankfurt"),
            "aws-region",
        ),
        (
            Fixture::local().set("INPUT_ROLE-TO-ASSUME", "deploy-role"),
            "role-to-assume",
        ),
        (
            Fixture::local().set("INPUT_ROLE-DURATION-SECONDS", "60"),
            "role-duration-seconds",
        ),
        (Fixture::local().set("INPUT_STACK", "shared"), "stack"),
        (Fixture::local().set("INPUT_OUTPUT", "yaml"), "output"),
    ];
    for (f, needle) in cases {
        let err = f
            .prepare(&["plan"])
            .err()
            .unwrap_or_else(|| panic!("{needle}: expected an error"));
        assert_eq!(err.exit_code(), 2, "{needle}");
        assert!(err.to_string().contains(needle), "{needle}: {err}");
    }
}

#[test]
fn a_named_config_file_that_does_not_exist_is_an_error_but_the_default_one_may_be_absent() {
    let f = Fixture::local().set("ECS_POC_CONFIG", "/nonexistent/ecs-poc.yml");
    assert_eq!(
        f.prepare(&["plan"])
            .err()
            .expect("missing file")
            .exit_code(),
        2
    );
}

// ---------------------------------------------------------------- rendering

fn summary(add: usize, change: usize, destroy: usize, replace: usize) -> PlanSummary {
    PlanSummary {
        add,
        change,
        destroy,
        replace,
        resources: vec![ResourceChange {
            address: "aws_ecs_service.app".into(),
            action: "update".into(),
        }],
    }
}

fn deploy_report() -> Report {
    let mut r = Report::new(Command::Deploy);
    r.stack = Some(stack("pr-12"));
    r.pull_request = Some(12);
    r.repository = Some("acme/shop".into());
    r.commit = Some("feedfacefeedfacefeedfacefeedfacefeedface".into());
    r.run_url = Some("https://github.com/acme/shop/actions/runs/987".into());
    r.updated_at = Some("2026-11-25 12:00 UTC".into());
    r.stages = vec![
        StageRecord {
            name: "credentials".into(),
            status: StageStatus::Ok,
            seconds: 0.4,
            detail: None,
        },
        StageRecord {
            name: "terraform".into(),
            status: StageStatus::Ok,
            seconds: 41.2,
            detail: Some("shared: 1 change(s); pr-12: 3 change(s), applied".into()),
        },
        StageRecord {
            name: "image".into(),
            status: StageStatus::Ok,
            seconds: 1.1,
            detail: Some("already in ECR: build skipped".into()),
        },
        StageRecord {
            name: "rollout".into(),
            status: StageStatus::Ok,
            seconds: 63.0,
            detail: Some("revision 4 is stable".into()),
        },
        StageRecord {
            name: "smoke check".into(),
            status: StageStatus::Ok,
            seconds: 0.2,
            detail: None,
        },
    ];
    r.plans = vec![
        PlanRecord { stack: "shared".into(), applied: false, summary: summary(0, 1, 0, 0), text: "  # aws_lb.main will be updated in-place\n  ~ idle_timeout = 60 -> 120\n".into() },
        PlanRecord { stack: "pr-12".into(), applied: true, summary: summary(2, 0, 0, 1), text: "  # aws_ecs_service.app must be replaced\n-/+ resource \"aws_ecs_service\" \"app\" {}\n".into() },
    ];
    r.image = Some(BuiltImage {
        repository_uri: "123456789012.dkr.ecr.eu-west-2.amazonaws.com/ecs-poc".into(),
        tag: "c0ffee1234".into(),
        digest: "sha256:abc123".into(),
        image_ref: "123456789012.dkr.ecr.eu-west-2.amazonaws.com/ecs-poc@sha256:abc123".into(),
        reused: true,
    });
    r.rollout = Some(RolloutOutcome {
        task_definition_arn: "arn:aws:ecs:eu-west-2:123456789012:task-definition/ecs-poc-pr-12:4"
            .into(),
        revision: 4,
        deployment_id: Some("ecs-svc/123".into()),
        unchanged: false,
    });
    r.endpoint = Some("http://ecs-poc-alb-1.eu-west-2.elb.amazonaws.com/pr-12/".into());
    r.smoke_version = Some("feedfacefeedfacefeedfacefeedfacefeedface".into());
    r
}

#[test]
fn a_successful_deploy_comment() {
    insta::assert_snapshot!("deploy_success", comment::render_comment(&deploy_report()));
}

#[test]
fn a_failed_rollout_comment_shows_the_error_and_what_to_do() {
    let mut r = deploy_report();
    r.status = Status::Failure;
    r.smoke_version = None;
    r.stages.truncate(4);
    r.stages[3] = StageRecord {
        name: "rollout".into(),
        status: StageStatus::Failed,
        seconds: 95.5,
        detail: Some("rolled back".into()),
    };
    r.error = Some(ErrorRecord {
        category: ecs_poc::Category::Rollout,
        exit_code: 6,
        message: "deployment ecs-svc/123 FAILED and was rolled back: task stopped: Essential container in task exited (exit code 3)".into(),
        hint: Some("read the stopped tasks' logs in CloudWatch log group /ecs/ecs-poc".into()),
        stage: Some("rollout".into()),
    });
    let body = comment::render_comment(&r);
    assert!(body.contains("failed at rollout"));
    insta::assert_snapshot!("deploy_failure", body);
}

#[test]
fn a_teardown_comment_says_when() {
    let mut r = Report::new(Command::Destroy);
    r.stack = Some(stack("pr-12"));
    r.pull_request = Some(12);
    r.torn_down_at = Some("2026-11-25 12:30 UTC".into());
    r.updated_at = Some("2026-11-25 12:30 UTC".into());
    r.deleted_images = vec!["sha256:abc".into()];
    r.plans = vec![PlanRecord {
        stack: "pr-12".into(),
        applied: true,
        summary: summary(0, 0, 7, 0),
        text: "Plan: 0 to add, 0 to change, 7 to destroy.\n".into(),
    }];
    r.stages = vec![StageRecord {
        name: "terraform destroy".into(),
        status: StageStatus::Ok,
        seconds: 12.0,
        detail: None,
    }];
    insta::assert_snapshot!("destroy", comment::render_comment(&r));
}

#[test]
fn a_huge_plan_is_cut_at_a_line_boundary_and_the_comment_says_so() {
    let mut r = deploy_report();
    let line =
        "  + resource \"aws_security_group_rule\" \"rule\" { cidr_blocks = [\"10.0.0.0/16\"] }\n";
    r.plans[1].text = line.repeat(3_000); // ~240 kB
    let body = comment::render_comment(&r);
    assert!(body.len() < GITHUB_COMMENT_LIMIT, "{} bytes", body.len());
    assert!(body.contains("Plan truncated to fit GitHub's comment limit"));
    assert!(body.contains("in the job summary"));
    // Whole lines only: every plan line in the block is complete.
    let block = body.split("```text\n").nth(2).expect("second plan block");
    let plan_part = block.split("```\n").next().expect("closing fence");
    assert!(plan_part.lines().all(|l| l == line.trim_end_matches('\n')));
    // The summary table and the endpoint survive the cut.
    assert!(body.contains("| `pr-12` | 2 | 0 | 1 | 0 | applied |"));
    assert!(body.contains("**Endpoint:**"));
    // The step summary keeps the whole plan.
    let summary = comment::render_summary(&r);
    assert!(summary.matches("security_group_rule").count() == 3_000);
}

#[test]
fn a_plan_containing_backticks_cannot_close_the_code_block() {
    let mut r = deploy_report();
    r.plans[1].text = "  + description = \"```\\nrm -rf\"\n  + other = \"``````\"\n".into();
    let body = comment::render_comment(&r);
    assert!(
        body.contains("```````text\n"),
        "fence longer than the 6 backticks in the plan"
    );
}

#[test]
fn secrets_are_masked_in_outputs_summaries_and_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let wf = Workflow {
        in_actions: false,
        output_file: Some(dir.path().join("output")),
        summary_file: Some(dir.path().join("summary")),
    };
    let secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY";
    wf.add_mask(secret);
    let mut r = deploy_report();
    r.endpoint = Some(format!("http://x/?leak={secret}"));
    r.notes.push(format!("note with {secret}"));
    wf.write_outputs(&r).expect("outputs");
    wf.append_summary(&comment::render_summary(&r))
        .expect("summary");
    let outputs = std::fs::read_to_string(dir.path().join("output")).expect("read");
    let summary = std::fs::read_to_string(dir.path().join("summary")).expect("read");
    for text in [outputs.as_str(), summary.as_str(), r.to_json().as_str()] {
        assert!(!text.contains(secret), "secret leaked: {text}");
        assert!(text.contains("***"));
    }
}

#[test]
fn outputs_use_the_multi_line_safe_form() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("output");
    let mut existing = std::fs::File::create(&path).expect("create");
    writeln!(existing, "earlier=value").expect("write");
    let wf = Workflow {
        in_actions: true,
        output_file: Some(path.clone()),
        summary_file: None,
    };
    wf.set_output("endpoint", "line one\nline two")
        .expect("set");
    let text = std::fs::read_to_string(&path).expect("read");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("earlier=value"),
        "appends, never truncates"
    );
    let header = lines.next().expect("header");
    let delimiter = header.strip_prefix("endpoint<<").expect("heredoc form");
    assert_eq!(lines.next(), Some("line one"));
    assert_eq!(lines.next(), Some("line two"));
    assert_eq!(lines.next(), Some(delimiter));
    let json: serde_json::Value = serde_json::from_str(&deploy_report().to_json()).expect("json");
    assert_eq!(json["status"], "success");
    assert_eq!(json["command"], "deploy");
    assert_eq!(json["stack"], "pr-12");
    // The plans are summarised; their text (which can be megabytes) stays out of the JSON.
    assert_eq!(json["plans"][1]["summary"]["replace"], 1);
    assert!(
        json["plans"]
            .as_array()
            .expect("plans")
            .iter()
            .all(|p| p.get("text").is_none()),
        "{json}"
    );
}

#[test]
fn the_committed_config_schema_is_current() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/ecs-poc.schema.json");
    let fresh = ecs_poc::config::schema_json();
    if std::env::var("UPDATE_SCHEMA").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, &fresh).expect("write schema");
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "schema/ecs-poc.schema.json is stale: run `make schema` and commit it"
    );
}

#[test]
fn a_no_change_plan_is_a_row_of_zeros_without_a_plan_block() {
    let mut r = deploy_report();
    r.plans[0].summary = summary(0, 0, 0, 0);
    r.plans[0].text = "No changes. Your infrastructure matches the configuration.\n".into();
    let body = comment::render_comment(&r);
    assert!(body.contains("| `shared` | 0 | 0 | 0 | 0 | plan only |"));
    assert!(!body.contains("<code>shared</code>"), "{body}");
    assert!(body.contains("<code>pr-12</code>"));
}

#[test]
fn the_sweep_summary_counts_what_it_did_per_stack() {
    use ecs_poc::report::SweepRecord;
    let mut r = Report::new(Command::Sweep);
    r.updated_at = Some("2026-11-25 03:00 UTC".into());
    r.swept = vec![
        SweepRecord {
            stack: stack("pr-1"),
            pull_request_state: "closed".into(),
            action: SweepAction::Destroyed,
            reason: None,
        },
        SweepRecord {
            stack: stack("pr-2"),
            pull_request_state: "open".into(),
            action: SweepAction::Kept,
            reason: None,
        },
    ];
    insta::assert_snapshot!("sweep", comment::render_summary(&r));
}
