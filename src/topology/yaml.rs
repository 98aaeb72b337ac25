//! A small YAML tree with a source position on every node, built from yaml-rust2's marked
//! events. The decoder walks this tree instead of serde so that every error can name a line.
//! Aliases are expanded (within a budget) and merge keys (`<<`) resolved while building.

use super::Span;
use std::collections::HashMap;
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

    /// The text of a scalar; `None` for a list or mapping.
    fn scalar(&self) -> Option<&str> {
        match &self.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    /// Whether this is the merge key `<<` (plain: a quoted `"<<"` is an ordinary key).
    fn is_merge_key(&self) -> bool {
        matches!(&self.kind, Kind::Scalar { value, plain: true } if value == "<<")
    }
}

/// A problem that stops parsing: YAML syntax, or a limit that protects against hostile input.
/// `message` is complete (the caller adds no prefix).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SyntaxError {
    pub span: Span,
    pub path: String,
    pub message: String,
    pub hint: String,
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
        /// Nodes in this collection so far, itself included (for the alias budget).
        size: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        span: Span,
        anchor: usize,
        size: usize,
    },
}

/// Deeper nesting than any topology needs is refused, so that hostile input cannot make the
/// tree (and its recursive drop) arbitrarily deep.
const MAX_DEPTH: usize = 64;

/// Nodes that aliases may add to the tree, in total. A topology that repeats a block of fields
/// per network stays far below it (1,000 networks × a 20-node block = 20,000); a "billion
/// laughs" file, nine lines expanding to gigabytes, stops at it.
pub(crate) const MAX_ALIAS_NODES: usize = 100_000;

/// Finds the byte offset of a (line, column) position. Positions are asked for in increasing
/// order, so a cursor that only moves forward keeps the total work linear in the text.
struct Source<'t> {
    text: &'t str,
    /// Byte offset of every line start; built on first use (only error paths need it).
    line_starts: Vec<usize>,
    /// (line, 0-based column, byte offset) of the last position found.
    cursor: (usize, usize, usize),
}

impl<'t> Source<'t> {
    fn new(text: &'t str) -> Self {
        Source {
            text,
            line_starts: Vec::new(),
            cursor: (0, 0, 0),
        }
    }

    /// The byte offset of 1-based `line`, 0-based character column `col`.
    fn offset(&mut self, line: usize, col: usize) -> Option<usize> {
        if self.line_starts.is_empty() {
            self.line_starts.push(0);
            self.line_starts.extend(
                self.text
                    .char_indices()
                    .filter(|&(_, c)| c == '\n')
                    .map(|(i, _)| i + 1),
            );
        }
        let (mut c, mut at) = match self.cursor {
            (l, c, at) if l == line && c <= col => (c, at),
            _ => (0, *self.line_starts.get(line.checked_sub(1)?)?),
        };
        let mut chars = self.text.get(at..)?.chars();
        while c < col {
            let ch = chars.next().filter(|&ch| ch != '\n')?;
            at += ch.len_utf8();
            c += 1;
        }
        self.cursor = (line, col, at);
        Some(at)
    }
}

/// The byte length of the quoted scalar `s` starts with; `None` when `s` does not start with
/// a complete one on this line.
fn quoted_len(s: &str) -> Option<usize> {
    let mut chars = s.char_indices();
    let (_, quote) = chars.next().filter(|&(_, q)| q == '\'' || q == '"')?;
    let mut escaped = false;
    while let Some((i, c)) = chars.next() {
        if c == '\n' {
            // Keys of one line only (the caller's contract).
            return None;
        }
        if quote == '"' {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => return Some(i + 1),
                _ => {}
            }
        } else if c == '\'' {
            // `''` is an escaped quote inside a single-quoted scalar.
            if s[i + 1..].starts_with('\'') {
                chars.next();
            } else {
                return Some(i + 1);
            }
        }
    }
    None
}

