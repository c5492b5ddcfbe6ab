//! `environments:` in ecs-poc.yml as a user meets it: which environment a run acts on, what each
//! one's settings become (with flags and inputs still on top), the stacks' variables and
//! repositories derived from its name, and the errors for a file or a promotion that cannot work.
//! Nothing here talks to AWS: every case is decided before credentials.

mod support;

use std::collections::BTreeMap;

use clap::Parser;
use ecs_poc::cli::{Cli, SubCommand};
use ecs_poc::domain::{Command, StackName};
use ecs_poc::pipeline::{self, Run};

type Env = BTreeMap<String, String>;

const TWO_ACCOUNTS: &str = "\
aws-region: eu-central-1
state-bucket: top-level-state
environments:
  staging:
    aws-region: eu-west-2
    role-to-assume: arn:aws:iam::111111111111:role/ecs-poc-staging-deploy-shared
    preview-role-to-assume: arn:aws:iam::111111111111:role/ecs-poc-staging-deploy-preview
    state-bucket: ecs-poc-staging-state
    previews: true
  production:
    aws-region: eu-west-1
    role-to-assume: arn:aws:iam::222222222222:role/ecs-poc-production-deploy-shared
    state-bucket: ecs-poc-production-state
    promote-from: staging
";

struct Fixture {
    dir: tempfile::TempDir,
    env: Env,
}

impl Fixture {
    /// An Actions run of `event_name` with `config` as ecs-poc.yml.
    fn actions(event_name: &str, event: serde_json::Value, config: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = support::actions_run_env(dir.path(), event_name, &event, config);
        Self { dir, env }
    }

    fn push(config: &str) -> Self {
        Self::actions(
            "push",
            serde_json::json!({
                "ref": "refs/heads/main",
                "repository": {"full_name": "acme/shop", "default_branch": "main"}
            }),
            config,
        )
    }

    fn pull_request(config: &str) -> Self {
        Self::actions(
            "pull_request",
            serde_json::json!({
                "action": "opened",
                "number": 12,
                "pull_request": {
                    "number": 12,
                    "head": {"sha": "feedfacefeedfacefeedfacefeedfacefeedface", "repo": {"full_name": "acme/shop"}},
                    "base": {"repo": {"full_name": "acme/shop"}}
                },
                "repository": {"full_name": "acme/shop", "default_branch": "main"}
            }),
            config,
        )
    }

    /// From a terminal: no event.
    fn local(config: &str) -> Self {
        let mut f = Self::actions("", serde_json::json!({}), config);
        for k in ["GITHUB_ACTIONS", "GITHUB_EVENT_NAME", "GITHUB_EVENT_PATH"] {
            f.env.remove(k);
        }
        f
    }

    fn set(mut self, k: &str, v: &str) -> Self {
        self.env.insert(k.into(), v.into());
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

    fn error(&self, args: &[&str]) -> ecs_poc::Error {
        match self.prepare(args) {
            Ok(run) => panic!(
                "{args:?}: expected a configuration error, got environment {}",
                run.settings.environment
            ),
            Err(e) => e,
        }
    }

    fn path(&self) -> String {
        self.dir.path().join("ecs-poc.yml").display().to_string()
    }
}

#[test]
fn a_push_deploys_the_environment_that_is_not_promoted_into_and_a_pull_request_the_previews_one() {
    let run_push = Fixture::push(TWO_ACCOUNTS);
    let run = run_push.prepare(&[]).expect("push");
    assert_eq!(run.command, Command::Deploy);
    assert_eq!(run.settings.environment, "staging");

    let f = Fixture::pull_request(&TWO_ACCOUNTS.replace("    previews: true\n", "").replace(
        "    promote-from: staging\n",
        "    promote-from: staging\n    previews: true\n",
    ));
    let run = f.prepare(&[]).expect("pull request");
    assert_eq!(
        run.settings.environment, "production",
        "a pull request goes where previews: true is, whatever else that environment is"
    );

    let f = Fixture::pull_request(&TWO_ACCOUNTS.replace("    previews: true\n", ""));
    let err = f.error(&[]);
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("previews: true"), "{err}");
}

