//! Stage 7: GET {endpoint}/healthz and check it reports the deployed version.
//! CONTRACT (owned by the AWS-stages helper): check(endpoint, expected_version, attempts, delay) -> reported version.
#![allow(dead_code, unused_variables)]

use std::time::Duration;

use crate::Result;

pub async fn check(endpoint: &str, expected_version: &str, attempts: u32, delay: Duration) -> Result<String> {
    todo!()
}
