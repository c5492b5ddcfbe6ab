//! Teardown's image bookkeeping against moto's ECR: a stack removes only its own tags and
//! deletes an image only when no other stack still uses it.

mod support;

use ecs_poc::domain::StackName;
use ecs_poc::image::BuiltImage;
use ecs_poc::image::ecr::{delete_stack_images, stack_tag, tag_for_stack};

fn stack(name: &str) -> StackName {
    StackName::parse(name).expect("a stack name")
}

const REPO: &str = "cleanup-check";

fn manifest(layer: &str) -> String {
    serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 7023,
                   "digest": format!("sha256:{}", "c".repeat(64))},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": 32654,
                    "digest": format!("sha256:{}", layer.repeat(64))}]
    })
    .to_string()
}

async fn push(ecr: &aws_sdk_ecr::Client, tag: &str, layer: &str) -> BuiltImage {
    let out = ecr
        .put_image()
        .repository_name(REPO)
        .image_manifest(manifest(layer))
        .image_tag(tag)
        .send()
        .await
        .expect("put_image");
    let digest = out
        .image()
        .and_then(|i| i.image_id())
        .and_then(|i| i.image_digest())
        .expect("digest")
        .to_string();
    let uri = format!("{}/{REPO}", support::ecr_host());
    BuiltImage {
        image_ref: format!("{uri}@{digest}"),
        repository_uri: uri,
        tag: tag.into(),
        digest,
        reused: false,
    }
}

async fn tags(ecr: &aws_sdk_ecr::Client) -> Vec<String> {
    let out = ecr
        .describe_images()
        .repository_name(REPO)
        .send()
        .await
        .expect("describe");
    let mut all: Vec<String> = out
        .image_details()
        .iter()
        .flat_map(|d| d.image_tags().to_vec())
        .collect();
    all.sort();
    all
}

#[tokio::test]
async fn a_shared_image_survives_until_its_last_stack_is_torn_down() {
    let moto = require!(support::Moto::start());
    let ecr = aws_sdk_ecr::Client::new(&moto.sdk_config().await);

    // Nothing to delete when the repository is already gone.
    assert!(
        delete_stack_images(&ecr, REPO, &stack("pr-1"))
            .await
            .expect("no repo")
            .is_empty()
    );

    ecr.create_repository()
        .repository_name(REPO)
        .send()
        .await
        .expect("repo");
    let shared = push(&ecr, "content-a", "a").await;
    let only_pr1 = push(&ecr, "content-b", "b").await;
    tag_for_stack(&ecr, REPO, &shared, &stack("pr-1"))
        .await
        .expect("tag pr-1");
    tag_for_stack(&ecr, REPO, &shared, &stack("pr-12"))
        .await
        .expect("tag pr-12");
    tag_for_stack(&ecr, REPO, &only_pr1, &stack("pr-1"))
        .await
        .expect("tag pr-1 b");
    // Tagging again (a redeploy of the same content) is not an error.
    tag_for_stack(&ecr, REPO, &shared, &stack("pr-1"))
        .await
        .expect("tag pr-1 again");
    assert_eq!(
        tags(&ecr).await,
        [
            "content-a",
            "content-b",
            "stack-pr-1.content-a",
            "stack-pr-1.content-b",
            "stack-pr-12.content-a"
        ]
    );

    let removed = delete_stack_images(&ecr, REPO, &stack("pr-1"))
        .await
        .expect("delete pr-1");
    assert_eq!(removed.len(), 2, "{removed:?}");
    // pr-12 still uses content-a, so only pr-1's tag went; content-b was pr-1's alone.
    assert_eq!(tags(&ecr).await, ["content-a", "stack-pr-12.content-a"]);
    assert_eq!(
        stack_tag(&stack("pr-12"), "content-a"),
        "stack-pr-12.content-a"
    );

    // Idempotent: a second teardown of pr-1 finds nothing.
    assert!(
        delete_stack_images(&ecr, REPO, &stack("pr-1"))
            .await
            .expect("again")
            .is_empty()
    );

    delete_stack_images(&ecr, REPO, &stack("pr-12"))
        .await
        .expect("delete pr-12");
    assert!(tags(&ecr).await.is_empty());
}
