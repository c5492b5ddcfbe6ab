//! The pull request comment: rendered from a [`Report`], found again by a hidden marker and
//! its author (the token's login, or for a GitHub App's token its bot account), and updated in
//! place, so a pull request has exactly one.
//!
//! GitHub rejects comment bodies over 65,536 characters; plans are cut at a line boundary to
//! fit, and the comment says so and where the full plan is (the job summary).

use crate::Result;
use crate::domain::{Command, SharedPlanStamp, StackName, SweepAction};
use crate::github::{GitHubApi, Identity, IssueComment};
use crate::report::{PlanRecord, Report, StageStatus, Status};

/// GitHub's limit for an issue comment body.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;
/// What we allow ourselves, leaving room for GitHub counting differently than we do.
pub const COMMENT_BUDGET: usize = 60_000;
/// `$GITHUB_STEP_SUMMARY` accepts 1 MiB per step.
pub const SUMMARY_BUDGET: usize = 900_000;

/// The hidden line that identifies our comment for a stack.
pub fn marker(stack: &str) -> String {
    format!("<!-- ecs-poc:{stack} -->")
}

const SHARED_PLAN_MARK: &str = "<!-- ecs-poc:shared-plan ";

/// The hidden line that carries the shared stack's plan stamp to the next run.
fn shared_plan_line(stamp: &SharedPlanStamp) -> String {
    // JSON of plain strings and numbers: a digest, a UUID, counts; nothing that closes a comment.
    let json = serde_json::to_string(stamp).unwrap_or_default();
    format!("{SHARED_PLAN_MARK}{json} -->")
}

/// The shared stack's plan stamp an earlier run left in its comment, if any.
pub fn shared_plan_stamp(body: &str) -> Option<SharedPlanStamp> {
    let start = body.find(SHARED_PLAN_MARK)? + SHARED_PLAN_MARK.len();
    let end = body[start..].find(" -->")? + start;
    serde_json::from_str(&body[start..end]).ok()
}

/// A fence longer than any run of backticks in `text`, so a plan cannot close it early.
pub fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

/// Cuts `text` to at most `budget` bytes at a line boundary. Returns the kept text and how
/// many lines were dropped.
pub fn truncate_lines(text: &str, budget: usize) -> (String, usize) {
    if text.len() <= budget {
        return (text.to_string(), 0);
    }
    let mut kept = String::new();
    let mut lines = text.split_inclusive('\n');
    for line in lines.by_ref() {
        if kept.len() + line.len() > budget {
            let dropped = 1 + lines.count();
            return (kept, dropped);
        }
        kept.push_str(line);
    }
    (kept, 0)
}

fn escape_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

fn headline(r: &Report) -> String {
    if r.command == Command::Sweep {
        let count = |a: SweepAction| r.swept.iter().filter(|w| w.action == a).count();
        let status = if r.status == Status::Failure {
            ":x:"
        } else {
            ":broom:"
        };
        return if r.dry_run {
            format!(
                "### {status} ecs-poc sweep (dry run): {} stack(s) would be destroyed, {} kept",
                count(SweepAction::WouldDestroy),
                count(SweepAction::Kept)
            )
        } else {
            format!(
                "### {status} ecs-poc sweep: {} stack(s) destroyed, {} kept",
                count(SweepAction::Destroyed),
                count(SweepAction::Kept)
            )
        };
    }
    let stack = r.stack.as_ref().map_or("?", StackName::as_str);
    match (r.command.as_str(), r.status) {
        (_, Status::Failure) => {
            let at = r
                .error
                .as_ref()
                .and_then(|e| e.stage.clone())
                .map(|s| format!(" at {s}"))
                .unwrap_or_default();
            format!("### :x: ecs-poc {} of `{stack}` failed{at}", r.command)
        }
        ("deploy", _) => format!("### :rocket: `{stack}` is deployed"),
        ("promote", _) => format!(
            "### :rocket: `{stack}` of `{}` runs the image promoted from `{}`",
            r.environment.as_deref().unwrap_or("?"),
            r.source_environment.as_deref().unwrap_or("?")
        ),
        ("plan", _) => format!("### :clipboard: Plan for `{stack}` (nothing applied)"),
        ("destroy", _) if r.dry_run => {
            format!("### :broom: `{stack}` would be torn down (dry run)")
        }
        ("destroy", _) => {
            let when = r.torn_down_at.as_deref().unwrap_or("now");
            format!("### :broom: `{stack}` was torn down at {when}")
        }
        (cmd, _) => format!("### ecs-poc {cmd} of `{stack}` succeeded"),
    }
}

fn stages_table(r: &Report) -> String {
    if r.stages.is_empty() {
        return String::new();
    }
    let mut s = String::from("| Stage | Result | Time | Detail |\n|---|---|---:|---|\n");
    for st in &r.stages {
        let result = match st.status {
            StageStatus::Ok => ":white_check_mark: ok",
            StageStatus::Skipped => ":fast_forward: skipped",
            StageStatus::Failed => ":x: failed",
        };
        let detail = st.detail.as_deref().map(escape_cell).unwrap_or_default();
        s.push_str(&format!(
            "| {} | {result} | {:.1} s | {detail} |\n",
            st.name, st.seconds
        ));
    }
    s
}

