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
    /// An error caused by an IAM refusal names the refused action and resource first and
    /// carries [`ACCESS_DENIED_HINT`]; any other error is returned unchanged.
    pub fn explain_refusal(self) -> Self {
        // aws_message already led with the refusal.
        if self.message.contains("access denied: ") {
            return self.with_hint(ACCESS_DENIED_HINT);
        }
        let Some(refusal) = Refusal::from_text(&self.message) else {
            return self;
        };
        let lead = format!("{refusal}\n{}", self.message);
        self.with_message(lead).with_hint(ACCESS_DENIED_HINT)
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