struct Builder<'t> {
    source: Source<'t>,
    stack: Vec<Frame>,
    /// Open collections below [`MAX_DEPTH`] being skipped, and where skipping began.
    skipped: usize,
    too_deep: Option<Span>,
    /// Anchor id → the anchored node and its size in nodes. yaml-rust2 gives every anchor
    /// definition a fresh id, so a redefined name never overwrites an earlier id.
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes added through aliases so far.
    expanded: usize,
    /// A problem found while building (alias budget, bad merge key); the rest is ignored.
    fatal: Option<SyntaxError>,
    root: Option<Node>,
    documents: usize,
    extra_document: Option<Span>,
}

impl<'t> Builder<'t> {
    fn new(text: &'t str) -> Self {
        Builder {
            source: Source::new(text),
            stack: Vec::new(),
            skipped: 0,
            too_deep: None,
            anchors: HashMap::new(),
            expanded: 0,
            fatal: None,
            root: None,
            documents: 0,
            extra_document: None,
        }
    }

    fn push(&mut self, node: Node, size: usize, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            Some(Frame::Seq {
                items, size: total, ..
            }) => {
                items.push(node);
                *total = total.saturating_add(size);
            }
            Some(Frame::Map {
                entries,
                key,
                size: total,
                ..
            }) => {
                match key.take() {
                    Some(k) => entries.push((k, node)),
                    None => *key = Some(node),
                }
                *total = total.saturating_add(size);
            }
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
                    if !path.is_empty() {
                        path.push('.');
                    }
                    path.push_str(k.scalar().unwrap_or("?"));
                }
                Frame::Map { key: None, .. } => break,
            }
        }
        path
    }

    /// Where an empty mapping value is: just after its key's colon. yaml-rust2 places an empty
    /// scalar at the next token, often lines later (or past the end of the file). `None` when
    /// the colon is not on the key's line right after it (explicit `?` keys, anchored keys).
    fn after_colon(&mut self, key: &Node) -> Option<Span> {
        let (value, plain) = match &key.kind {
            Kind::Scalar { value, plain } => (value, *plain),
            _ => return None,
        };
        let start = self
            .source
            .offset(key.span.line, key.span.col.checked_sub(1)?)?;
        // Only the key and the blanks after it are read, never the rest of the line: a line
        // can hold tens of thousands of `key:` pairs, and reading to its end for each would
        // cost the square of its length.
        let rest = self.source.text.get(start..)?;
        let key_len = if plain {
            rest.starts_with(value.as_str()).then_some(value.len())?
        } else {
            quoted_len(rest)?
        };
        let after = &rest[key_len..];
        let blanks = after.len() - after.trim_start_matches([' ', '\t']).len();
        let colon = key_len + blanks;
        let key_text = &rest[..key_len];
        (rest[colon..].starts_with(':') && !key_text.contains('\n')).then(|| Span {
            line: key.span.line,
            col: key.span.col + key_text.chars().count() + blanks + 1,
        })
    }

    /// Resolves merge keys (YAML 1.1 `<<`): the mapping's own keys win over merged ones, and of
    /// several merged mappings (`<<: [*a, *b]`) the earlier wins. `path` is the mapping's.
    fn merge(
        &self,
        entries: Vec<(Node, Node)>,
        path: &str,
    ) -> Result<Vec<(Node, Node)>, SyntaxError> {
        if !entries.iter().any(|(k, _)| k.is_merge_key()) {
            return Ok(entries);
        }
        let field = if path.is_empty() {
            "<<".to_string()
        } else {
            format!("{path}.<<")
        };
        let usage = "write `<<: *anchor` or `<<: [*a, *b]`, naming anchored mappings";
        let (merges, mut out): (Vec<_>, Vec<_>) =
            entries.into_iter().partition(|(k, _)| k.is_merge_key());
        if let Some((k, _)) = merges.get(1) {
            return Err(SyntaxError {
                span: k.span,
                path: field,
                message: format!(
                    "the merge key `<<` is given twice (first on line {})",
                    merges[0].0.span.line
                ),
                hint: "merge several mappings with one key: `<<: [*a, *b]`".into(),
            });
        }
        let Some((_, value)) = merges.into_iter().next() else {
            return Ok(out);
        };
        let sources: Vec<Node> = match value.kind {
            Kind::Map(_) => vec![value],
            Kind::Seq(items) => items,
            _ => {
                return Err(SyntaxError {
                    span: value.span,
                    path: field,
                    message: format!(
                        "the merge key `<<` takes a mapping or a list of mappings, found {}",
                        value.describe()
                    ),
                    hint: usage.into(),
                })
            }
        };
        let mut seen: std::collections::HashSet<String> = out
            .iter()
            .filter_map(|(k, _)| k.scalar().map(str::to_string))
            .collect();
        for (i, source) in sources.into_iter().enumerate() {
            let Kind::Map(fields) = source.kind else {
                return Err(SyntaxError {
                    span: source.span,
                    path: format!("{field}[{i}]"),
                    message: format!(
                        "the merge key `<<` takes mappings, found {}",
                        source.describe()
                    ),
                    hint: usage.into(),
                });
            };
            for (k, v) in fields {
                match k.scalar() {
                    Some(name) if !seen.insert(name.to_string()) => {}
                    _ => out.push((k, v)),
                }
            }
        }
        Ok(out)
    }
}