#[test]
fn several_built_environments_need_an_explicit_choice() {
    let config = "environments:\n  dev: {}\n  staging: {}\n";
    let err = Fixture::push(config).error(&[]);
    assert_eq!(err.exit_code(), 2);
    assert!(err.to_string().contains("dev, staging"), "{err}");
    assert!(
        err.hint().is_some_and(|h| h.contains("--environment")),
        "{err:?}"
    );

    let f = Fixture::push(config);
    assert_eq!(
        f.prepare(&["--environment", "dev"])
            .expect("flag")
            .settings
            .environment,
        "dev"
    );
    let f = Fixture::push(config).set("INPUT_ENVIRONMENT", "staging");
    assert_eq!(
        f.prepare(&[]).expect("input").settings.environment,
        "staging"
    );
    let f = f.set("ECS_POC_ENVIRONMENT", "dev");
    assert_eq!(
        f.prepare(&[]).expect("variable").settings.environment,
        "dev",
        "ECS_POC_ENVIRONMENT over the input"
    );
    assert_eq!(
        f.prepare(&["--environment", "staging"])
            .expect("flag")
            .settings
            .environment,
        "staging",
        "the flag over both"
    );
}

#[test]
fn an_unknown_environment_lists_the_known_ones() {
    for f in [
        Fixture::push(TWO_ACCOUNTS).set("INPUT_ENVIRONMENT", "prod"),
        Fixture::push(TWO_ACCOUNTS).set("ECS_POC_ENVIRONMENT", "prod"),
    ] {
        let err = f.error(&[]);
        assert_eq!(err.exit_code(), 2);
        let text = err.to_string();
        assert!(text.contains("unknown environment `prod`"), "{text}");
        assert!(text.contains("production, staging"), "{text}");
    }
    let err = Fixture::push(TWO_ACCOUNTS).error(&["--environment", "prod"]);
    assert!(err.to_string().contains("production, staging"), "{err}");

    let err = Fixture::push("").error(&["--environment", "staging"]);
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string().contains("only environment is `main`"),
        "{err}"
    );
}

#[test]
fn an_environment_overrides_the_top_level_keys_and_flags_and_inputs_override_it() {
    let f = Fixture::push(TWO_ACCOUNTS);
    let s = f
        .prepare(&["plan", "--environment", "production"])
        .expect("production")
        .settings;
    assert_eq!(s.aws_region, "eu-west-1");
    assert_eq!(s.state_bucket.as_deref(), Some("ecs-poc-production-state"));
    assert_eq!(
        s.role_to_assume.as_deref(),
        Some("arn:aws:iam::222222222222:role/ecs-poc-production-deploy-shared")
    );

    // A key the environment leaves out falls back to the top level.
    let f = Fixture::push(&TWO_ACCOUNTS.replace("    aws-region: eu-west-1\n", ""));
    let s = f
        .prepare(&["plan", "--environment", "production"])
        .expect("production")
        .settings;
    assert_eq!(s.aws_region, "eu-central-1");

    let f = Fixture::push(TWO_ACCOUNTS)
        .set("INPUT_STATE-BUCKET", "from-input")
        .set(
            "INPUT_ROLE-TO-ASSUME",
            "arn:aws:iam::333333333333:role/mine",
        );
    let s = f
        .prepare(&["--aws-region", "us-east-1"])
        .expect("staging")
        .settings;
    assert_eq!(s.environment, "staging");
    assert_eq!(s.aws_region, "us-east-1", "flag over the environment");
    assert_eq!(
        s.state_bucket.as_deref(),
        Some("from-input"),
        "input over the environment"
    );
    assert_eq!(
        s.role_to_assume.as_deref(),
        Some("arn:aws:iam::333333333333:role/mine")
    );
    assert_eq!(
        s.preview_role_to_assume, None,
        "an explicit role-to-assume is used for previews too"
    );

    let s = Fixture::pull_request(TWO_ACCOUNTS)
        .prepare(&[])
        .expect("pull request")
        .settings;
    assert_eq!(
        s.preview_role_to_assume.as_deref(),
        Some("arn:aws:iam::111111111111:role/ecs-poc-staging-deploy-preview")
    );
}