fn plan_table(plans: &[PlanRecord], shared_reused: bool) -> String {
    if plans.is_empty() {
        return String::new();
    }
    let mut s = String::from(
        "| Stack | Add | Change | Replace | Destroy | |\n|---|---:|---:|---:|---:|---|\n",
    );
    for p in plans {
        let how = match (p.applied, shared_reused && p.stack == "shared") {
            (true, _) => "applied",
            (false, true) => "plan only, not re-planned",
            (false, false) => "plan only",
        };
        let sm = &p.summary;
        s.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {how} |\n",
            p.stack, sm.add, sm.change, sm.replace, sm.destroy
        ));
    }
    s
}

fn plan_block(p: &PlanRecord, budget: usize) -> String {
    let (text, dropped) = truncate_lines(&p.text, budget);
    let fence = fence_for(&text);
    let mut s = format!(
        "<details><summary>Plan: <code>{}</code> ({} change{})</summary>\n\n{fence}text\n{}",
        p.stack,
        p.changes(),
        if p.changes() == 1 { "" } else { "s" },
        text
    );
    if !text.ends_with('\n') {
        s.push('\n');
    }
    s.push_str(&format!("{fence}\n"));
    if dropped > 0 {
        s.push_str(&format!(
            "\n:warning: Plan truncated to fit GitHub's comment limit: {dropped} more line{} in the job summary of this run.\n",
            if dropped == 1 { "" } else { "s" }
        ));
    }
    s.push_str("</details>\n\n");
    s
}

fn details(r: &Report) -> String {
    let mut s = String::new();
    if let Some(env) = &r.environment {
        s.push_str(&format!("**Environment:** `{env}`\n\n"));
    }
    if let (Some(from), Some(digest)) = (&r.source_environment, &r.digest) {
        let commit = r
            .source_commit
            .as_deref()
            .map(|c| format!(", built from commit `{c}`"))
            .unwrap_or_default();
        s.push_str(&format!(
            "**Promoted from:** `{from}`: `{digest}`{commit}\n\n"
        ));
    }
    if let Some(e) = &r.endpoint {
        s.push_str(&format!("**Endpoint:** {e}\n\n"));
    }
    if let Some(i) = &r.image {
        let reused = if i.reused {
            " (already in ECR, not rebuilt)"
        } else {
            ""
        };
        s.push_str(&format!(
            "**Image:** `{}:{}`{reused}<br>**Digest:** `{}`\n\n",
            i.repository_uri, i.tag, i.digest
        ));
    }
    if let Some(ro) = &r.rollout {
        let unchanged = if ro.unchanged {
            " (unchanged: the service already ran it)"
        } else {
            ""
        };
        s.push_str(&format!(
            "**Task definition:** `{}` revision {}{unchanged}\n\n",
            ro.task_definition_arn, ro.revision
        ));
    }
    if let Some(v) = &r.smoke_version {
        s.push_str(&format!(
            "**Smoke check:** `/healthz` answered version `{v}`\n\n"
        ));
    }
    if !r.deleted_images.is_empty() {
        s.push_str(&format!(
            "**Images deleted:** {}\n\n",
            r.deleted_images.len()
        ));
    }
    if !r.swept.is_empty() {
        s.push_str("| Stack | Pull request | Action |\n|---|---|---|\n");
        for w in &r.swept {
            let reason = w
                .reason
                .as_deref()
                .map(|r| format!(": {}", escape_cell(r)))
                .unwrap_or_default();
            s.push_str(&format!(
                "| `{}` | {} | {}{reason} |\n",
                w.stack, w.pull_request_state, w.action
            ));
        }
        s.push('\n');
    }
    for n in &r.notes {
        s.push_str(&format!("> {}\n\n", escape_cell(n)));
    }
    if let Some(e) = &r.error {
        s.push_str(&format!(
            "**Error** ({}, exit code {}):\n\n",
            e.category, e.exit_code
        ));
        let fence = fence_for(&e.message);
        s.push_str(&format!("{fence}text\n{}\n{fence}\n\n", e.message));
        if let Some(h) = &e.hint {
            s.push_str(&format!("**What to do:** {h}\n\n"));
        }
    }
    s
}

fn footer(r: &Report) -> String {
    let mut parts = Vec::new();
    if let Some(c) = &r.commit {
        parts.push(format!("commit `{}`", short(c)));
    }
    if let Some(u) = &r.run_url {
        parts.push(format!("[run]({u})"));
    }
    if let Some(at) = &r.updated_at {
        parts.push(format!("updated {at}"));
    }
    format!("<sub>ecs-poc · {}</sub>\n", parts.join(" · "))
}

