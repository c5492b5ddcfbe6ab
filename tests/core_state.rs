//! `sweep` finds preview stacks by their state keys in the bucket, through the same SDK
//! configuration the binary uses (no path-style switch: moto on an IP endpoint must work as is).

mod support;

use ecs_poc::pipeline::list_preview_stacks;

#[tokio::test]
async fn preview_stacks_are_the_preview_state_keys_and_nothing_else() {
    let moto = require!(support::Moto::start());
    let sdk = moto.sdk_config().await;
    let s3 = aws_sdk_s3::Client::new(&sdk);
    support::create_state_bucket(&s3, "state").await;
    for key in [
        "shared/terraform.tfstate",
        "preview/pr-12.tfstate",
        "preview/pr-3.tfstate",
        "preview/main.tfstate",
        "preview/pr-3.tfstate.tflock",
        "preview/notes.txt",
        "preview/../shared.tfstate",
        "preview/pr-07.tfstate",
    ] {
        s3.put_object()
            .bucket("state")
            .key(key)
            .body(Vec::from("{}").into())
            .send()
            .await
            .expect("put");
    }
    let stacks = list_preview_stacks(&s3, "state").await.expect("list");
    assert_eq!(stacks, ["main", "pr-3", "pr-12"]);

    let err = list_preview_stacks(&s3, "no-such-bucket")
        .await
        .expect_err("missing bucket");
    assert_eq!(err.exit_code(), 4);
    assert!(err.hint().unwrap_or_default().contains("state-bucket"));
}
