//! Compute list filters (`?filter=`): the two grammars GCP accepts, AIP-160 comparisons
//! (`=`, `!=`, `<`, `>`, `<=`, `>=`, `:`) joined by AND/OR/parentheses and the regular
//! expression style (`eq`/`ne`, RE2, whole-field match), parsed and evaluated on rendered JSON.

use regex::{Regex, RegexBuilder};
use serde_json::Value;

/// A parsed filter.
#[derive(Debug)]
pub enum Expr {
    Cmp(Cmp),
    And(Vec<Expr>),
    Or(Vec<Expr>),
}

/// One comparison: a dotted field path, an operator and its literal.
#[derive(Debug)]
pub struct Cmp {
    field: String,
    op: Op,
}

#[derive(Debug)]
enum Op {
    Eq(String),
    Ne(String),
    Lt(String),
    Gt(String),
    Le(String),
    Ge(String),
    /// `:` — `*` tests presence; otherwise a map key, an array element or an equal value.
    Has(String),
    /// `eq`: the regular expression matches the whole field.
    Re(Regex),
    /// `ne`: it does not.
    NotRe(Regex),
}

/// Compiled regular expressions are bounded so that a hostile filter cannot take memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

fn bad(f: &str, why: &str) -> String {
    format!("Invalid value for field 'filter': '{f}'. Invalid list filter expression: {why}")
}

/// Parses a filter; `Ok(None)` for an empty one (no filtering).
pub fn parse(f: &str) -> Result<Option<Expr>, String> {
    if f.trim().is_empty() {
        return Ok(None);
    }
    let toks = tokenize(f).map_err(|why| bad(f, &why))?;
    let regex_style = toks
        .iter()
        .any(|t| matches!(t, Tok::Word(w) if w == "eq" || w == "ne"));
    let expr = if regex_style {
        parse_regex_style(f).map_err(|why| bad(f, &why))?
    } else {
        let mut p = Parser {
            toks: &toks,
            i: 0,
            depth: 0,
        };
        let e = p.seq().map_err(|why| bad(f, &why))?;
        if p.i != toks.len() {
            return Err(bad(f, "unbalanced parentheses"));
        }
        e
    };
    Ok(Some(expr))
}

/// Whether a rendered resource passes the filter.
pub fn matches(e: &Expr, v: &Value) -> bool {
    match e {
        Expr::And(es) => es.iter().all(|e| matches(e, v)),
        Expr::Or(es) => es.iter().any(|e| matches(e, v)),
        Expr::Cmp(c) => c.eval(v),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Open,
    Close,
    Word(String),
    Quoted(String),
}

/// Splits on whitespace and parentheses; quoted strings ('…' or "…", `\` escapes) are one
/// token. Operators stay inside words (`name!=x`) and are split by the parser, so that a
/// value such as a URL may contain `:` or `=`.
fn tokenize(f: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = f.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Tok::Open);
            }
            ')' => {
                chars.next();
                out.push(Tok::Close);
            }
            '"' | '\'' => {
                chars.next();
                out.push(Tok::Quoted(quoted(&mut chars, c)?));
            }
            _ => {
                let mut w = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || matches!(c, '(' | ')' | '"' | '\'') {
                        break;
                    }
                    w.push(c);
                    chars.next();
                }
                out.push(Tok::Word(w));
            }
        }
    }
    Ok(out)
}

fn quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, q: char) -> Result<String, String> {
    let mut s = String::new();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n) => s.push(n),
                None => break,
            },
            c if c == q => return Ok(s),
            c => s.push(c),
        }
    }
    Err("unterminated quoted string".into())
}

fn is_field_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

/// The AIP-160 operator at the start of `s`, longest first.
fn leading_op(s: &str) -> Option<&'static str> {
    ["!=", "<=", ">=", "=", "<", ">", ":"]
        .into_iter()
        .find(|op| s.starts_with(op))
}

/// Parentheses nest at most this deep. The parser recurses once per level, and a stack
/// overflow aborts the whole process (it cannot be caught), so the depth is bounded before
/// recursing; no real filter comes near it.
pub const MAX_DEPTH: usize = 64;

