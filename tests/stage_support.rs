//! The test helpers themselves: moto starts on a free port, answers the SDK, and is gone after drop.

mod support;

#[tokio::test]
async fn moto_starts_on_a_free_port_answers_and_stops_on_drop() {
    let moto = require!(support::Moto::start());
    let port = moto.service.port;
    let ecr = aws_sdk_ecr::Client::new(&moto.sdk_config().await);
    let created = ecr
        .create_repository()
        .repository_name("support-check")
        .send()
        .await
        .expect("moto answers ECR");
    let uri = created
        .repository()
        .and_then(|r| r.repository_uri())
        .unwrap_or_default()
        .to_string();
    assert_eq!(uri, format!("{}/support-check", support::ecr_host()));
    drop(moto);
    let gone = std::net::TcpStream::connect(("127.0.0.1", port));
    assert!(gone.is_err(), "moto still listening on {port} after drop");
}