#[test]
fn the_environment_names_the_stacks_and_the_repositories() {
    let f = Fixture::push(TWO_ACCOUNTS);
    let run = f
        .prepare(&["plan", "--environment", "production"])
        .expect("production");
    let pr = StackName::for_pull_request(3).expect("pr-3");
    assert_eq!(
        run.settings.image_repository_for(&StackName::main()),
        "ecs-poc-production"
    );
    assert_eq!(
        run.settings.image_repository_for(&pr),
        "ecs-poc-production-previews"
    );
    let shared = run.shared_stack("ecs-poc-production-state");
    assert_eq!(
        shared.vars.get("environment").map(String::as_str),
        Some("production")
    );
    assert_eq!(shared.backend_region, "eu-west-1");
    // Production takes no previews, so its shared stack builds no preview infrastructure;
    // staging, which takes them, keeps the stack's default.
    assert_eq!(
        shared.vars.get("previews").map(String::as_str),
        Some("false")
    );
    let staging = f.prepare(&["--environment", "staging"]).expect("staging");
    assert!(!staging.shared_stack("b").vars.contains_key("previews"));
    let main = run.preview_stack("ecs-poc-production-state", &StackName::main());
    assert_eq!(
        main.vars.get("environment").map(String::as_str),
        Some("production")
    );
    assert_eq!(
        main.vars.get("region").map(String::as_str),
        Some("eu-west-1")
    );

    // Without environments: exactly as before, no `environment` variable, `ecs-poc-main`.
    let f = Fixture::push("");
    let run = f.prepare(&[]).expect("implicit main");
    assert_eq!(run.settings.environment, "main");
    assert!(!run.settings.named_environment);
    assert_eq!(
        run.settings.image_repository_for(&StackName::main()),
        "ecs-poc-main"
    );
    assert!(!run.shared_stack("b").vars.contains_key("environment"));
    assert!(!run.shared_stack("b").vars.contains_key("previews"));
    assert!(
        !run.preview_stack("b", &StackName::main())
            .vars
            .contains_key("environment")
    );
}

#[test]
fn a_name_too_long_for_the_stacks_is_refused_before_terraform_would() {
    let config = "environments:\n  integration-tests:\n    aws-region: eu-west-2\n";
    let err = Fixture::push(config).error(&[]);
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string()
            .contains("`ecs-poc-integration-tests`, 25 characters; at most 21"),
        "{err}"
    );
    for bad in ["staging-", "pre--prod"] {
        let err = Fixture::push(&format!("environments:\n  {bad}: {{}}\n")).error(&[]);
        assert!(
            err.to_string().contains("is not a valid environment name"),
            "{bad}: {err}"
        );
    }
}

#[test]
fn file_errors_point_at_the_line_and_column() {
    let cases = [
        (
            TWO_ACCOUNTS.replace("promote-from: staging", "promote-from: stagin"),
            "ecs-poc.yml:14:5",
            "no environment `stagin` (known: production, staging)",
        ),
        (
            TWO_ACCOUNTS.replace("promote-from: staging", "promote-from: production"),
            "ecs-poc.yml:14:5",
            "names `production` itself",
        ),
        (
            TWO_ACCOUNTS.replace("  production:", "  Production:"),
            "ecs-poc.yml:10:3",
            "`Production` is not a valid environment name",
        ),
        (
            TWO_ACCOUNTS.replace(
                "    promote-from: staging\n",
                "    promote-from: staging\n    previews: true\n",
            ),
            "ecs-poc.yml:9:5",
            "production, staging all have `previews: true`",
        ),
        (
            TWO_ACCOUNTS.replace(
                "arn:aws:iam::111111111111:role/ecs-poc-staging-deploy-preview",
                "deploy-preview",
            ),
            "ecs-poc.yml:7:5",
            "preview-role-to-assume `deploy-preview` is not an IAM role ARN",
        ),
        (
            TWO_ACCOUNTS.replace(
                "    previews: true\n",
                "    previews: true\n    preview: true\n",
            ),
            "ecs-poc.yml:10:5",
            "unknown field `preview`",
        ),
    ];
    for (yaml, at, says) in cases {
        let f = Fixture::push(&yaml);
        let err = f.error(&[]);
        assert_eq!(err.exit_code(), 2, "{says}");
        let text = err.to_string();
        assert!(
            text.contains(&format!(
                "{}{}",
                f.path().trim_end_matches("ecs-poc.yml"),
                at
            )),
            "{says}: expected {at} in {text}"
        );
        assert!(text.contains(says), "{says}: {text}");
    }
}