struct Parser<'a> {
    toks: &'a [Tok],
    i: usize,
    /// Parentheses open at this point.
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.i).cloned();
        self.i += 1;
        t
    }

    /// A sequence of terms, ANDed (explicitly or by juxtaposition). AIP-160 binds OR
    /// tighter than AND: `a AND b OR c` is `a AND (b OR c)`.
    fn seq(&mut self) -> Result<Expr, String> {
        let mut terms = vec![self.or_group()?];
        loop {
            match self.peek() {
                None | Some(Tok::Close) => break,
                Some(Tok::Word(w)) if w == "AND" => {
                    self.next();
                    terms.push(self.or_group()?);
                }
                Some(_) => terms.push(self.or_group()?),
            }
        }
        Ok(if terms.len() == 1 {
            terms.remove(0)
        } else {
            Expr::And(terms)
        })
    }

    fn or_group(&mut self) -> Result<Expr, String> {
        let mut alts = vec![self.primary()?];
        while matches!(self.peek(), Some(Tok::Word(w)) if w == "OR") {
            self.next();
            alts.push(self.primary()?);
        }
        Ok(if alts.len() == 1 {
            alts.remove(0)
        } else {
            Expr::Or(alts)
        })
    }

    fn primary(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Tok::Open) => {
                if self.peek() == Some(&Tok::Close) {
                    return Err("empty parentheses".into());
                }
                if self.depth >= MAX_DEPTH {
                    return Err(format!("parentheses nested deeper than {MAX_DEPTH} levels"));
                }
                self.depth += 1;
                let e = self.seq()?;
                self.depth -= 1;
                match self.next() {
                    Some(Tok::Close) => Ok(e),
                    _ => Err("unbalanced parentheses".into()),
                }
            }
            Some(Tok::Word(w)) if w == "AND" || w == "OR" => {
                Err(format!("'{w}' needs an expression on both sides"))
            }
            Some(Tok::Word(w)) if w == "NOT" || w.starts_with('-') => {
                Err("negation (NOT, -) is not supported by the sandbox; use != or ne".into())
            }
            Some(Tok::Word(w)) => self.comparison(w),
            Some(Tok::Quoted(_)) => Err("a comparison starts with a field name".into()),
            Some(Tok::Close) => Err("unbalanced parentheses".into()),
            None => Err("an expression is missing".into()),
        }
    }

    /// `field op value`, written with or without spaces around the operator.
    fn comparison(&mut self, first: String) -> Result<Expr, String> {
        let split = first.find(|c| !is_field_char(c)).unwrap_or(first.len());
        let field = first[..split].to_string();
        if field.is_empty() || field.starts_with('.') || field.ends_with('.') {
            return Err(format!("'{first}' is not a field name"));
        }
        let mut rest = first[split..].to_string();
        if rest.is_empty() {
            match self.next() {
                Some(Tok::Word(w)) => rest = w,
                _ => return Err(format!("an operator must follow '{field}'")),
            }
        }
        let op = leading_op(&rest)
            .ok_or_else(|| format!("'{rest}' is not an operator (=, !=, <, >, <=, >=, :)"))?;
        let mut value = rest[op.len()..].to_string();
        if value.is_empty() {
            value = match self.next() {
                Some(Tok::Word(w)) if w != "AND" && w != "OR" => w,
                Some(Tok::Quoted(q)) => q,
                _ => return Err(format!("a value must follow '{field} {op}'")),
            };
        }
        let op = match op {
            "=" => Op::Eq(value),
            "!=" => Op::Ne(value),
            "<" => Op::Lt(value),
            ">" => Op::Gt(value),
            "<=" => Op::Le(value),
            ">=" => Op::Ge(value),
            _ => Op::Has(value),
        };
        Ok(Expr::Cmp(Cmp { field, op }))
    }
}

/// The regular-expression grammar: one unparenthesized `field eq|ne literal` (the literal
/// is the rest of the filter, quoted or not), or parenthesized such comparisons side by side
/// (optionally joined by AND). OR and AIP-160 operators cannot be mixed in.
fn parse_regex_style(f: &str) -> Result<Expr, String> {
    let s = f.trim();
    if !s.starts_with('(') {
        return regex_cmp(s);
    }
    let mut terms = Vec::new();
    let mut rest = s;
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix("AND") {
            if terms.is_empty() || !r.starts_with(|c: char| c.is_whitespace() || c == '(') {
                return Err("'AND' needs an expression on both sides".into());
            }
            rest = r.trim_start();
            continue;
        }
        let Some(inner) = rest.strip_prefix('(') else {
            return Err(
                "regular expression comparisons (eq, ne) must each be in parentheses and cannot be combined with OR or AIP-160 operators"
                    .into(),
            );
        };
        let end = group_end(inner)?;
        terms.push(regex_cmp(inner[..end].trim())?);
        rest = inner[end + 1..].trim_start();
    }
    Ok(if terms.len() == 1 {
        terms.remove(0)
    } else {
        Expr::And(terms)
    })
}

