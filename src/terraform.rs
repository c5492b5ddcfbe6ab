//! Stage 3: terraform (or tofu) for one stack directory.
//! CONTRACT (owned by the AWS-stages helper; the pipeline calls exactly these):
//!   Terraform::new(binary, child_env) ; init(stack) ; plan(stack, PlanMode) -> Plan ;
//!   apply(stack, &Plan) ; outputs(stack) -> Outputs ; summarize(&show_json) -> PlanSummary.
#![allow(dead_code, unused_variables)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::Result;

/// One terraform root module and where its state lives.
#[derive(Debug, Clone)]
pub struct Stack {
    /// e.g. `terraform/stacks/preview`
    pub dir: PathBuf,
    /// S3 backend: bucket, key (e.g. `preview/pr-12.tfstate`), region; `use_lockfile=true` always.
    pub backend_bucket: String,
    pub backend_key: String,
    pub backend_region: String,
    /// `-var name=value` pairs.
    pub vars: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanMode {
    Apply,
    Destroy,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PlanSummary {
    pub add: usize,
    pub change: usize,
    pub destroy: usize,
    pub replace: usize,
    /// (address, action) for every resource that changes; action is one of create/update/delete/replace/read.
    pub resources: Vec<ResourceChange>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ResourceChange {
    pub address: String,
    pub action: String,
}

#[derive(Debug, Clone)]
pub struct Plan {
    /// The saved plan file; `apply` applies exactly this.
    pub file: PathBuf,
    pub has_changes: bool,
    /// Human-readable plan (`terraform show -no-color FILE`).
    pub text: String,
    pub summary: PlanSummary,
}

/// `terraform output -json`, flattened to name -> value.
pub type Outputs = BTreeMap<String, serde_json::Value>;

pub struct Terraform {
    pub binary: PathBuf,
    /// Extra environment for the child (AWS credentials, TF_IN_AUTOMATION, ...). Never logged.
    pub child_env: Vec<(String, String)>,
}

impl Terraform {
    pub fn new(binary: impl Into<PathBuf>, child_env: Vec<(String, String)>) -> Self {
        Self { binary: binary.into(), child_env }
    }
    pub async fn init(&self, stack: &Stack) -> Result<()> {
        todo!()
    }
    pub async fn plan(&self, stack: &Stack, mode: PlanMode) -> Result<Plan> {
        todo!()
    }
    pub async fn apply(&self, stack: &Stack, plan: &Plan) -> Result<()> {
        todo!()
    }
    pub async fn outputs(&self, stack: &Stack) -> Result<Outputs> {
        todo!()
    }
}

/// Summary from `terraform show -json PLAN`; a replace counts as a replace.
pub fn summarize(show_json: &serde_json::Value) -> Result<PlanSummary> {
    todo!()
}
