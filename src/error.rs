//! One error type for the core; `anyhow` is used only at the edge (`main.rs`).
//!
//! Every error has a [`Category`] with its own exit code, so a workflow can tell a bad input
//! from a failed rollout without parsing text. The category is a field, the message says what
//! failed, the hint what to do about it, and the underlying error (SDK, I/O, HTTP) stays
//! reachable as the `source`.

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The underlying cause of an [`Error`].
pub type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What kind of failure it was; decides the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Bad flags, inputs, config file or event: the user must change something.
    #[serde(rename = "configuration")]
    Config,
    /// OIDC token or STS role assumption failed.
    Credentials,
    /// terraform init/plan/apply/destroy/output, or the state bucket, failed.
    Terraform,
    /// docker build/login/push or ECR failed.
    Image,
    /// ECS register/update failed, rollout failed, rolled back, timed out, or smoke check failed.
    Rollout,
    /// GitHub API (comments, pull request state) or the runner's files failed.
    #[serde(rename = "github")]
    GitHub,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Config => "configuration",
            Category::Credentials => "credentials",
            Category::Terraform => "terraform",
            Category::Image => "image",
            Category::Rollout => "rollout",
            Category::GitHub => "github",
        }
    }

    /// Exit codes are part of the public interface (documented in README.md).
    pub fn exit_code(self) -> i32 {
        match self {
            Category::Config => 2,
            Category::Credentials => 3,
            Category::Terraform => 4,
            Category::Image => 5,
            Category::Rollout => 6,
            Category::GitHub => 7,
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{category}: {message}")]
pub struct Error {
    category: Category,
    message: String,
    hint: Option<String>,
    #[source]
    source: Option<Source>,
}

impl Error {
    pub fn new(category: Category, message: impl Into<String>) -> Self {
        Self {
            category,
            message: message.into(),
            hint: None,
            source: None,
        }
    }

    pub fn category(&self) -> Category {
        self.category
    }

    /// What failed, without the category prefix.
    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn exit_code(&self) -> i32 {
        self.category.exit_code()
    }

    /// What the user can do about it, shown under the error and in the PR comment.
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    pub fn config(message: impl Into<String>) -> Self {
        Self::new(Category::Config, message)
    }
    pub fn credentials(message: impl Into<String>) -> Self {
        Self::new(Category::Credentials, message)
    }
    pub fn terraform(message: impl Into<String>) -> Self {
        Self::new(Category::Terraform, message)
    }
    pub fn image(message: impl Into<String>) -> Self {
        Self::new(Category::Image, message)
    }
    pub fn rollout(message: impl Into<String>) -> Self {
        Self::new(Category::Rollout, message)
    }
    pub fn github(message: impl Into<String>) -> Self {
        Self::new(Category::GitHub, message)
    }

    /// Attach a hint: `Error::config("bad port").with_hint("use 1-65535")`.
    pub fn with_hint(mut self, text: impl Into<String>) -> Self {
        self.hint = Some(text.into());
        self
    }

    /// Keep the underlying error reachable through `std::error::Error::source`.
    pub fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// The same error with more said about it: category, hint and source are kept.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_category_is_a_field_and_the_source_is_kept() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let e = Error::terraform("cannot read the plan")
            .with_hint("plan again")
            .with_source(io);
        assert_eq!(e.category(), Category::Terraform);
        assert_eq!(e.exit_code(), 4);
        assert_eq!(e.to_string(), "terraform: cannot read the plan");
        let source = std::error::Error::source(&e).map(ToString::to_string);
        assert_eq!(source.as_deref(), Some("no such file"));
        let longer = e.with_message("cannot read the plan of pr-1");
        assert_eq!(longer.category(), Category::Terraform);
        assert_eq!(longer.hint(), Some("plan again"));
        assert!(std::error::Error::source(&longer).is_some());
    }
}
