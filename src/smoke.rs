//! The smoke check: GET `{endpoint}/healthz` and check it reports the deployed version, the
//! last proof that the load balancer sends users to the new tasks.
//!
//! Retries cover the moments right after a rollout when the load balancer still registers
//! targets (502/503) or an old task still answers; the last thing seen is what the error says.

use std::time::Duration;

use crate::{Error, Result};

/// Per-request limit: a health endpoint that takes longer than this is not healthy.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// `{endpoint}/healthz` (one slash between them).
pub fn health_url(endpoint: &str) -> String {
    format!("{}/healthz", endpoint.trim_end_matches('/'))
}

pub async fn check(
    endpoint: &str,
    expected_version: &str,
    attempts: u32,
    delay: Duration,
) -> Result<String> {
    let url = health_url(endpoint);
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(Error::config(format!(
            "smoke check: endpoint `{endpoint}` is not an http(s) URL"
        ))
        .with_hint(
            "the stack output endpoint_url must be a full URL such as http://ALB_DNS/pr-12/",
        ));
    }
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| {
            Error::rollout(format!("smoke check: cannot build an HTTP client: {e}")).with_source(e)
        })?;
    let attempts = attempts.max(1);
    let mut last = String::from("no answer");
    for attempt in 1..=attempts {
        match client.get(&url).send().await {
            Ok(resp) => {
                let status = resp.status();
                let body = resp.text().await.unwrap_or_default();
                if status.is_success() {
                    match reported_version(&body) {
                        Some(v) if v == expected_version => {
                            tracing::info!(%url, version = %v, attempt, "smoke check passed");
                            return Ok(v);
                        }
                        Some(v) => {
                            last = format!("answered version `{v}`, expected `{expected_version}`")
                        }
                        None => {
                            last = format!(
                                "answered {status} without a JSON `version`: {}",
                                snippet(&body)
                            )
                        }
                    }
                } else {
                    last = format!("answered {status}: {}", snippet(&body));
                }
            }
            Err(e) => last = format!("did not answer: {}", error_chain(&e)),
        }
        tracing::debug!(%url, attempt, attempts, "smoke check: {last}");
        if attempt < attempts {
            tokio::time::sleep(delay).await;
        }
    }
    Err(Error::rollout(format!("smoke check: {url} {last} (after {attempts} attempts)")).with_hint(
        "the service is stable in ECS but its endpoint does not serve the new version: check the load balancer's target health and the app's logs; set smoke-check: false where the runner cannot reach the endpoint",
    ))
}

/// The part of the app's `/healthz` answer the smoke check reads.
#[derive(serde::Deserialize)]
struct Health {
    version: Option<String>,
}

fn reported_version(body: &str) -> Option<String> {
    serde_json::from_str::<Health>(body).ok()?.version
}

fn snippet(body: &str) -> String {
    let one_line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 120 {
        format!("{}...", one_line.chars().take(120).collect::<String>())
    } else if one_line.is_empty() {
        "(empty body)".into()
    } else {
        one_line
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        parts.push(s.to_string());
        cur = s.source();
    }
    parts.dedup();
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_joins_with_one_slash() {
        assert_eq!(health_url("http://alb/pr-12/"), "http://alb/pr-12/healthz");
        assert_eq!(health_url("http://alb"), "http://alb/healthz");
    }

    #[test]
    fn version_comes_from_the_json_body() {
        assert_eq!(
            reported_version(r#"{"status":"ok","version":"abc"}"#).as_deref(),
            Some("abc")
        );
        assert_eq!(reported_version("<html>ok</html>"), None);
        assert_eq!(reported_version(r#"{"version": 3}"#), None);
    }

    #[tokio::test]
    async fn not_a_url_is_a_config_error() {
        let e = check("alb.example/pr-1", "v", 1, Duration::ZERO)
            .await
            .unwrap_err();
        assert_eq!(e.exit_code(), 2);
    }
}
