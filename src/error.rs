//! One error type for the core; `anyhow` is used only at the edge (`main.rs`).
//! Every variant belongs to a category with its own exit code so a workflow can tell
//! a bad input from a failed rollout without parsing text.

use thiserror::Error;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Error)]
pub enum Error {
    /// Bad flags, inputs, config file or event: the user must change something.
    #[error("configuration: {message}")]
    Config {
        message: String,
        hint: Option<String>,
    },
    /// OIDC token or STS role assumption failed.
    #[error("credentials: {message}")]
    Credentials {
        message: String,
        hint: Option<String>,
    },
    /// terraform init/plan/apply/destroy/output failed.
    #[error("terraform: {message}")]
    Terraform {
        message: String,
        hint: Option<String>,
    },
    /// docker build/login/push or ECR failed.
    #[error("image: {message}")]
    Image {
        message: String,
        hint: Option<String>,
    },
    /// ECS register/update failed, rollout failed, rolled back, timed out, or smoke check failed.
    #[error("rollout: {message}")]
    Rollout {
        message: String,
        hint: Option<String>,
    },
    /// GitHub API (comments, pull request state) failed.
    #[error("github: {message}")]
    GitHub {
        message: String,
        hint: Option<String>,
    },
}

impl Error {
    /// Exit codes are part of the public interface (documented in README.md).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config { .. } => 2,
            Error::Credentials { .. } => 3,
            Error::Terraform { .. } => 4,
            Error::Image { .. } => 5,
            Error::Rollout { .. } => 6,
            Error::GitHub { .. } => 7,
        }
    }

    /// What the user can do about it, shown under the error and in the PR comment.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Config { hint, .. }
            | Error::Credentials { hint, .. }
            | Error::Terraform { hint, .. }
            | Error::Image { hint, .. }
            | Error::Rollout { hint, .. }
            | Error::GitHub { hint, .. } => hint.as_deref(),
        }
    }

    pub fn config(message: impl Into<String>) -> Self {
        Error::Config {
            message: message.into(),
            hint: None,
        }
    }
    pub fn credentials(message: impl Into<String>) -> Self {
        Error::Credentials {
            message: message.into(),
            hint: None,
        }
    }
    pub fn terraform(message: impl Into<String>) -> Self {
        Error::Terraform {
            message: message.into(),
            hint: None,
        }
    }
    pub fn image(message: impl Into<String>) -> Self {
        Error::Image {
            message: message.into(),
            hint: None,
        }
    }
    pub fn rollout(message: impl Into<String>) -> Self {
        Error::Rollout {
            message: message.into(),
            hint: None,
        }
    }
    pub fn github(message: impl Into<String>) -> Self {
        Error::GitHub {
            message: message.into(),
            hint: None,
        }
    }

    /// Attach a hint: `Error::config("bad port").with_hint("use 1-65535")`.
    pub fn with_hint(mut self, text: impl Into<String>) -> Self {
        let text = Some(text.into());
        match &mut self {
            Error::Config { hint, .. }
            | Error::Credentials { hint, .. }
            | Error::Terraform { hint, .. }
            | Error::Image { hint, .. }
            | Error::Rollout { hint, .. }
            | Error::GitHub { hint, .. } => *hint = text,
        }
        self
    }
}

/// `Code: message` of an AWS service error, or the full context of a transport error (timeout,
/// DNS, TLS). Every AWS SDK crate re-exports the same smithy `SdkError`, so this serves them all.
pub fn aws_message<E, R>(err: &aws_sdk_ecs::error::SdkError<E, R>) -> String
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(se) => format!(
            "{}: {}",
            se.code().unwrap_or("error"),
            se.message().unwrap_or("no message")
        ),
        None => aws_sdk_ecs::error::DisplayErrorContext(err).to_string(),
    }
}
