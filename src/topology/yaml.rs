//! A small YAML tree with a source position on every node, built from yaml-rust2's marked
//! events. The decoder walks this tree instead of serde so that every error can name a line.

use super::Span;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// One YAML node and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub kind: Kind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Kind {
    /// `plain` is false for quoted, block and `!!str`-tagged scalars: those are always strings.
    Scalar {
        value: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// A plain `~`, `null` or nothing at all (YAML 1.2 core schema).
    pub fn is_null(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { value, plain: true }
            if matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// What kind of value this is, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            _ if self.is_null() => "nothing (null)",
            Kind::Scalar { plain: false, .. } => "a string",
            Kind::Scalar { value, .. } => {
                if value.parse::<i128>().is_ok() {
                    "a number"
                } else if value.parse::<f64>().is_ok() {
                    "a decimal number"
                } else if matches!(value.as_str(), "true" | "false" | "True" | "False") {
                    "a boolean"
                } else {
                    "a string"
                }
            }
            Kind::Seq(_) => "a list",
            Kind::Map(_) => "a mapping",
        }
    }
}

/// A YAML syntax problem: where, in which field (as far as the parser got), and what.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyntaxError {
    pub span: Span,
    pub path: String,
    pub message: String,
}

fn span_of(m: &Marker) -> Span {
    // yaml-rust2 counts lines from 1 but columns from 0.
    Span {
        line: m.line(),
        col: m.col() + 1,
    }
}

enum Frame {
    Seq {
        items: Vec<Node>,
        span: Span,
        anchor: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        span: Span,
        anchor: usize,
    },
}

/// Deeper nesting than any topology needs is refused, so that hostile input cannot make the
/// tree (and its recursive drop) arbitrarily deep.
const MAX_DEPTH: usize = 64;

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    /// Open collections below [`MAX_DEPTH`] being skipped, and where skipping began.
    skipped: usize,
    too_deep: Option<Span>,
    anchors: Vec<(usize, Node)>,
    root: Option<Node>,
    documents: usize,
    extra_document: Option<Span>,
}

impl Builder {
    fn push(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.push((anchor, node.clone()));
        }
        match self.stack.last_mut() {
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                Some(k) => entries.push((k, node)),
                None => *key = Some(node),
            },
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
        }
    }

    /// The field path of the node being parsed, e.g. `networks[1].cidrs`.
    fn path(&self) -> String {
        let mut path = String::new();
        for frame in &self.stack {
            match frame {
                Frame::Seq { items, .. } => path.push_str(&format!("[{}]", items.len())),
                Frame::Map { key: Some(k), .. } => {
                    let name = match &k.kind {
                        Kind::Scalar { value, .. } => value.as_str(),
                        _ => "?",
                    };
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(name);
                }
                Frame::Map { key: None, .. } => break,
            }
        }
        path
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let span = span_of(&mark);
        match ev {
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents == 2 {
                    self.extra_document = Some(span);
                }
            }
            // Only the first document counts; a second one is reported, not read.
            _ if self.documents > 1 => {}
            Event::SequenceStart(..) | Event::MappingStart(..)
                if self.skipped > 0 || self.stack.len() >= MAX_DEPTH =>
            {
                self.skipped += 1;
                self.too_deep.get_or_insert(span);
            }
            Event::SequenceEnd | Event::MappingEnd if self.skipped > 0 => self.skipped -= 1,
            _ if self.skipped > 0 => {}
            Event::Scalar(value, style, anchor, tag) => {
                let tagged_str = tag.is_some_and(|t| t.suffix == "str");
                let plain = style == TScalarStyle::Plain && !tagged_str;
                self.push(
                    Node {
                        kind: Kind::Scalar { value, plain },
                        span,
                    },
                    anchor,
                );
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq {
                items: Vec::new(),
                span,
                anchor,
            }),
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map {
                entries: Vec::new(),
                key: None,
                span,
                anchor,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Frame::Seq {
                        items,
                        span,
                        anchor,
                    }) => (
                        Node {
                            kind: Kind::Seq(items),
                            span,
                        },
                        anchor,
                    ),
                    Some(Frame::Map {
                        entries,
                        span,
                        anchor,
                        ..
                    }) => (
                        Node {
                            kind: Kind::Map(entries),
                            span,
                        },
                        anchor,
                    ),
                    None => return,
                };
                self.push(node, anchor);
            }
            Event::Alias(id) => {
                // The parser has already checked that the anchor exists.
                if let Some((_, node)) = self.anchors.iter().rev().find(|(a, _)| *a == id) {
                    let mut node = node.clone();
                    node.span = span;
                    self.push(node, 0);
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

/// Parses YAML text into a tree. `Ok(None)` for a file with no document at all.
pub(crate) fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, true) {
        return Err(SyntaxError {
            span: span_of(e.marker()),
            path: builder.path(),
            message: e.info().to_string(),
        });
    }
    if let Some(span) = builder.too_deep {
        return Err(SyntaxError {
            span,
            path: String::new(),
            message: format!("nesting deeper than {MAX_DEPTH} levels"),
        });
    }
    if let Some(span) = builder.extra_document {
        return Err(SyntaxError {
            span,
            path: String::new(),
            message: "a topology file holds one YAML document, found a second one".into(),
        });
    }
    Ok(builder.root)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(n: &Node) -> &str {
        match &n.kind {
            Kind::Scalar { value, .. } => value,
            other => panic!("not a scalar: {other:?}"),
        }
    }

    #[test]
    fn nodes_carry_one_based_lines_and_columns() {
        let root = parse("a: 1\nlist:\n  - x\n  - 'y'\n").unwrap().unwrap();
        let Kind::Map(entries) = &root.kind else {
            panic!("root is not a map")
        };
        assert_eq!(entries[0].0.span, Span { line: 1, col: 1 });
        assert_eq!(entries[0].1.span, Span { line: 1, col: 4 });
        let Kind::Seq(items) = &entries[1].1.kind else {
            panic!("list is not a seq")
        };
        assert_eq!(scalar(&items[1]), "y");
        assert_eq!(items[1].span, Span { line: 4, col: 5 });
        assert!(matches!(items[1].kind, Kind::Scalar { plain: false, .. }));
    }

    #[test]
    fn syntax_error_names_position_and_field_path() {
        let err = parse("networks:\n  - name: a\n    cidrs: [10.0.0.0/16\n").unwrap_err();
        assert!(err.path.starts_with("networks[0].cidrs"), "{err:?}");
        assert!(err.span.line >= 3, "{err:?}");
    }

    #[test]
    fn aliases_resolve_to_the_anchored_node() {
        let root = parse("a: &x [1, 2]\nb: *x\n").unwrap().unwrap();
        let Kind::Map(entries) = &root.kind else {
            panic!()
        };
        assert!(matches!(&entries[1].1.kind, Kind::Seq(v) if v.len() == 2));
    }

    #[test]
    fn a_second_document_is_an_error() {
        let err = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(err.span.line, 2);
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing() {
        let text = format!("{}{}", "[".repeat(100), "]".repeat(100));
        let err = parse(&text).unwrap_err();
        assert!(err.message.contains("nesting"), "{err:?}");
        assert_eq!(
            err.span,
            Span {
                line: 1,
                col: MAX_DEPTH + 1
            }
        );
    }

    #[test]
    fn empty_text_has_no_document() {
        assert_eq!(parse("# nothing\n").unwrap(), None);
    }
}