/// Index of the `)` closing a group whose `(` was just consumed (quotes and nested
/// parentheses of the regular expression respected).
fn group_end(s: &str) -> Result<usize, String> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (_, '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') if depth == 0 => return Ok(i),
            (None, ')') => depth -= 1,
            _ => {}
        }
    }
    Err("unbalanced parentheses".into())
}

fn regex_cmp(s: &str) -> Result<Expr, String> {
    if s.is_empty() {
        return Err("empty parentheses".into());
    }
    let mut parts = s.splitn(2, char::is_whitespace);
    let field = parts.next().unwrap_or_default();
    let rest = parts.next().unwrap_or_default().trim_start();
    let (op, literal) = match rest.split_once(char::is_whitespace) {
        Some((op, lit)) => (op, lit.trim()),
        None => (rest, ""),
    };
    if field.is_empty() || !field.chars().all(is_field_char) {
        return Err(format!("'{field}' is not a field name"));
    }
    if op != "eq" && op != "ne" {
        return Err(format!(
            "'{op}' cannot be mixed with eq/ne: the two filter grammars cannot be combined"
        ));
    }
    let literal = unquote(literal);
    if literal.is_empty() {
        return Err(format!("a regular expression must follow '{field} {op}'"));
    }
    let re = RegexBuilder::new(&format!("^(?:{literal})$"))
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| format!("'{literal}' is not a valid RE2 regular expression ({e})"))?;
    let op = if op == "eq" {
        Op::Re(re)
    } else {
        Op::NotRe(re)
    };
    Ok(Expr::Cmp(Cmp {
        field: field.to_string(),
        op,
    }))
}

fn unquote(s: &str) -> &str {
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) {
            return &s[1..s.len() - 1];
        }
    }
    s
}

/// A JSON scalar as the text a filter literal is compared with.
fn text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

fn order(actual: &str, literal: &str) -> std::cmp::Ordering {
    match (actual.parse::<f64>(), literal.parse::<f64>()) {
        (Ok(a), Ok(b)) => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
        _ => actual.cmp(literal),
    }
}

