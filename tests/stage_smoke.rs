//! The smoke check against a real HTTP server on loopback (a scripted health endpoint in Python).

mod support;

use std::time::{Duration, Instant};

use ecs_poc::smoke;

/// Serves `/pr-3/healthz`: the first two requests 503 (targets registering), then one answer
/// from an old task (`version: old`), then `version: new` for good.
const SERVER: &str = r#"
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
seen = {"n": 0}
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        if self.path != "/pr-3/healthz":
            self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers(); return
        seen["n"] += 1
        n = seen["n"]
        if n <= 2:
            code, body = 503, b"<html>503 Service Temporarily Unavailable</html>"
        else:
            code, body = 200, json.dumps({"status": "ok", "version": "old" if n == 3 else "new"}).encode()
        self.send_response(code); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print("READY %d" % s.server_address[1], flush=True)
s.serve_forever()
"#;

fn server() -> Result<support::Service, String> {
    let py = support::venv_python()?;
    support::spawn_ready("health", &py, &["-u", "-c", SERVER], &[])
}

#[tokio::test]
async fn retries_through_503s_and_an_old_version_until_the_new_one_answers() {
    let s = require!(server());
    let endpoint = format!("{}/pr-3/", s.url());
    let v = smoke::check(&endpoint, "new", 10, Duration::from_millis(50))
        .await
        .expect("smoke check passes");
    assert_eq!(v, "new");
}

#[tokio::test]
async fn wrong_version_fails_with_what_was_seen_and_exit_code_6() {
    let s = require!(server());
    let endpoint = format!("{}/pr-3", s.url());
    let err = smoke::check(&endpoint, "abc123", 5, Duration::from_millis(20))
        .await
        .expect_err("version never matches");
    assert_eq!(err.exit_code(), 6);
    let text = err.to_string();
    assert!(
        text.contains("/pr-3/healthz answered version `new`, expected `abc123` (after 5 attempts)"),
        "{text}"
    );
    assert!(
        err.hint()
            .unwrap_or_default()
            .contains("smoke-check: false")
    );
}

#[tokio::test]
async fn nothing_listening_fails_after_the_attempts_with_the_cause() {
    // A port that was free a moment ago: nothing answers on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let started = Instant::now();
    let err = smoke::check(
        &format!("http://127.0.0.1:{port}/"),
        "v",
        3,
        Duration::from_millis(100),
    )
    .await
    .expect_err("refused");
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(err.exit_code(), 6);
    let text = err.to_string();
    assert!(
        text.contains("did not answer") && text.contains("after 3 attempts"),
        "{text}"
    );
}

#[tokio::test]
async fn not_found_reports_the_status() {
    let s = require!(server());
    let err = smoke::check(
        &format!("{}/pr-9/", s.url()),
        "new",
        2,
        Duration::from_millis(10),
    )
    .await
    .expect_err("404");
    assert!(err.to_string().contains("answered 404"), "{err}");
}
