//! What the client prints: JSON for scripts, short text for people, and progress bars
//! (on a terminal only).

use std::io::IsTerminal;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::Value;

/// `println!` that ignores a closed stdout (`kumocms ls | head` must not panic).
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Prints one JSON value on stdout, pretty.
pub fn print_json(value: &Value) {
    crate::say!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

fn field<'a>(doc: &'a Value, name: &str) -> &'a str {
    doc.get(name).and_then(Value::as_str).unwrap_or("-")
}

/// One line per document: id, status, size, type, name.
pub fn document_line(doc: &Value) -> String {
    let size = doc
        .get("size")
        .and_then(Value::as_u64)
        .map_or_else(|| "-".to_owned(), |s| s.to_string());
    let mut line = format!(
        "{}  {:<15} {:>12}  {:<12} {}",
        field(doc, "document_id"),
        field(doc, "status"),
        size,
        field(doc, "document_type"),
        field(doc, "file_name"),
    );
    if let Some(snippet) = doc.pointer("/search/snippet").and_then(Value::as_str) {
        line.push_str(&format!("  …{snippet}…"));
    }
    line
}

/// A document as `key: value` lines, metadata last.
pub fn document_text(doc: &Value) -> String {
    let mut out = String::new();
    if let Some(object) = doc.as_object() {
        for (key, value) in object {
            if matches!(
                key.as_str(),
                "metadata" | "extracted" | "download" | "upload"
            ) {
                continue;
            }
            let shown = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.push_str(&format!("{key}: {shown}\n"));
        }
        for key in ["extracted", "metadata"] {
            if let Some(value) = object.get(key) {
                out.push_str(&format!("{key}: {value}\n"));
            }
        }
    }
    out
}

/// Progress bars: one per file in flight plus a total, drawn (to stderr) only when
/// stdout is a terminal, so piped and scripted output carries none.
#[derive(Clone)]
pub struct Progress {
    multi: MultiProgress,
    total: ProgressBar,
    enabled: bool,
}

fn bytes_style(prefix_width: usize) -> ProgressStyle {
    ProgressStyle::with_template(&format!(
        "{{prefix:{prefix_width}.bold}} [{{bar:30.cyan/blue}}] {{bytes}}/{{total_bytes}} {{bytes_per_sec}} ETA {{eta}}"
    ))
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ")
}

impl Progress {
    pub fn new(total_bytes: u64, label: &str) -> Self {
        let enabled = std::io::stdout().is_terminal();
        let target = if enabled {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let multi = MultiProgress::with_draw_target(target);
        let total = multi.add(ProgressBar::new(total_bytes));
        total.set_style(bytes_style(20));
        total.set_prefix(label.to_owned());
        Self {
            multi,
            total,
            enabled,
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// A bar for one file (hidden when progress is off).
    pub fn file(&self, name: &str, bytes: u64) -> FileProgress {
        let bar = if self.enabled {
            let bar = self
                .multi
                .insert_before(&self.total, ProgressBar::new(bytes));
            bar.set_style(bytes_style(20));
            let short: String = name.chars().take(20).collect();
            bar.set_prefix(short);
            bar
        } else {
            ProgressBar::hidden()
        };
        FileProgress {
            bar,
            total: self.total.clone(),
        }
    }

    /// No bar of its own: the bytes count in the total only.
    pub fn file_in_total(&self) -> FileProgress {
        FileProgress {
            bar: ProgressBar::hidden(),
            total: self.total.clone(),
        }
    }

    /// Prints a line above the bars (or plainly when there are none).
    pub fn println(&self, line: &str) {
        if self.enabled {
            let _ = self.multi.println(line);
        } else {
            eprintln!("{line}");
        }
    }

    /// Leaves the total bar drawn at its final state.
    pub fn finish(&self) {
        self.total.finish();
    }
}

/// One file's bar; every byte also counts towards the total.
#[derive(Clone)]
pub struct FileProgress {
    bar: ProgressBar,
    total: ProgressBar,
}

impl FileProgress {
    pub fn hidden() -> Self {
        Self {
            bar: ProgressBar::hidden(),
            total: ProgressBar::hidden(),
        }
    }

    pub fn inc(&self, bytes: u64) {
        self.bar.inc(bytes);
        self.total.inc(bytes);
    }

    /// Takes back bytes counted for an attempt that failed and is retried.
    pub fn undo(&self, bytes: u64) {
        self.bar
            .set_position(self.bar.position().saturating_sub(bytes));
        self.total
            .set_position(self.total.position().saturating_sub(bytes));
    }

    pub fn done(&self) {
        self.bar.finish_and_clear();
    }
}
