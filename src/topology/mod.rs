//! The topology file: the YAML model with source positions, its parsing and its validation.
//! Input is text; output is a validated [`Topology`] or every problem found, each naming the
//! file, line, column and field. No I/O beyond [`load`] reading the file.

mod decode;
pub mod model;
mod rules;
mod yaml;

pub use model::*;

use std::path::Path;

/// One problem found in a topology file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// The file as the user named it.
    pub file: String,
    pub line: usize,
    pub col: usize,
    /// The field's path, e.g. `networks[1].cidrs[0]`; [`DOCUMENT`] for the file as a whole.
    pub field: String,
    pub message: String,
    /// What would fix it, when that is obvious.
    pub hint: Option<String>,
}

/// The field of a diagnostic about the whole file (empty, not a mapping, a second document).
pub const DOCUMENT: &str = "(document)";

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.line, self.col, self.field, self.message
        )?;
        if let Some(h) = &self.hint {
            write!(f, " (fix: {h})")?;
        }
        Ok(())
    }
}

/// Why a topology could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TopologyError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{} problem(s) in the topology", .0.len())]
    Invalid(Vec<Diagnostic>),
}

/// `s` with every character that could break a diagnostic's one line or reach the terminal as
/// a command written as an escape: C0/C1 controls and DEL (`\n`, `\t`, `\r`, `\u{1b}`), the
/// Unicode line and paragraph separators, and the bidirectional overrides and isolates (which
/// reorder how the rest of the line is displayed). Everything else is kept as written.
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    fn unsafe_char(c: char) -> bool {
        c.is_control()
            || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    }
    // Printable ASCII (every diagnostic peerctl writes itself) needs no look at characters:
    // this test runs once per diagnostic, on message, field and hint.
    let printable_ascii = s.is_ascii() && !s.bytes().any(|b| b < 0x20 || b == 0x7f);
    if printable_ascii || !s.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_char(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Parses and validates a topology file's bytes: [`parse`] once they are UTF-8 text. Bytes
/// that are not are one diagnostic at the first invalid byte (its line, and its column
/// counted in characters like every other column).
pub fn parse_bytes(file: &str, bytes: &[u8]) -> Result<Topology, TopologyError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(file, text),
        Err(e) => {
            // The prefix before the first invalid byte is valid UTF-8 by definition.
            let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_default();
            let valid = valid.strip_prefix('\u{feff}').unwrap_or(valid);
            let line_start = valid.rfind('\n').map_or(0, |i| i + 1);
            let span = Span {
                line: valid.matches('\n').count() + 1,
                col: valid[line_start..].chars().count() + 1,
            };
            let byte = bytes[e.valid_up_to()];
            let mut ctx = decode::Ctx::new(file);
            ctx.error(
                span,
                "",
                format!("the file is not UTF-8 text (byte 0x{byte:02x} here is invalid)"),
                Some("save the file as UTF-8".into()),
            );
            Err(TopologyError::Invalid(ctx.diags))
        }
    }
}

/// Parses and validates topology text. `file` is only used in diagnostics.
/// Every problem is collected; the error lists them sorted by position.
pub fn parse(file: &str, text: &str) -> Result<Topology, TopologyError> {
    // Editors on Windows may start UTF-8 files with a byte-order mark; it is not content, and
    // line 1's columns count from after it.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut ctx = decode::Ctx::new(file);
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            ctx.error(
                Span { line: 1, col: 1 },
                "",
                "the file holds no topology",
                Some("start from topologies/triangle.yaml".into()),
            );
            return Err(TopologyError::Invalid(ctx.diags));
        }
        Err(e) => {
            ctx.error(e.span, e.path, e.message, Some(e.hint));
            return Err(TopologyError::Invalid(ctx.diags));
        }
    };
    let draft = decode::decode(&mut ctx, &root);
    match rules::check(&mut ctx, draft) {
        Some(t) if ctx.diags.is_empty() => Ok(t),
        _ => {
            let mut diags = ctx.diags;
            diags.sort_by_key(|d| (d.line, d.col));
            Err(TopologyError::Invalid(diags))
        }
    }
}

/// Reads and validates a topology file.
pub fn load(path: &Path) -> Result<Topology, TopologyError> {
    let bytes = std::fs::read(path).map_err(|source| TopologyError::Io {
        path: path.display().to_string(),
        source,
    })?;
    parse_bytes(&path.display().to_string(), &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const TRIANGLE: &str = include_str!("../../topologies/triangle.yaml");

    proptest! {
        /// Any edit of a valid file (bytes cut out, text spliced in) yields a topology or
        /// positioned diagnostics, never a panic.
        #[test]
        fn edited_files_never_panic_and_every_diagnostic_has_a_position(
            cut in 0usize..1400, len in 0usize..40, insert in "[-\\[\\]{}:,&*!|>'\" a-z0-9/.\\n]{0,12}",
        ) {
            let mut text: Vec<char> = TRIANGLE.chars().collect();
            let at = cut.min(text.len());
            let end = (at + len).min(text.len());
            text.splice(at..end, insert.chars());
            let text: String = text.into_iter().collect();
            match parse("f.yaml", &text) {
                Ok(t) => prop_assert!(!t.networks.is_empty()),
                Err(TopologyError::Invalid(d)) => {
                    prop_assert!(!d.is_empty());
                    for x in &d {
                        prop_assert!(x.line >= 1 && x.col >= 1, "{}", x);
                        prop_assert_eq!(&x.file, "f.yaml");
                    }
                }
                Err(e) => prop_assert!(false, "unexpected {}", e),
            }
        }
    }

    #[test]
    fn triangle_parses_to_three_networks_and_three_links() {
        let t = parse("triangle.yaml", TRIANGLE).unwrap();
        assert_eq!(t.networks.len(), 3);
        assert_eq!(t.links.len(), 3);
    }
}
