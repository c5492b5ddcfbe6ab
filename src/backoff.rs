//! Retrying with jittered exponential backoff, for the calls whose client has no retry strategy
//! of its own worth using (the OIDC token request, the GitHub API), and as the retry settings
//! handed to the AWS SDK's own strategy (STS).

use std::future::Future;
use std::time::Duration;

use aws_config::retry::RetryConfig;

/// Jittered exponential backoff ("full jitter": a random delay up to the exponential bound).
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            attempts: 8,
            base: Duration::from_millis(300),
            cap: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// Upper bound of the delay after failed attempt `n` (0-based).
    pub fn bound(&self, n: u32) -> Duration {
        let factor = 2u32.saturating_pow(n.min(20));
        self.base.saturating_mul(factor).min(self.cap)
    }

    pub fn delay(&self, n: u32) -> Duration {
        let bound = self.bound(n).as_millis() as u64;
        Duration::from_millis(rand::random_range(0..=bound))
    }

    /// These settings as the AWS SDK's standard retry strategy.
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard()
            .with_max_attempts(self.attempts.max(1))
            .with_initial_backoff(self.base)
            .with_max_backoff(self.cap)
    }

    /// Runs `op` until it succeeds, fails with an error `retryable` rejects, or the attempts
    /// are used up (then the last error is returned).
    pub async fn retry<T, E, F, Fut>(
        &self,
        mut op: F,
        retryable: impl Fn(&E) -> bool,
    ) -> std::result::Result<T, E>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, E>>,
    {
        let mut n = 0;
        loop {
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if n + 1 < self.attempts && retryable(&e) => {
                    let d = self.delay(n);
                    tracing::info!(
                        attempt = n + 1,
                        delay_ms = d.as_millis() as u64,
                        "transient failure; retrying"
                    );
                    tokio::time::sleep(d).await;
                    n += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_bound_grows_and_is_capped() {
        let b = Backoff {
            attempts: 5,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        assert_eq!(b.bound(0), Duration::from_millis(100));
        assert_eq!(b.bound(3), Duration::from_millis(800));
        assert_eq!(b.bound(10), Duration::from_secs(1));
        for n in 0..8 {
            assert!(b.delay(n) <= b.bound(n));
        }
    }

    #[tokio::test]
    async fn retry_stops_on_a_non_retryable_error_and_after_the_attempts() {
        let b = Backoff {
            attempts: 3,
            base: Duration::from_millis(1),
            cap: Duration::from_millis(2),
        };
        let mut calls = 0;
        let r: std::result::Result<(), &str> = b
            .retry(
                || {
                    calls += 1;
                    async { Err("throttled") }
                },
                |_| true,
            )
            .await;
        assert!(r.is_err());
        assert_eq!(calls, 3);
        let mut calls = 0;
        let r: std::result::Result<(), &str> = b
            .retry(
                || {
                    calls += 1;
                    async { Err("denied") }
                },
                |_| false,
            )
            .await;
        assert!(r.is_err());
        assert_eq!(calls, 1);
    }
}