impl Cmp {
    fn eval(&self, v: &Value) -> bool {
        let mut cur = Some(v);
        for seg in self.field.split('.') {
            cur = cur.and_then(|c| c.get(seg));
        }
        // An array field passes when one of its elements does (sourceRanges = 10.0.0.0/8).
        let values: Vec<Option<&Value>> = match cur {
            Some(Value::Array(a)) if !matches!(self.op, Op::Has(_)) => a.iter().map(Some).collect(),
            other => vec![other],
        };
        let one = |x: Option<&Value>| -> bool {
            let actual = text(x);
            match &self.op {
                Op::Eq(l) => actual == *l,
                Op::Ne(l) => actual != *l,
                Op::Lt(l) => x.is_some() && order(&actual, l).is_lt(),
                Op::Gt(l) => x.is_some() && order(&actual, l).is_gt(),
                Op::Le(l) => x.is_some() && order(&actual, l).is_le(),
                Op::Ge(l) => x.is_some() && order(&actual, l).is_ge(),
                Op::Re(re) => re.is_match(&actual),
                Op::NotRe(re) => !re.is_match(&actual),
                Op::Has(l) => match x {
                    None | Some(Value::Null) => false,
                    Some(_) if l == "*" => true,
                    Some(Value::Object(m)) => m.contains_key(l.as_str()),
                    Some(Value::Array(a)) => a.iter().any(|e| text(Some(e)) == *l),
                    Some(_) => actual == *l,
                },
            }
        };
        match (&self.op, values.is_empty()) {
            // An empty array: only "not equal" comparisons hold.
            (Op::Ne(_) | Op::NotRe(_), true) => true,
            (_, true) => false,
            (Op::Ne(_) | Op::NotRe(_), false) => values.into_iter().all(one),
            _ => values.into_iter().any(one),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({
            "name": "fw-allow-aws",
            "labels": {"owner": "py", "team": "net ops"},
            "network": "http://127.0.0.1:1/compute/v1/projects/p/global/networks/prod-vpc",
            "priority": 1000,
            "disabled": false,
            "sourceRanges": ["10.10.0.0/16", "10.11.0.0/16"],
        })
    }

    fn hit(f: &str) -> bool {
        let e = parse(f)
            .unwrap_or_else(|e| panic!("{f}: {e}"))
            .expect("a filter");
        matches(&e, &sample())
    }

    #[test]
    fn aip160_comparisons_match_exact_values_nested_fields_and_numbers() {
        assert!(hit(r#"name = "fw-allow-aws""#));
        assert!(hit("name=fw-allow-aws"));
        assert!(!hit("name = fw-allow"));
        assert!(hit("labels.owner = py AND priority = 1000"));
        assert!(hit(r#"labels.team = "net ops""#));
        assert!(hit("(priority = 1000) (name != other)"));
        assert!(hit("priority < 1001") && hit("priority >= 1000") && !hit("priority > 1000"));
        assert!(hit("priority <= 1000") && !hit("priority < 999"));
        assert!(hit("disabled = false"));
        assert!(hit(
            "network = http://127.0.0.1:1/compute/v1/projects/p/global/networks/prod-vpc"
        ));
        assert!(
            !hit("network = prod-vpc"),
            "a reference compares as its full URL"
        );
        assert!(hit("sourceRanges = 10.11.0.0/16") && !hit("sourceRanges = 10.12.0.0/16"));
        assert!(hit("labels.owner:*") && !hit("labels.missing:*"));
        assert!(hit("labels:team") && !hit("labels:cost"));
    }

    #[test]
    fn or_binds_tighter_than_and_as_aip160_says() {
        assert!(hit("(name = x) OR (name = fw-allow-aws)"));
        assert!(!hit("name = x OR name = y"));
        // a AND (b OR c): with a false, the whole is false even though c holds.
        assert!(!hit("name = x AND priority = 1 OR priority = 1000"));
        assert!(hit(
            "name = fw-allow-aws AND priority = 1 OR priority = 1000"
        ));
    }

    #[test]
    fn eq_and_ne_are_re2_regular_expressions_matching_the_whole_field() {
        assert!(hit("name eq fw-.*"));
        assert!(!hit("name eq fw-allow"), "a partial match is not a match");
        assert!(hit("name ne .*instance"));
        assert!(!hit("name ne fw-allow-.*"));
        assert!(hit(r#"name eq "fw-(allow|deny)-aws""#));
        assert!(hit("(name eq fw-(allow|deny)-.*) (labels.owner eq 'p.')"));
        assert!(!hit("(name eq fw-.*) AND (labels.owner ne py)"));
        assert!(
            hit("labels.team eq net ops"),
            "an unparenthesized literal may hold spaces"
        );
    }

    #[test]
    fn malformed_or_unsupported_filters_are_refused() {
        for f in [
            "()",
            "(  )",
            "(())",
            "name",
            "name =",
            "= x",
            "name ~ x",
            "(name = x",
            "name = x)",
            "name = x AND",
            "OR name = x",
            "NOT name = x",
            "-name = x",
            r#"name = "x"#,
            "(name eq fw-.*) OR (name eq x)",
            "(name eq fw-.*) (priority = 1000)",
            "name eq",
            "name eq (unclosed",
        ] {
            assert!(parse(f).is_err(), "{f} was accepted");
        }
        assert!(parse("").unwrap().is_none());
        assert!(parse("   ").unwrap().is_none());
    }

    #[test]
    fn nesting_is_bounded_before_the_parser_recurses() {
        let deep = |n: usize| format!("{}name = a{}", "(".repeat(n), ")".repeat(n));
        assert!(parse(&deep(MAX_DEPTH)).unwrap().is_some());
        let err = parse(&deep(MAX_DEPTH + 1)).unwrap_err();
        assert!(err.contains("nested deeper than 64"), "{err}");
        // Far past any stack: refused, not overflowed.
        assert!(parse(&deep(200_000)).is_err());
        // Unbalanced deep input too.
        assert!(parse(&"(".repeat(200_000)).is_err());
    }
}
