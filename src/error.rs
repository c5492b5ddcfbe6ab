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
/// An IAM refusal leads with what was refused (see [`Refusal`]).
pub fn aws_message<E, R>(err: &aws_sdk_ecs::error::SdkError<E, R>) -> String
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error() {
        Some(se) => service_message(
            se.code().unwrap_or("error"),
            se.message().unwrap_or("no message"),
        ),
        None => aws_sdk_ecs::error::DisplayErrorContext(err).to_string(),
    }
}

/// `Code: message`, led by the refused action and resource when AWS refused the call.
fn service_message(code: &str, message: &str) -> String {
    match Refusal::from_aws(code, message) {
        Some(refusal) => format!("{refusal} ({code}: {message})"),
        None => format!("{code}: {message}"),
    }
}

/// What a deploy role's missing permission looks like to the user.
pub const ACCESS_DENIED_HINT: &str =
    "the deploy role lacks this permission; see terraform/modules/github-oidc";

/// The phrase AWS puts in every IAM refusal it explains: "User: ARN is not authorized to
/// perform: ACTION on resource: RESOURCE because ...".
const NOT_AUTHORIZED: &str = "is not authorized to perform";

/// An AWS call that IAM refused: the action and the resource, as far as AWS named them (S3 and
/// some EC2 refusals name neither).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub action: Option<String>,
    pub resource: Option<String>,
}

impl Refusal {
    /// An SDK service error whose code is an access denial (`AccessDenied`,
    /// `AccessDeniedException`, `UnauthorizedOperation`).
    pub fn from_aws(code: &str, message: &str) -> Option<Self> {
        matches!(
            code,
            "AccessDenied" | "AccessDeniedException" | "UnauthorizedOperation"
        )
        .then(|| {
            Self::parse(message).unwrap_or(Self {
                action: None,
                resource: None,
            })
        })
    }

    /// The first refusal AWS explained in some output (terraform's error text, a message).
    pub fn from_text(text: &str) -> Option<Self> {
        Self::parse(text)
    }

    fn parse(text: &str) -> Option<Self> {
        let after = &text[text.find(NOT_AUTHORIZED)? + NOT_AUTHORIZED.len()..];
        let after = after.trim_start_matches(':').trim_start();
        let word = |s: &str| -> Option<String> {
            let w: String = s
                .trim_start()
                .trim_start_matches(['"', '\''])
                .chars()
                .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | ','))
                .collect();
            let w = w.trim_end_matches('.').to_string();
            (!w.is_empty()).then_some(w)
        };
        let action = word(after).filter(|a| a.contains(':'));
        let resource = after
            .find("on resource:")
            .and_then(|i| word(&after[i + "on resource:".len()..]));
        Some(Self { action, resource })
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let action = self
            .action
            .as_deref()
            .unwrap_or("an action AWS did not name");
        match &self.resource {
            Some(resource) => write!(f, "access denied: {action} on {resource}"),
            None => write!(f, "access denied: {action}"),
        }
    }
}

impl Error {
    fn message(&self) -> &str {
        match self {
            Error::Config { message, .. }
            | Error::Credentials { message, .. }
            | Error::Terraform { message, .. }
            | Error::Image { message, .. }
            | Error::Rollout { message, .. }
            | Error::GitHub { message, .. } => message,
        }
    }

