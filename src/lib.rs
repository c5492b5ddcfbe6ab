//! ecs-poc: from a pull request to a stable service on AWS ECS, and back down again.
//!
//! The modules are layered; a module imports only from its own layer or the ones below it:
//!
//! 1. **edge**: `cli` (and `main.rs`) turns flags into [`config::Options`] and a report into
//!    an exit code.
//! 2. **pipeline**: `pipeline` decides what a command does (which stack, what is applied
//!    where, what may be destroyed) and calls the stages in order.
//! 3. **stages**: each talks to one outside system through a narrow interface, so it can be
//!    tested against that system's fake alone.
//! 4. **values**: plain data and rules shared by all of the above; no outside system.
//!
//! | layer    | module        | outside system            | owns                                                      |
//! |----------|---------------|---------------------------|-----------------------------------------------------------|
//! | edge     | `cli`         | the user / action inputs  | clap definitions, help, subcommands                       |
//! | pipeline | `pipeline`    | the stages below          | resolve, deploy / plan, destroy, sweep, promote, state keys |
//! | stage    | `credentials` | GitHub OIDC + AWS STS     | web-identity role assumption and renewal, session names, masking |
//! | stage    | `terraform`   | terraform / tofu CLI      | init, plan to file, show -json summary, apply, outputs    |
//! | stage    | `image`       | docker + ECR              | content-hash tag, skip-if-present, temporary docker config, login, build for a platform, push, stack tags, copy by digest between registries |
//! | stage    | `ecs`         | ECS                       | render task definition, register, update, wait, events, the running release |
//! | stage    | `smoke`       | the deployed endpoint     | GET /healthz and compare the version                      |
//! | stage    | `comment`     | GitHub issue comments     | render the PR comment and summary, upsert by hidden marker |
//! | stage    | `github`      | GitHub Actions + REST API | event context, workflow commands, outputs, step summary, API |
//! | values   | `config`      | `ecs-poc.yml`             | options, file schema, environments, precedence flag > env > file > default |
//! | values   | `domain`      | none                      | command, stack name, sweep action, what the stages produce |
//! | values   | `report`      | none                      | the result of a run: timings, plans, image, rollout, error |
//! | values   | `error`       | none                      | error categories and exit codes                           |
//! | values   | `backoff`     | none                      | jittered exponential backoff for calls that are retried   |
//! | values   | `process`     | child processes           | run terraform or docker to the end, stream and capture output |
//! | values   | `redact`      | every text leaving us     | masks secrets in anything printed or posted               |

pub mod backoff;
pub mod cli;
pub mod comment;
pub mod config;
pub mod credentials;
pub mod domain;
pub mod ecs;
pub mod error;
pub mod github;
pub mod image;
pub mod pipeline;
pub mod process;
pub mod redact;
pub mod report;
pub mod smoke;
pub mod terraform;

pub use error::{Category, Error, Result};
