//! Every text that leaves the process (logs, workflow commands, comments, summaries, outputs,
//! JSON results) passes through one [`Masker`], so a secret registered once can never be
//! printed or posted later, whichever path the text takes.

use std::io::{self, Write};
use std::sync::{OnceLock, RwLock};

/// What a masked secret is replaced with; the same marker GitHub's own log masking uses.
pub const MASK: &str = "***";

/// Secrets shorter than this are not masked: replacing every `ab` in a log destroys it and
/// protects nothing. Credentials, tokens and passwords are all far longer.
const MIN_SECRET_LEN: usize = 4;

#[derive(Debug, Default)]
pub struct Masker {
    secrets: RwLock<Vec<String>>,
}

impl Masker {
    pub fn new() -> Self {
        Self::default()
    }

    /// The process-wide masker used by the log writer and every output path.
    pub fn global() -> &'static Masker {
        static GLOBAL: OnceLock<Masker> = OnceLock::new();
        GLOBAL.get_or_init(Masker::new)
    }

    /// Registers a secret. A multi-line secret is also registered line by line, because
    /// tools often print one line of it (GitHub masks that way too). Returns the values
    /// that were newly registered, for `::add-mask::`.
    pub fn add(&self, secret: &str) -> Vec<String> {
        let mut candidates = vec![secret.to_string()];
        if secret.contains('\n') {
            candidates.extend(secret.lines().map(|l| l.trim().to_string()));
        }
        let mut added = Vec::new();
        let mut secrets = self.secrets.write().unwrap_or_else(|e| e.into_inner());
        for c in candidates {
            if c.trim().len() >= MIN_SECRET_LEN && !secrets.contains(&c) {
                secrets.push(c.clone());
                added.push(c);
            }
        }
        // Longest first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        added
    }

    pub fn redact(&self, text: &str) -> String {
        let secrets = self.secrets.read().unwrap_or_else(|e| e.into_inner());
        let mut out = text.to_string();
        for s in secrets.iter() {
            if out.contains(s.as_str()) {
                out = out.replace(s.as_str(), MASK);
            }
        }
        out
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.read().map(|s| s.is_empty()).unwrap_or(true)
    }
}

/// Shorthand for `Masker::global().redact(text)`.
pub fn redact(text: &str) -> String {
    Masker::global().redact(text)
}

/// A `tracing_subscriber` writer for stderr that masks each log record as a whole before
/// writing it (a secret split across two `write` calls would otherwise slip through).
#[derive(Debug, Default, Clone, Copy)]
pub struct MaskedStderr;

pub struct MaskedRecord {
    buf: Vec<u8>,
}

impl Write for MaskedRecord {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for MaskedRecord {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.buf);
        let mut err = io::stderr().lock();
        // A log line that cannot be written (closed stderr) must not abort the deploy.
        let _ = err.write_all(redact(&text).as_bytes());
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for MaskedStderr {
    type Writer = MaskedRecord;
    fn make_writer(&'a self) -> Self::Writer {
        MaskedRecord {
            buf: Vec::with_capacity(256),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_every_occurrence_and_the_longest_secret_first() {
        let m = Masker::new();
        m.add("AKIAEXAMPLE");
        m.add("AKIAEXAMPLE-and-more");
        assert_eq!(
            m.redact("a AKIAEXAMPLE-and-more b AKIAEXAMPLE"),
            "a *** b ***"
        );
    }

    #[test]
    fn multi_line_secrets_are_masked_line_by_line() {
        let m = Masker::new();
        let added = m.add("line-one-secret\nline-two-secret");
        assert_eq!(added.len(), 3);
        assert_eq!(m.redact("x line-two-secret y"), "x *** y");
    }

    #[test]
    fn tiny_values_are_not_treated_as_secrets() {
        let m = Masker::new();
        assert!(m.add("ab").is_empty());
        assert_eq!(m.redact("ab cd"), "ab cd");
    }
}