    /// An error caused by an IAM refusal names the refused action and resource first and
    /// carries [`ACCESS_DENIED_HINT`]; any other error is returned unchanged.
    pub fn explain_refusal(self) -> Self {
        let message = self.message();
        // aws_message already led with the refusal.
        if message.contains("access denied: ") {
            return self.with_hint(ACCESS_DENIED_HINT);
        }
        let Some(refusal) = Refusal::from_text(message) else {
            return self;
        };
        let lead = format!("{refusal}\n{message}");
        let mut explained = self;
        match &mut explained {
            Error::Config { message, .. }
            | Error::Credentials { message, .. }
            | Error::Terraform { message, .. }
            | Error::Image { message, .. }
            | Error::Rollout { message, .. }
            | Error::GitHub { message, .. } => *message = lead,
        }
        explained.with_hint(ACCESS_DENIED_HINT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ECS_DENIAL: &str = "User: arn:aws:sts::123456789012:assumed-role/ecs-poc-main-deploy-preview/GitHubActions \
        is not authorized to perform: ecs:UpdateService on resource: \
        arn:aws:ecs:eu-west-2:123456789012:service/ecs-poc-main/ecs-poc-main-main \
        because no identity-based policy allows the ecs:UpdateService action";

    #[test]
    fn sdk_access_denied_exception_names_action_and_resource() {
        let text = service_message("AccessDeniedException", ECS_DENIAL);
        assert!(
            text.starts_with(
                "access denied: ecs:UpdateService on arn:aws:ecs:eu-west-2:123456789012:service/ecs-poc-main/ecs-poc-main-main ("
            ),
            "{text}"
        );
        let err = Error::rollout(format!("UpdateService: {text}")).explain_refusal();
        assert_eq!(err.hint(), Some(ACCESS_DENIED_HINT));
    }

    #[test]
    fn sdk_access_denied_without_an_explanation_still_says_so() {
        // S3 refuses with a bare "Access Denied".
        let text = service_message("AccessDenied", "Access Denied");
        assert_eq!(
            text,
            "access denied: an action AWS did not name (AccessDenied: Access Denied)"
        );
        let err = Error::terraform(format!("cannot delete s3://b/k: {text}")).explain_refusal();
        assert_eq!(err.hint(), Some(ACCESS_DENIED_HINT));
    }

    #[test]
    fn sdk_unauthorized_operation_names_action_and_resource() {
        let message = "You are not authorized to perform this operation. User: arn:aws:sts::123456789012:assumed-role/r/s \
            is not authorized to perform: ec2:RunInstances on resource: arn:aws:ec2:eu-west-2:123456789012:instance/* \
            because no identity-based policy allows the ec2:RunInstances action.";
        let text = service_message("UnauthorizedOperation", message);
        assert!(
            text.starts_with(
                "access denied: ec2:RunInstances on arn:aws:ec2:eu-west-2:123456789012:instance/* ("
            ),
            "{text}"
        );
        let err = Error::image(text).explain_refusal();
        assert_eq!(err.hint(), Some(ACCESS_DENIED_HINT));
    }

    #[test]
    fn other_service_errors_are_not_refusals() {
        assert_eq!(
            service_message("ThrottlingException", "slow down"),
            "ThrottlingException: slow down"
        );
        let err = Error::rollout("ServiceNotFoundException: gone").explain_refusal();
        assert_eq!(err.hint(), None);
        assert_eq!(err.to_string(), "rollout: ServiceNotFoundException: gone");
    }

    #[test]
    fn terraform_output_leads_with_the_refused_action_and_resource() {
        let stderr = "Error: creating ELBv2 Listener Rule: operation error Elastic Load Balancing v2: CreateRule, \
            https response error StatusCode: 403, RequestID: 1, api error AccessDenied: User: \
            arn:aws:sts::123456789012:assumed-role/ecs-poc-main-deploy-preview/GitHubActions is not authorized to perform: \
            elasticloadbalancing:CreateRule on resource: \"arn:aws:elasticloadbalancing:eu-west-2:123456789012:listener/app/ecs-poc-main/abc/def\" \
            because no identity-based policy allows the elasticloadbalancing:CreateRule action";
        let err = Error::terraform(format!("`terraform apply` failed (exit 1):\n{stderr}"))
            .explain_refusal();
        let text = err.to_string();
        assert!(
            text.starts_with(
                "terraform: access denied: elasticloadbalancing:CreateRule on arn:aws:elasticloadbalancing:eu-west-2:123456789012:listener/app/ecs-poc-main/abc/def\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("`terraform apply` failed"),
            "the original output stays: {text}"
        );
        assert_eq!(err.hint(), Some(ACCESS_DENIED_HINT));
        assert_eq!(err.exit_code(), 4, "the category is kept");
    }
}