/// promote's first step, before any credentials: the target must name the source.
async fn promote_error(config: &str, args: &[&str]) -> ecs_poc::Error {
    let f = Fixture::local(config).set("ECS_POC_STATE_BUCKET", "unused");
    let run = f.prepare(args).expect("prepare");
    assert_eq!(run.command, Command::Promote);
    let (report, error) = run.execute().await;
    assert!(
        report.stages.is_empty(),
        "refused before any stage ran: {:?}",
        report.stages
    );
    error.expect("refused")
}

#[tokio::test]
async fn promote_is_refused_unless_the_target_names_the_source_as_its_promote_from() {
    let three = format!("{TWO_ACCOUNTS}  dev: {{}}\n");
    let err = promote_error(&three, &["promote", "--from", "dev", "--to", "production"]).await;
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string()
            .contains("production only accepts images from staging, not from dev"),
        "{err}"
    );

    let err = promote_error(
        &three,
        &["promote", "--from", "production", "--to", "staging"],
    )
    .await;
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string().contains("staging has no promote-from"),
        "{err}"
    );
    assert!(
        err.hint()
            .is_some_and(|h| h.contains("promote-from: production")),
        "{err:?}"
    );

    let err = promote_error(&three, &["promote", "--to", "production"]).await;
    assert!(err.to_string().contains("--from"), "{err}");

    let err = promote_error(&three, &["promote", "--from", "qa", "--to", "production"]).await;
    assert!(
        err.to_string()
            .contains("unknown environment `qa` (known: dev, production, staging)"),
        "{err}"
    );

    let f = Fixture::local(TWO_ACCOUNTS);
    let err = f.error(&["promote", "--from", "staging", "--to", "prod"]);
    assert!(
        err.to_string().contains("production, staging"),
        "an unknown --to lists the known ones: {err}"
    );
    let err = f.error(&["promote", "--from", "staging"]);
    assert!(err.to_string().contains("promote needs --to"), "{err}");
    let err = f.error(&[
        "promote",
        "--from",
        "staging",
        "--to",
        "production",
        "--environment",
        "staging",
    ]);
    assert!(err.to_string().contains("disagree"), "{err}");

    let err = promote_error("", &["promote", "--from", "staging", "--to", "main"]).await;
    assert!(err.to_string().contains("environments:"), "{err}");
}

#[test]
fn promote_acts_on_the_to_environment_from_inputs_too() {
    let f = Fixture::push(TWO_ACCOUNTS)
        .set("INPUT_COMMAND", "promote")
        .set("INPUT_FROM", "staging")
        .set("INPUT_TO", "production");
    let run = f.prepare(&[]).expect("promote from inputs");
    assert_eq!(run.command, Command::Promote);
    assert_eq!(run.settings.environment, "production");
    assert_eq!(run.settings.aws_region, "eu-west-1");
    let (source, env) = run.settings.promotion_source().expect("allowed");
    assert_eq!(source, "staging");
    let read = run.settings.source_settings(&source, &env);
    assert_eq!(read.aws_region, "eu-west-2");
    assert_eq!(
        read.role_to_assume.as_deref(),
        Some("arn:aws:iam::111111111111:role/ecs-poc-staging-deploy-shared"),
        "without promote-source-role, the source's deploy role"
    );

    // A source without its own region is read in the file's top-level region, not the target's.
    let f = Fixture::local(&TWO_ACCOUNTS.replace("    aws-region: eu-west-2\n", ""));
    let run = f
        .prepare(&["promote", "--from", "staging", "--to", "production"])
        .expect("promote");
    let (source, env) = run.settings.promotion_source().expect("allowed");
    assert_eq!(run.settings.aws_region, "eu-west-1");
    assert_eq!(
        run.settings.source_settings(&source, &env).aws_region,
        "eu-central-1"
    );

    let with_source_role = TWO_ACCOUNTS.replace(
        "    previews: true\n",
        "    previews: true\n    promote-source-role: arn:aws:iam::111111111111:role/ecs-poc-staging-promote-source\n",
    );
    let f = Fixture::local(&with_source_role);
    let run = f
        .prepare(&["promote", "--from", "staging", "--to", "production"])
        .expect("promote");
    let (source, env) = run.settings.promotion_source().expect("allowed");
    assert_eq!(
        run.settings
            .source_settings(&source, &env)
            .role_to_assume
            .as_deref(),
        Some("arn:aws:iam::111111111111:role/ecs-poc-staging-promote-source")
    );
}