impl MarkedEventReceiver for Builder<'_> {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let span = span_of(&mark);
        match ev {
            _ if self.fatal.is_some() => {}
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
                let empty = value.is_empty() && style == TScalarStyle::Plain && tag.is_none();
                let tagged_str = tag.is_some_and(|t| t.suffix == "str");
                let plain = style == TScalarStyle::Plain && !tagged_str;
                let mut span = span;
                if empty {
                    let key = match self.stack.last() {
                        Some(Frame::Map { key: Some(k), .. }) => Some(k.clone()),
                        _ => None,
                    };
                    if let Some(k) = key {
                        span = self.after_colon(&k).unwrap_or(k.span);
                    }
                }
                self.push(
                    Node {
                        kind: Kind::Scalar { value, plain },
                        span,
                    },
                    1,
                    anchor,
                );
            }
            Event::SequenceStart(anchor, _) => self.stack.push(Frame::Seq {
                items: Vec::new(),
                span,
                anchor,
                size: 1,
            }),
            Event::MappingStart(anchor, _) => self.stack.push(Frame::Map {
                entries: Vec::new(),
                key: None,
                span,
                anchor,
                size: 1,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, size, anchor) = match self.stack.pop() {
                    Some(Frame::Seq {
                        items,
                        span,
                        anchor,
                        size,
                    }) => (
                        Node {
                            kind: Kind::Seq(items),
                            span,
                        },
                        size,
                        anchor,
                    ),
                    Some(Frame::Map {
                        entries,
                        span,
                        anchor,
                        size,
                        ..
                    }) => {
                        // A mapping is located at its first key: for `- name: a` that is the
                        // `n`, where yaml-rust2 would say the first colon.
                        let span = entries.first().map_or(span, |(k, _)| k.span);
                        match self.merge(entries, &self.path()) {
                            Ok(entries) => (
                                Node {
                                    kind: Kind::Map(entries),
                                    span,
                                },
                                size,
                                anchor,
                            ),
                            Err(e) => {
                                self.fatal = Some(e);
                                return;
                            }
                        }
                    }
                    None => return,
                };
                self.push(node, size, anchor);
            }
            Event::Alias(id) => {
                // The parser has already checked that the anchor exists.
                let Some((node, size)) = self.anchors.get(&id) else {
                    return;
                };
                let size = *size;
                self.expanded = self.expanded.saturating_add(size);
                if self.expanded > MAX_ALIAS_NODES {
                    self.fatal = Some(SyntaxError {
                        span,
                        path: self.path(),
                        message: format!(
                            "alias expansion too large: aliases would add more than \
                             {MAX_ALIAS_NODES} nodes"
                        ),
                        hint: "aliases may repeat blocks of fields, not multiply them: write \
                               the repeated structure out"
                            .into(),
                    });
                    return;
                }
                let mut node = node.clone();
                node.span = span;
                self.push(node, size, 0);
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
    }
}

