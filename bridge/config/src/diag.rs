//! Diagnostics: one problem in a policy file, with file, line and key path, and the index that maps
//! key paths to lines.
//!
//! serde tells the line of a syntax or type error but not of a value it accepted, so validation
//! problems find their line through [`LineIndex`], built from the YAML parser's event markers. The
//! path syntax is the one `serde_path_to_error` prints (`baselines[0].rules[1].compliance`), so both
//! kinds of error read alike. [`parse_yaml`] turns a serde error into such a diagnostic, for the
//! policy and for `bridge.yaml` alike.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The policy cannot be rendered.
    Error,
    /// Renders, but probably not what was meant (a quota, an ignored field).
    Warning,
}

/// One problem, located.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The policy file.
    pub file: PathBuf,
    /// 1-based line of the key (or of the nearest enclosing key that exists), when known.
    pub line: Option<usize>,
    /// Key path, e.g. `rings[1].schedule.weekly.day`; empty for the document itself.
    pub path: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {sev}")?;
        if !self.path.is_empty() {
            write!(f, ": `{}`", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// A problem found by validation, before it is located in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// Key path.
    pub path: String,
    /// Message.
    pub message: String,
}

impl Finding {
    /// Locate this finding in `file` through `index`.
    pub fn locate(self, file: &Path, index: &LineIndex) -> Diagnostic {
        Diagnostic {
            severity: self.severity,
            file: file.to_path_buf(),
            line: index.line_of(&self.path),
            path: self.path,
            message: self.message,
        }
    }
}

/// Key path → 1-based line, for every mapping key and sequence item of a YAML document.
#[derive(Debug, Default, Clone)]
pub struct LineIndex {
    lines: HashMap<String, usize>,
}

impl LineIndex {
    /// Index `text`. A document the YAML parser rejects yields a partial index (what was read
    /// before the error); serde reports the error itself with its own line.
    pub fn new(text: &str) -> Self {
        let mut builder = Builder::default();
        let mut parser = Parser::new_from_str(text);
        // The error, if any, is serde's to report; the index only needs what parsed.
        let _ = parser.load(&mut builder, false);
        Self { lines: builder.lines }
    }

    /// Line of `path`, or of its nearest ancestor that is in the file (a missing key is reported
    /// at the mapping that should hold it).
    pub fn line_of(&self, path: &str) -> Option<usize> {
        let mut p = path;
        loop {
            if let Some(line) = self.lines.get(p) {
                return Some(*line);
            }
            // Strip the last segment: `.key` or `[n]`.
            let cut = p.rfind(['.', '['])?;
            p = &p[..cut];
            if p.is_empty() {
                return self.lines.get("").copied();
            }
        }
    }
}

#[derive(Debug)]
enum Frame {
    Map { path: String, key: Option<String> },
    Seq { path: String, index: usize },
}

#[derive(Debug, Default)]
struct Builder {
    stack: Vec<Frame>,
    lines: HashMap<String, usize>,
}

fn join_key(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

impl Builder {
    /// Path of the value about to start, recording its line. Returns `None` when the event is a
    /// mapping key rather than a value.
    fn value_path(&mut self, mark: Marker, scalar_key: Option<&str>) -> Option<String> {
        let line = mark.line();
        match self.stack.last_mut() {
            None => {
                self.lines.entry(String::new()).or_insert(line);
                Some(String::new())
            }
            Some(Frame::Map { path, key }) => match key.take() {
                None => {
                    // This event is a key. Non-scalar keys get a placeholder so nesting stays right.
                    let k = scalar_key.unwrap_or("?").to_owned();
                    let full = join_key(path, &k);
                    self.lines.entry(full).or_insert(line);
                    *key = Some(k);
                    None
                }
                Some(k) => Some(join_key(path, &k)),
            },
            Some(Frame::Seq { path, index }) => {
                let full = format!("{path}[{index}]");
                *index += 1;
                self.lines.entry(full.clone()).or_insert(line);
                Some(full)
            }
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(value, ..) => {
                let _ = self.value_path(mark, Some(&value));
            }
            Event::Alias(_) => {
                let _ = self.value_path(mark, Some("*alias"));
            }
            Event::MappingStart(..) => {
                let path = self.value_path(mark, None).unwrap_or_else(|| "?".to_owned());
                self.stack.push(Frame::Map { path, key: None });
            }
            Event::SequenceStart(..) => {
                let path = self.value_path(mark, None).unwrap_or_else(|| "?".to_owned());
                self.stack.push(Frame::Seq { path, index: 0 });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.stack.pop();
            }
            _ => {}
        }
    }
}

/// Deserializes YAML `text` into `T`, or the one diagnostic that says where and why it cannot be:
/// the file, the line, the key path and serde's message. Also used for the bridge's `bridge.yaml`.
pub fn parse_yaml<T: serde::de::DeserializeOwned>(text: &str, file: &Path) -> Result<T, Diagnostic> {
    let de = serde_yaml::Deserializer::from_str(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // serde_yaml knows the line of a syntax or type error; the index knows where the key is.
        let line = inner
            .location()
            .map(|l| l.line())
            .or_else(|| LineIndex::new(text).line_of(&path));
        let path = if path == "." { String::new() } else { path };
        let message = clean_serde_message(&inner.to_string(), &path);
        Diagnostic {
            severity: Severity::Error,
            file: file.to_path_buf(),
            line,
            path,
            message,
        }
    })
}

/// serde_yaml prefixes its messages with the path and appends " at line L column C"; the
/// diagnostic carries both already.
fn clean_serde_message(msg: &str, path: &str) -> String {
    // The prefix is the path of the value or, for an unknown key, of the mapping holding it.
    let msg = match msg.split_once(": ") {
        Some((head, rest)) if !head.is_empty() && path.starts_with(head) => rest,
        _ => msg,
    };
    let msg = match msg.find(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    };
    excerpt_quotes(msg)
}

/// The longest quoted value a message shows; longer ones are cut to their first characters and
/// `…`, so a message quotes a short excerpt of the input, never the whole file.
const QUOTE_MAX: usize = 40;

/// `msg` with every `"…"` span longer than [`QUOTE_MAX`] characters cut short (serde quotes the
/// value it could not read, which for a file that is not a mapping is the whole file).
pub fn excerpt_quotes(msg: &str) -> String {
    let mut out = String::with_capacity(msg.len().min(256));
    let mut rest = msg;
    while let Some(start) = rest.find('"') {
        out.push_str(&rest[..=start]);
        let after = &rest[start + 1..];
        // The closing quote: the first `"` not escaped by a backslash (serde's Debug quoting).
        let mut end = None;
        let mut escaped = false;
        for (i, c) in after.char_indices() {
            match c {
                '\\' if !escaped => escaped = true,
                '"' if !escaped => {
                    end = Some(i);
                    break;
                }
                _ => escaped = false,
            }
        }
        let Some(end) = end else {
            out.push_str(after);
            return out;
        };
        let quoted = &after[..end];
        if quoted.chars().count() > QUOTE_MAX {
            out.extend(quoted.chars().take(QUOTE_MAX));
            out.push('…');
        } else {
            out.push_str(quoted);
        }
        out.push('"');
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_file_that_is_not_a_mapping_is_quoted_as_a_short_excerpt() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Doc {
            version: u32,
        }
        let text = "this is not a mapping ".repeat(40);
        let d = super::parse_yaml::<Doc>(&text, std::path::Path::new("policy.yaml")).expect_err("a string");
        let line = d.to_string();
        assert!(line.len() < 200, "{line}");
        assert!(
            line.contains("invalid type: string \"this is not a mapping this is not a mapp…\""),
            "{line}"
        );
        assert_eq!(line.lines().count(), 1, "{line}");
        // Short values and escaped quotes inside one are kept whole.
        assert_eq!(
            super::excerpt_quotes(r#"unknown field `x`: "a\"b""#),
            r#"unknown field `x`: "a\"b""#
        );
    }

    use super::*;

    #[test]
    fn indexes_keys_and_items() {
        let text = "a: 1\nb:\n  c: x\n  d:\n    - p\n    - q: 2\n      r: 3\n";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_of("a"), Some(1));
        assert_eq!(idx.line_of("b.c"), Some(3));
        assert_eq!(idx.line_of("b.d[0]"), Some(5));
        assert_eq!(idx.line_of("b.d[1].r"), Some(7));
        // A missing key is reported at its parent.
        assert_eq!(idx.line_of("b.d[1].missing"), Some(6));
        assert_eq!(idx.line_of("b.zz"), Some(2));
    }

    #[test]
    fn flow_mappings_are_indexed() {
        let idx = LineIndex::new("rings:\n  - { name: early, schedule: { weekly: { day: TUE } } }\n");
        assert_eq!(idx.line_of("rings[0].schedule.weekly.day"), Some(2));
    }
}
