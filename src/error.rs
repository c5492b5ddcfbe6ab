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
        Some(se) => describe_service_error(se.code(), se.message()),
        None => aws_sdk_ecs::error::DisplayErrorContext(err).to_string(),
    }
}

/// What to do about a refused AWS call: the deploy role's policies are the only place to fix it.
pub const ACCESS_DENIED_HINT: &str =
    "the deploy role lacks this permission; see terraform/modules/github-oidc";

/// Error codes with which AWS services refuse a call for want of permission.
const ACCESS_DENIED_CODES: [&str; 4] = [
    "AccessDenied",
    "AccessDeniedException",
    "UnauthorizedOperation",
    "AuthorizationError",
];

/// The refused action and resource in AWS's wording "... is not authorized to perform: ACTION on
/// resource: RESOURCE because ..." (or "... with an explicit deny in ...").
pub fn denied_action(message: &str) -> Option<(&str, &str)> {
    let (_, rest) = message.split_once("is not authorized to perform: ")?;
    let (action, rest) = rest.split_once(" on resource: ")?;
    let end = [" because ", " with an explicit deny"]
        .iter()
        .filter_map(|cut| rest.find(cut))
        .min()
        .unwrap_or(rest.len());
    let resource = rest[..end].trim().trim_end_matches('.');
    Some((action.trim(), resource))
}

/// `Code: message`, except that a refusal names the action and resource and says what to do.
pub fn describe_service_error(code: Option<&str>, message: Option<&str>) -> String {
    let message = message.unwrap_or("no message");
    if let Some((action, resource)) = denied_action(message) {
        return format!("access denied: {action} on {resource}: {ACCESS_DENIED_HINT}");
    }
    match code {
        Some(code) if ACCESS_DENIED_CODES.contains(&code) => {
            format!("{code}: {message}: {ACCESS_DENIED_HINT}")
        }
        Some(code) => format!("{code}: {message}"),
        None => format!("error: {message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &str = "User: arn:aws:sts::123456789012:assumed-role/app-dev-deploy-preview/run-1 \
        is not authorized to perform: ecs:UpdateService on resource: \
        arn:aws:ecs:eu-west-2:123456789012:service/app-dev/app-dev-main because no identity-based \
        policy allows the ecs:UpdateService action";

    #[test]
    fn denial_names_action_resource_and_what_to_do() {
        assert_eq!(
            describe_service_error(Some("AccessDeniedException"), Some(MESSAGE)),
            "access denied: ecs:UpdateService on \
             arn:aws:ecs:eu-west-2:123456789012:service/app-dev/app-dev-main: the deploy role lacks \
             this permission; see terraform/modules/github-oidc"
        );
    }

    #[test]
    fn explicit_deny_and_ec2_wording_are_understood() {
        let ec2 = "You are not authorized to perform this operation. User: arn:aws:sts::1:assumed-role/r/s \
                   is not authorized to perform: ec2:CreateVpc on resource: arn:aws:ec2:eu-west-2:1:vpc/* \
                   with an explicit deny in an identity-based policy. Encoded authorization failure message: x";
        assert_eq!(
            denied_action(ec2),
            Some(("ec2:CreateVpc", "arn:aws:ec2:eu-west-2:1:vpc/*"))
        );
    }

    #[test]
    fn denial_without_details_still_gets_the_hint() {
        assert_eq!(
            describe_service_error(Some("AccessDenied"), Some("Access Denied")),
            "AccessDenied: Access Denied: the deploy role lacks this permission; see terraform/modules/github-oidc"
        );
        assert_eq!(
            describe_service_error(Some("ThrottlingException"), Some("slow down")),
            "ThrottlingException: slow down"
        );
    }
}