#[test]
fn a_promotion_s_report_names_the_digest_the_source_and_its_commit() {
    let digest = format!("sha256:{}", "4".repeat(64));
    let mut report = ecs_poc::report::Report::new(Command::Promote);
    report.environment = Some("production".into());
    report.stack = Some(StackName::main());
    report.digest = Some(digest.clone());
    report.source_environment = Some("staging".into());
    report.source_commit = Some("c0ffee1".into());

    let outputs: BTreeMap<&str, String> = report.outputs().into_iter().collect();
    assert_eq!(outputs.get("digest"), Some(&digest));
    assert_eq!(
        outputs.get("source-environment").map(String::as_str),
        Some("staging")
    );
    assert_eq!(
        outputs.get("source-commit").map(String::as_str),
        Some("c0ffee1")
    );
    assert_eq!(
        outputs.get("environment").map(String::as_str),
        Some("production")
    );

    let json: serde_json::Value = serde_json::from_str(&report.to_json()).expect("json");
    assert_eq!(json["command"], "promote");
    assert_eq!(json["digest"], digest.as_str());
    assert_eq!(json["source_environment"], "staging");
    assert_eq!(json["source_commit"], "c0ffee1");

    let summary = ecs_poc::comment::render_summary(&report);
    assert!(
        summary.contains("runs the image promoted from `staging`"),
        "{summary}"
    );
    assert!(
        summary.contains(&format!("`{digest}`, built from commit `c0ffee1`")),
        "{summary}"
    );

    // Without environments and promote, none of these appear (the JSON stays as it was).
    let plain = ecs_poc::report::Report::new(Command::Deploy);
    let json: serde_json::Value = serde_json::from_str(&plain.to_json()).expect("json");
    for key in [
        "environment",
        "digest",
        "source_environment",
        "source_commit",
    ] {
        assert!(json.get(key).is_none(), "{key} in {json}");
    }
    assert!(
        plain
            .outputs()
            .iter()
            .all(|(name, _)| !["environment", "digest"].contains(name))
    );
}

#[test]
fn destroy_and_sweep_act_on_the_selected_environment_s_bucket_region_and_role() {
    let f = Fixture::local(TWO_ACCOUNTS);
    // A pull request's teardown by hand goes where its preview was deployed.
    let s = f
        .prepare(&["destroy", "--pull-request", "3"])
        .expect("destroy")
        .settings;
    assert_eq!(
        (
            s.environment.as_str(),
            s.state_bucket.as_deref(),
            s.aws_region.as_str()
        ),
        ("staging", Some("ecs-poc-staging-state"), "eu-west-2")
    );
    assert_eq!(
        s.preview_role_to_assume.as_deref(),
        Some("arn:aws:iam::111111111111:role/ecs-poc-staging-deploy-preview")
    );
    let s = f.prepare(&["sweep"]).expect("sweep").settings;
    assert_eq!(s.state_bucket.as_deref(), Some("ecs-poc-staging-state"));
    let s = f
        .prepare(&["sweep", "--environment", "production"])
        .expect("sweep production")
        .settings;
    assert_eq!(
        (s.state_bucket.as_deref(), s.aws_region.as_str()),
        (Some("ecs-poc-production-state"), "eu-west-1")
    );
    assert_eq!(
        s.role_to_assume.as_deref(),
        Some("arn:aws:iam::222222222222:role/ecs-poc-production-deploy-shared")
    );
    let run = f
        .prepare(&["destroy", "--stack", "pr-4", "--environment", "production"])
        .expect("destroy in production");
    let stack = run.preview_stack(
        "ecs-poc-production-state",
        &StackName::parse("pr-4").expect("pr-4"),
    );
    assert_eq!(stack.backend_region, "eu-west-1");
    assert_eq!(stack.backend_key, "preview/pr-4.tfstate");
}

#[test]
fn a_deploy_into_an_environment_that_takes_promotions_is_refused() {
    let err = Fixture::push(TWO_ACCOUNTS).error(&["deploy", "--environment", "production"]);
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.to_string()
            .contains("production receives images only by promotion from staging"),
        "{err}"
    );
    assert!(
        err.hint()
            .is_some_and(|h| h.contains("ecs-poc promote --from staging --to production")),
        "{err:?}"
    );
    // Its source still deploys from builds.
    Fixture::push(TWO_ACCOUNTS)
        .prepare(&["deploy", "--environment", "staging"])
        .expect("staging deploys");
}
