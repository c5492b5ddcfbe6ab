//! Child processes (terraform, docker): run one to the end with its output captured, and,
//! where it takes minutes, its lines logged as they come, so a long apply or build never looks
//! like a hang. The callers turn failures into their own stage's errors.

use std::io;
use std::process::{ExitStatus, Stdio};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};
use tokio::process::Command;

/// Which of a child's streams are logged line by line as they come (at info level); the other
/// lines go to the debug log. Both streams are captured either way.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stream {
    pub stdout: bool,
    pub stderr: bool,
}

impl Stream {
    pub const QUIET: Stream = Stream {
        stdout: false,
        stderr: false,
    };
}

/// What a finished child left behind.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// The exit code; -1 when the child was killed by a signal.
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }
}

/// Why a child could not be run to the end.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The program could not be started (not installed, not executable).
    #[error("{0}")]
    Spawn(#[source] io::Error),
    /// Writing its input or waiting for it failed.
    #[error("{0}")]
    Io(#[source] io::Error),
}

/// Runs `cmd` to the end: `stdin` is written then closed (no input: `/dev/null`); stdout and
/// stderr are captured whole. The child is killed if this future is dropped.
pub async fn run(
    cmd: &mut Command,
    stdin: Option<&[u8]>,
    stream: Stream,
) -> Result<Finished, ProcessError> {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .kill_on_drop(true);
    let mut child = cmd.spawn().map_err(ProcessError::Spawn)?;
    if let (Some(data), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(data).await.map_err(ProcessError::Io)?;
        drop(pipe);
    }
    let not_captured = || ProcessError::Io(io::Error::other("the child's output was not captured"));
    let out = child.stdout.take().ok_or_else(not_captured)?;
    let err = child.stderr.take().ok_or_else(not_captured)?;
    let (stdout, stderr, status) = tokio::join!(
        collect(out, stream.stdout),
        collect(err, stream.stderr),
        child.wait()
    );
    Ok(Finished {
        status: status.map_err(ProcessError::Io)?,
        stdout,
        stderr,
    })
}

/// The last `n` non-blank lines of `text`: enough of a tool's output for an error message.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Reads a pipe to the end; with `stream`, logs each non-blank line as it comes.
async fn collect(pipe: impl AsyncRead + Unpin, stream: bool) -> String {
    let mut lines = BufReader::new(pipe).lines();
    let mut all = String::new();
    while let Ok(Some(line)) = lines.next_line().await {
        if stream && !line.trim().is_empty() {
            tracing::info!("{line}");
        } else {
            tracing::debug!("{line}");
        }
        all.push_str(&line);
        all.push('\n');
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn output_input_and_exit_code_are_captured() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "read x; echo \"got $x\"; echo oops >&2; exit 3"]);
        let done = run(&mut cmd, Some(b"hello\n"), Stream::QUIET)
            .await
            .expect("sh runs");
        assert_eq!(done.code(), 3);
        assert_eq!(done.stdout, "got hello\n");
        assert_eq!(done.stderr, "oops\n");
    }

    #[tokio::test]
    async fn a_missing_program_is_a_spawn_error() {
        let mut cmd = Command::new("/nonexistent/ecs-poc-test-binary");
        let err = run(&mut cmd, None, Stream::QUIET)
            .await
            .expect_err("no such program");
        assert!(matches!(err, ProcessError::Spawn(_)), "{err:?}");
    }

    #[test]
    fn tail_keeps_the_last_non_blank_lines() {
        assert_eq!(tail("a\n\nb\nc\n", 2), "b\nc");
        assert_eq!(tail("a\n", 5), "a");
    }
}
