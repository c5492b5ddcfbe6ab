//! ecs-poc: from a pull request to a stable service on AWS ECS, and back down again.
//!
//! The modules follow the pipeline. Each stage talks to one outside system through a narrow
//! interface so that it can be tested against that system's fake alone:
//!
//! | module        | outside system            | owns                                                      |
//! |---------------|---------------------------|-----------------------------------------------------------|
//! | `cli`         | the user / action inputs  | clap definitions, `INPUT_*` mapping                       |
//! | `config`      | `ecs-poc.yml`             | file schema, precedence flag > env > file > default       |
//! | `github`      | GitHub Actions runtime    | event context, workflow commands, outputs, step summary   |
//! | `credentials` | GitHub OIDC + AWS STS     | web-identity role assumption, session names, masking      |
//! | `terraform`   | terraform / tofu CLI      | init, plan to file, show -json summary, apply, outputs    |
//! | `image`       | docker + ECR              | content-hash tag, skip-if-present, login, build, push     |
//! | `ecs`         | ECS                       | render task definition, register, update, wait, events    |
//! | `smoke`       | the deployed endpoint     | GET /healthz and compare the version                      |
//! | `comment`     | GitHub issue comments     | render the PR comment, upsert by hidden marker            |
//! | `report`      | step summary / outputs    | per-stage timings, outcome, `--output json`               |
//! | `redact`      | every text leaving us     | masks secrets in anything printed or posted               |
//! | `pipeline`    | all of the above          | deploy / plan / destroy / sweep orchestration             |

pub mod cli;
pub mod comment;
pub mod config;
pub mod credentials;
pub mod ecs;
pub mod error;
pub mod github;
pub mod image;
pub mod pipeline;
pub mod redact;
pub mod report;
pub mod smoke;
pub mod terraform;

pub use error::{Error, Result};