/// Parses YAML text into a tree. `Ok(None)` for a file with no document at all.
pub(crate) fn parse(text: &str) -> Result<Option<Node>, SyntaxError> {
    let mut builder = Builder::new(text);
    let mut parser = Parser::new_from_str(text);
    // Events are pulled one at a time rather than through `Parser::load`, whose loader
    // recurses once per nesting level: 20,000 `? :` on one line overflowed the stack (an
    // abort, which nothing can catch) before the builder's depth limit could refuse it.
    let scanned = loop {
        match parser.next_token() {
            Err(e) => break Err(e),
            Ok((ev, mark)) => {
                let end = ev == Event::StreamEnd;
                builder.on_event(ev, mark);
                if end || builder.fatal.is_some() {
                    break Ok(());
                }
            }
        }
    };
    // A problem found while building lies before any later syntax error: it comes first.
    if let Some(e) = builder.fatal {
        return Err(e);
    }
    if let Err(e) = scanned {
        return Err(SyntaxError {
            span: span_of(e.marker()),
            path: builder.path(),
            message: format!("YAML syntax: {}", e.info()),
            hint: "fix the YAML at this position; nothing else was checked".into(),
        });
    }
    if let Some(span) = builder.too_deep {
        return Err(SyntaxError {
            span,
            path: String::new(),
            message: format!("nesting deeper than {MAX_DEPTH} levels"),
            hint: "a topology needs a few levels; flatten the structure".into(),
        });
    }
    if let Some(span) = builder.extra_document {
        return Err(SyntaxError {
            span,
            path: String::new(),
            message: "a topology file holds one YAML document, found a second one".into(),
            hint: "remove the `---` and what follows, or split it into its own file".into(),
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

    fn entries(n: &Node) -> &[(Node, Node)] {
        match &n.kind {
            Kind::Map(e) => e,
            other => panic!("not a mapping: {other:?}"),
        }
    }

    fn field<'n>(n: &'n Node, key: &str) -> &'n Node {
        entries(n)
            .iter()
            .find(|(k, _)| k.scalar() == Some(key))
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("no field {key}"))
    }

    #[test]
    fn an_empty_value_is_placed_just_after_its_keys_colon() {
        // yaml-rust2 places these at the next token: the next line, or past the end.
        let text = "a:\nb:   # note: x\n  \nc: 1\n'q: d':\n\"e\\\"\" :\nlast:";
        let root = parse(text).unwrap().unwrap();
        assert_eq!(field(&root, "a").span, Span { line: 1, col: 3 });
        assert_eq!(field(&root, "b").span, Span { line: 2, col: 3 });
        assert_eq!(field(&root, "q: d").span, Span { line: 5, col: 8 });
        assert_eq!(field(&root, "e\"").span, Span { line: 6, col: 8 });
        assert_eq!(field(&root, "last").span, Span { line: 7, col: 6 });
        assert!(field(&root, "last").is_null());
        // Not empty: an explicit null stays where it is written.
        let root = parse("a:\n  ~\n").unwrap().unwrap();
        assert_eq!(field(&root, "a").span, Span { line: 2, col: 3 });
    }

    #[test]
    fn columns_after_the_colon_count_characters_not_bytes() {
        let root = parse("# café ☕\né: x\nclé ☕:\nb: {ü: 1, ö:}\r\nz:\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(field(&root, "clé ☕").span, Span { line: 3, col: 7 });
        assert_eq!(
            field(field(&root, "b"), "ö").span,
            Span { line: 4, col: 13 }
        );
        assert_eq!(field(&root, "z").span, Span { line: 5, col: 3 });
    }

    #[test]
    fn an_empty_value_in_a_nested_or_flow_mapping_is_placed_after_the_colon() {
        let root = parse("n:\n  - x: 1\n    y:\n  - {z: }\n").unwrap().unwrap();
        let Kind::Seq(items) = &field(&root, "n").kind else {
            panic!()
        };
        assert_eq!(field(&items[0], "y").span, Span { line: 3, col: 7 });
        assert_eq!(field(&items[1], "z").span, Span { line: 4, col: 8 });
    }

    #[test]
    fn a_mapping_is_located_at_its_first_key() {
        let root = parse("top: 1\nl:\n  - name: a\n    x: 2\n  - {k: v}\n")
            .unwrap()
            .unwrap();
        assert_eq!(root.span, Span { line: 1, col: 1 });
        let Kind::Seq(items) = &field(&root, "l").kind else {
            panic!()
        };
        assert_eq!(items[0].span, Span { line: 3, col: 5 });
        assert_eq!(items[1].span, Span { line: 5, col: 6 });
    }

    /// The "billion laughs" shape: each line aliases the previous one nine times.
    fn laughs(levels: usize) -> String {
        let mut t = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..levels {
            let p = i - 1;
            t.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        t
    }

    #[test]
    fn alias_expansion_beyond_the_budget_is_refused_at_the_alias() {
        let err = parse(&laughs(9)).unwrap_err();
        assert!(err.message.contains("alias expansion too large"), "{err:?}");
        // Levels 1-4 add 90 + 819 + 7,380 + 66,429 = 74,718 nodes; the first alias of level 5
        // (66,430 more) crosses the budget.
        assert_eq!(err.span, Span { line: 6, col: 10 });
        assert_eq!(err.path, "a5[0]");
    }

    #[test]
    fn aliases_within_the_budget_expand() {
        let root = parse(&laughs(4)).unwrap().unwrap();
        let Kind::Seq(level3) = &field(&root, "a3").kind else {
            panic!()
        };
        assert_eq!(level3.len(), 9);
        assert_eq!(level3[8].span, Span { line: 4, col: 50 });
    }

    #[test]
    fn merge_keys_add_fields_and_explicit_keys_win() {
        let root = parse("base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\n")
            .unwrap()
            .unwrap();
        let m = field(&root, "m");
        let got: Vec<(&str, &str)> = entries(m)
            .iter()
            .map(|(k, v)| (k.scalar().unwrap(), v.scalar().unwrap()))
            .collect();
        assert_eq!(got, [("y", "3"), ("x", "1")]);
        // Merged values keep the position where they are written.
        assert_eq!(field(m, "x").span, Span { line: 1, col: 14 });
        // The mapping itself is where its first key is written.
        assert_eq!(m.span, Span { line: 3, col: 3 });
    }

    #[test]
    fn merge_of_a_list_gives_earlier_mappings_precedence() {
        let root = parse("a: &a {x: 1}\nb: &b {x: 2, z: 2}\nm:\n  <<: [*a, *b, {w: 4}]\n")
            .unwrap()
            .unwrap();
        let m = field(&root, "m");
        assert_eq!(field(m, "x").scalar(), Some("1"));
        assert_eq!(field(m, "z").scalar(), Some("2"));
        assert_eq!(field(m, "w").scalar(), Some("4"));
        assert_eq!(entries(m).len(), 3);
    }

    #[test]
    fn a_quoted_merge_key_is_an_ordinary_key() {
        let root = parse("m: {'<<': 1}\n").unwrap().unwrap();
        assert_eq!(field(field(&root, "m"), "<<").scalar(), Some("1"));
    }

    #[test]
    fn a_merge_key_needs_mappings() {
        let err = parse("l:\n  - <<: 5\n").unwrap_err();
        assert!(err.message.contains("takes a mapping"), "{err:?}");
        assert_eq!(err.path, "l[0].<<");
        assert_eq!(err.span, Span { line: 2, col: 9 });
        let err = parse("a: &a {x: 1}\nm:\n  <<: [*a, 5]\n").unwrap_err();
        assert_eq!(err.path, "m.<<[1]");
        assert!(err.message.contains("found a number"), "{err:?}");
        let err = parse("a: &a {x: 1}\nm:\n  <<: *a\n  <<: *a\n").unwrap_err();
        assert!(err.message.contains("given twice"), "{err:?}");
        assert_eq!(err.span.line, 4);
    }

    #[test]
    fn empty_text_has_no_document() {
        assert_eq!(parse("# nothing\n").unwrap(), None);
    }
}