/// Renders a report to Markdown whose length is at most `budget` bytes, truncating the plan
/// blocks (never the summary) when needed.
pub fn render_within(r: &Report, budget: usize, with_marker: bool) -> String {
    let head = if with_marker {
        let mut head = format!(
            "{}\n",
            marker(r.stack.as_ref().map_or("none", StackName::as_str))
        );
        if let Some(stamp) = &r.shared_plan {
            head.push_str(&shared_plan_line(stamp));
            head.push('\n');
        }
        head
    } else {
        String::new()
    };
    let fixed_top = format!(
        "{head}{}\n\n{}{}",
        headline(r),
        details(r),
        plan_table(&r.plans, r.shared_plan_reused)
    );
    let stages = stages_table(r);
    let foot = footer(r);
    let with_changes: Vec<&PlanRecord> = r
        .plans
        .iter()
        // A no-change plan is already a row of zeros in the table.
        .filter(|p| p.changes() > 0 && !p.text.trim().is_empty())
        .collect();
    // Each block costs its wrapper (~300 bytes) plus its share of what remains.
    let fixed = fixed_top.len() + stages.len() + foot.len() + 2 + with_changes.len() * 400;
    let share = if with_changes.is_empty() {
        0
    } else {
        budget.saturating_sub(fixed) / with_changes.len()
    };
    let mut body = fixed_top;
    body.push('\n');
    for p in with_changes {
        body.push_str(&plan_block(p, share));
    }
    body.push_str(&stages);
    body.push('\n');
    body.push_str(&foot);
    body
}

/// The pull request comment (with marker, within GitHub's limit).
pub fn render_comment(r: &Report) -> String {
    render_within(r, COMMENT_BUDGET, true)
}

/// The step summary: the same report with the full plans (up to the summary's own limit).
pub fn render_summary(r: &Report) -> String {
    render_within(r, SUMMARY_BUDGET, false)
}

/// What the upsert did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    Created(u64),
    Updated(u64),
}

/// The comments on the pull request that may be ours for `stack`: they carry our marker and
/// their author may be the token ([`Identity::may_have_written`]): the token's own login, or for
/// a GitHub App's installation token (which may not read `GET /user`) a bot account. A person's
/// comment quoting the marker is never among them.
async fn candidates(
    api: &GitHubApi,
    pull_request: u64,
    stack: &str,
) -> Result<(Identity, Vec<IssueComment>)> {
    let identity = api.identity().await?;
    let mark = marker(stack);
    let found = api
        .list_comments(pull_request)
        .await?
        .into_iter()
        .filter(|c| identity.may_have_written(c) && c.body.contains(&mark))
        .collect();
    Ok((identity, found))
}

/// The comment we made before on the pull request for `stack`, if any (see [`candidates`]).
pub async fn find(api: &GitHubApi, pull_request: u64, stack: &str) -> Result<Option<IssueComment>> {
    Ok(candidates(api, pull_request, stack)
        .await?
        .1
        .into_iter()
        .next())
}

/// Creates the pull request's comment for `stack`, or updates the one we made before.
///
/// Ours is a comment with our marker whose author may be the token (see [`candidates`]). An app
/// token cannot tell its own bot login, so when several bots carry the marker (the job switched
/// from `GITHUB_TOKEN` to an app's token) each is tried in turn, and one whose edit GitHub
/// refuses (403: another app's) is passed over. If none is ours, a new comment is created.
pub async fn upsert(
    api: &GitHubApi,
    pull_request: u64,
    stack: &str,
    body: &str,
) -> Result<Upserted> {
    let (identity, found) = candidates(api, pull_request, stack).await?;
    for c in found {
        match identity {
            Identity::User(_) => {
                return api
                    .update_comment(c.id, body)
                    .await
                    .map(|c| Upserted::Updated(c.id));
            }
            Identity::App => {
                if let Some(c) = api.update_comment_if_ours(c.id, body).await? {
                    return Ok(Upserted::Updated(c.id));
                }
                tracing::debug!(id = c.id, author = %c.author, "comment with our marker belongs to another app");
            }
        }
    }
    api.create_comment(pull_request, body)
        .await
        .map(|c| Upserted::Created(c.id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fences_outgrow_backticks_in_the_text() {
        assert_eq!(fence_for("no ticks"), "```");
        assert_eq!(fence_for("a ```` b"), "`````");
    }

    #[test]
    fn the_shared_plan_stamp_survives_the_comment() {
        let stamp = SharedPlanStamp {
            configuration: "ab12".into(),
            lineage: "5f1c-lineage".into(),
            serial: 42,
            add: 0,
            change: 4,
            destroy: 0,
            replace: 0,
        };
        let body = format!("{}\n{}\n### text", marker("pr-3"), shared_plan_line(&stamp));
        assert_eq!(shared_plan_stamp(&body), Some(stamp));
        assert_eq!(shared_plan_stamp("no stamp here"), None);
        assert_eq!(
            shared_plan_stamp("<!-- ecs-poc:shared-plan {broken -->"),
            None
        );
    }

    #[test]
    fn truncation_keeps_whole_lines() {
        let text = "aaaa\nbbbb\ncccc\n";
        assert_eq!(truncate_lines(text, 100), (text.to_string(), 0));
        assert_eq!(truncate_lines(text, 11), ("aaaa\nbbbb\n".to_string(), 1));
        assert_eq!(truncate_lines(text, 3), (String::new(), 3));
    }
}
