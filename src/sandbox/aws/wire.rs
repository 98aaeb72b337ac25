//! The EC2 Query protocol on the wire: form parameters in (flattened 1-based lists), XML out
//! (`<ActionResponse>` with `requestId`, `<Response><Errors>` for failures), Describe filters
//! with AWS's wildcard matching, and ISO-8601 timestamps.

use crate::sandbox::http::Response;
use std::collections::BTreeMap;
use std::fmt::Display;

/// The XML namespace of every EC2 response.
pub const XMLNS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

/// A failed operation: HTTP status, EC2 error code and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl ApiError {
    /// A client error (HTTP 400).
    pub fn client(code: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            status: 400,
            code: code.to_string(),
            message: message.into(),
        }
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::client("InvalidParameterValue", message)
    }

    pub fn missing(name: &str) -> ApiError {
        ApiError::client(
            "MissingParameter",
            format!("The request must contain the parameter {name}"),
        )
    }

    /// `<code>` is e.g. `InvalidVpnGatewayID.NotFound`.
    pub fn not_found(code: &str, what: &str, id: &str) -> ApiError {
        ApiError::client(code, format!("The {what} ID '{id}' does not exist"))
    }

    pub fn incorrect_state(message: impl Into<String>) -> ApiError {
        ApiError::client("IncorrectState", message)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The form parameters of one request, keyed as sent (`Options.TunnelOptions.1.PreSharedKey`).
#[derive(Debug, Clone, Default)]
pub struct Params {
    map: BTreeMap<String, String>,
}

impl Params {
    pub fn new(pairs: Vec<(String, String)>) -> Params {
        Params {
            map: pairs.into_iter().collect(),
        }
    }

    /// Reads a form body (the Query protocol) once, in one pass: a parameter given twice is
    /// refused (a request is one operation with one value per parameter, so the operation
    /// counted, persisted and executed cannot disagree), and so is a key nested deeper than
    /// any EC2 shape goes. Then [`Params::check_limits`].
    pub fn parse(body: &[u8]) -> ApiResult<Params> {
        let mut map = BTreeMap::new();
        for (k, v) in form_urlencoded::parse(body) {
            if k.split('.').count() > MAX_KEY_DEPTH {
                return Err(ApiError::client(
                    "UnknownParameter",
                    format!(
                        "The parameter {} is not recognized (more than {MAX_KEY_DEPTH} levels)",
                        clip(&k)
                    ),
                ));
            }
            match map.entry(k.into_owned()) {
                std::collections::btree_map::Entry::Occupied(e) => {
                    return Err(ApiError::client(
                        "InvalidParameterCombination",
                        format!("The parameter {} is given more than once", clip(e.key())),
                    ))
                }
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(v.into_owned());
                }
            }
        }
        let p = Params { map };
        p.check_limits()?;
        Ok(p)
    }

    /// EC2's member limits on its list parameters: at most [`MAX_FILTERS`] filters of at most
    /// [`MAX_FILTER_VALUES`] values each (`FilterLimitExceeded`), at most [`MAX_TAGS`] tags in
    /// `Tag.N` and in each `TagSpecification.N.Tag.M` (`TagLimitExceeded`).
    pub fn check_limits(&self) -> ApiResult<()> {
        let filters = self.indices("Filter");
        if filters.len() > MAX_FILTERS {
            return Err(filter_limit(format!(
                "The request has {} filters; at most {MAX_FILTERS} are allowed",
                filters.len()
            )));
        }
        for i in filters {
            let n = self.indices(&format!("Filter.{i}.Value")).len();
            if n > MAX_FILTER_VALUES {
                return Err(filter_limit(format!(
                    "Filter.{i} has {n} values; at most {MAX_FILTER_VALUES} are allowed per filter"
                )));
            }
        }
        let mut tag_lists = vec!["Tag".to_string()];
        tag_lists.extend(
            self.indices("TagSpecification")
                .into_iter()
                .map(|i| format!("TagSpecification.{i}.Tag")),
        );
        for list in tag_lists {
            let n = self.indices(&list).len();
            if n > MAX_TAGS {
                return Err(ApiError::client(
                    "TagLimitExceeded",
                    format!(
                        "The maximum number of tags for a resource has been exceeded: {list} has {n} tags, at most {MAX_TAGS} are allowed"
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.map
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    pub fn req(&self, key: &str) -> ApiResult<&str> {
        self.get(key).ok_or_else(|| ApiError::missing(key))
    }

    pub fn bool(&self, key: &str) -> ApiResult<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::invalid(format!(
                "Value ({v}) for parameter {key} is invalid. Expected a boolean."
            ))),
        }
    }

    pub fn int<T: std::str::FromStr>(&self, key: &str) -> ApiResult<Option<T>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                ApiError::invalid(format!(
                    "Value ({v}) for parameter {key} is invalid. Expected a number."
                ))
            }),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.map.values().all(String::is_empty)
    }

    /// The entries whose keys start with `prefix.`, prefix included: one contiguous range of
    /// the sorted map, so a lookup costs its own size (plus a logarithm), never the whole
    /// request's. This keeps every list accessor linear in the request.
    fn under<'a>(&'a self, prefix: &str) -> impl Iterator<Item = (&'a str, &'a String)> + 'a {
        let p = format!("{prefix}.");
        let n = p.len();
        self.map
            .range::<str, _>((
                std::ops::Bound::Included(p.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(k, _)| k.starts_with(&p))
            .map(move |(k, v)| (&k[n..], v))
    }

    /// The parameters under `prefix.` with the prefix removed.
    pub fn sub(&self, prefix: &str) -> Params {
        Params {
            map: self
                .under(prefix)
                .map(|(r, v)| (r.to_string(), v.clone()))
                .collect(),
        }
    }

    /// The list indices used under `prefix` (`prefix.N` or `prefix.N.…`), in numeric order.
    fn indices(&self, prefix: &str) -> Vec<u32> {
        let mut idx: Vec<u32> = self
            .under(prefix)
            .filter_map(|(r, _)| r.split('.').next())
            .filter_map(|n| n.parse().ok())
            .collect();
        idx.sort_unstable();
        idx.dedup();
        idx
    }

    /// A list of scalars: `prefix.1`, `prefix.2`, …
    pub fn values(&self, prefix: &str) -> Vec<String> {
        self.indices(prefix)
            .into_iter()
            .filter_map(|i| self.get(&format!("{prefix}.{i}")).map(str::to_string))
            .collect()
    }

    /// A list of structures: `prefix.1.Field`, `prefix.2.Field`, …
    pub fn items(&self, prefix: &str) -> Vec<Params> {
        self.indices(prefix)
            .into_iter()
            .map(|i| self.sub(&format!("{prefix}.{i}")))
            .collect()
    }

    /// A list of `{Value: …}` structures (the EC2 model's `…RequestListValue` shapes).
    pub fn value_items(&self, prefix: &str) -> Vec<String> {
        self.items(prefix)
            .iter()
            .filter_map(|p| p.get("Value").map(str::to_string))
            .collect()
    }

    /// Tags given as `TagSpecification.N` for `resource_type`.
    pub fn tag_specifications(&self, resource_type: &str) -> ApiResult<Tags> {
        let mut tags = Tags::new();
        for spec in self.items("TagSpecification") {
            let rt = spec.get("ResourceType").unwrap_or("");
            if rt != resource_type {
                return Err(ApiError::invalid(format!(
                    "'{rt}' is not a valid taggable resource type for this operation."
                )));
            }
            for t in spec.items("Tag") {
                tags.insert(
                    t.req("Key")?.to_string(),
                    t.get("Value").unwrap_or("").into(),
                );
            }
        }
        Ok(tags)
    }

    /// The `Filter.N.Name` / `Filter.N.Value.M` filters. A value longer than EC2's 255
    /// characters is refused (`InvalidParameterValue`) before any matching is done.
    pub fn filters(&self) -> ApiResult<Vec<Filter>> {
        let filters: Vec<Filter> = self
            .items("Filter")
            .iter()
            .map(|f| Filter {
                name: f.get("Name").unwrap_or("").to_string(),
                values: f.values("Value"),
            })
            .collect();
        for f in &filters {
            if let Some(v) = f.values.iter().find(|v| v.len() > MAX_FILTER_VALUE_LEN) {
                return Err(ApiError::invalid(format!(
                    "The filter value for '{}' is {} characters long; at most {MAX_FILTER_VALUE_LEN} are allowed",
                    f.name,
                    v.len()
                )));
            }
        }
        Ok(filters)
    }
}

pub type Tags = BTreeMap<String, String>;

/// The deepest parameter key EC2's shapes use is six segments
/// (`Options.TunnelOptions.1.Phase1EncryptionAlgorithm.1.Value`); deeper keys name nothing.
pub const MAX_KEY_DEPTH: usize = 8;
/// Filters per Describe request (EC2: up to 50 filters, up to 200 values per filter).
pub const MAX_FILTERS: usize = 50;
pub const MAX_FILTER_VALUES: usize = 200;
/// Tags per resource, and so per tag list of a request (EC2: 50 user tags per resource).
pub const MAX_TAGS: usize = 50;

fn filter_limit(detail: String) -> ApiError {
    ApiError::client(
        "FilterLimitExceeded",
        format!("The request uses too many filters or too many filter values. {detail}"),
    )
}

/// A parameter name as echoed in an error: at most 100 characters.
fn clip(key: &str) -> String {
    match key.char_indices().nth(100) {
        Some((i, _)) => format!("{}…", &key[..i]),
        None => key.to_string(),
    }
}

/// One Describe filter.
#[derive(Debug, Clone)]
pub struct Filter {
    pub name: String,
    pub values: Vec<String>,
}

/// Whether a resource passes every filter (AND across filters, OR across one filter's
/// values). `attr` gives a resource's values for a filter name, `None` when the filter name
/// is not one this Describe call knows (AWS rejects those).
pub fn matches(
    filters: &[Filter],
    tags: &Tags,
    attr: impl Fn(&str) -> Option<Vec<String>>,
) -> ApiResult<bool> {
    for f in filters {
        let have: Vec<String> = if let Some(key) = f.name.strip_prefix("tag:") {
            tags.get(key).cloned().into_iter().collect()
        } else if f.name == "tag-key" {
            tags.keys().cloned().collect()
        } else if f.name == "tag-value" {
            tags.values().cloned().collect()
        } else {
            attr(&f.name)
                .ok_or_else(|| ApiError::invalid(format!("The filter '{}' is invalid", f.name)))?
        };
        if !have.iter().any(|h| {
            f.values
                .iter()
                .any(|pat| glob(pat.as_bytes(), h.as_bytes()))
        }) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The longest filter value EC2 accepts (values are strings of at most 255 characters).
pub const MAX_FILTER_VALUE_LEN: usize = 255;

/// AWS filter wildcards: `*` any run, `?` one character, `\` escapes.
///
/// Iterative with one backtrack point (the last `*` seen): a later `*` makes every earlier
/// one irrelevant, so a mismatch only ever retries from the latest star with one more
/// character swallowed. O(pattern × text) steps and constant stack, whatever the pattern —
/// this runs under the world lock, so a recursive matcher's exponential worst case (or its
/// stack depth) would stall or abort the whole sandbox.
pub(crate) fn glob(pat: &[u8], s: &[u8]) -> bool {
    let (mut p, mut i) = (0usize, 0usize);
    // (pattern index after the star, text index the star's run ends at)
    let mut star: Option<(usize, usize)> = None;
    while i < s.len() {
        // The literal byte the pattern wants at `p`, if `p` is a literal (possibly escaped).
        let (lit, width) = match pat.get(p) {
            Some(b'\\') if p + 1 < pat.len() => (Some(pat[p + 1]), 2),
            Some(b'*') | Some(b'?') | None => (None, 1),
            Some(c) => (Some(*c), 1),
        };
        match pat.get(p) {
            Some(b'*') => {
                p += 1;
                star = Some((p, i));
                continue;
            }
            Some(b'?') => {
                p += 1;
                i += 1;
                continue;
            }
            _ => {}
        }
        if lit == Some(s[i]) {
            p += width;
            i += 1;
            continue;
        }
        match star {
            Some((sp, si)) => {
                // Let the last star swallow one more character and retry after it.
                p = sp;
                i = si + 1;
                star = Some((sp, si + 1));
            }
            None => return false,
        }
    }
    // The text is used up: only stars may remain.
    pat[p..].iter().all(|c| *c == b'*')
}

/// Slices one page of a paginated Describe result (`MaxResults` 5–1000, `NextToken` = the
/// offset of the next page).
pub fn paginate<T>(p: &Params, items: Vec<T>) -> ApiResult<(Vec<T>, Option<String>)> {
    let start: usize = match p.get("NextToken") {
        None => 0,
        Some(t) => t.parse().map_err(|_| {
            ApiError::client(
                "InvalidPaginationToken",
                format!("The pagination token '{t}' is invalid"),
            )
        })?,
    };
    let max: Option<usize> = p.int("MaxResults")?;
    if let Some(m) = max {
        if !(5..=1000).contains(&m) {
            return Err(ApiError::invalid(format!(
                "Value ({m}) for parameter maxResults is invalid. Expecting a value between 5 and 1000."
            )));
        }
    }
    let total = items.len();
    let take = max.unwrap_or(usize::MAX);
    let page: Vec<T> = items.into_iter().skip(start).take(take).collect();
    let next = (start.saturating_add(take) < total).then(|| (start + take).to_string());
    Ok((page, next))
}

/// A minimal XML writer: elements, escaped text, `<set><item>…</item></set>` lists.
#[derive(Debug, Default)]
pub struct Xml(String);

impl Xml {
    pub fn new() -> Xml {
        Xml(String::new())
    }

    pub fn into_string(self) -> String {
        self.0
    }

    pub fn leaf(&mut self, tag: &str, value: impl Display) -> &mut Xml {
        self.0.push('<');
        self.0.push_str(tag);
        self.0.push('>');
        escape_into(&mut self.0, &value.to_string());
        self.0.push_str("</");
        self.0.push_str(tag);
        self.0.push('>');
        self
    }

    pub fn opt(&mut self, tag: &str, value: Option<impl Display>) -> &mut Xml {
        if let Some(v) = value {
            self.leaf(tag, v);
        }
        self
    }

    pub fn node(&mut self, tag: &str, f: impl FnOnce(&mut Xml)) -> &mut Xml {
        self.0.push('<');
        self.0.push_str(tag);
        self.0.push('>');
        f(self);
        self.0.push_str("</");
        self.0.push_str(tag);
        self.0.push('>');
        self
    }

    pub fn list<I: IntoIterator>(
        &mut self,
        tag: &str,
        items: I,
        mut f: impl FnMut(&mut Xml, I::Item),
    ) -> &mut Xml {
        self.node(tag, |x| {
            for it in items {
                x.node("item", |x| f(x, it));
            }
        })
    }

    /// `<tagSet>` with `<item><key/><value/></item>` entries.
    pub fn tags(&mut self, tags: &Tags) -> &mut Xml {
        self.list("tagSet", tags, |x, (k, v)| {
            x.leaf("key", k).leaf("value", v);
        })
    }
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

/// A request id in AWS's UUID shape, derived from a counter so runs are reproducible.
pub fn request_id(n: u64) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        0x5a4d_0000u32,
        (n >> 48) & 0xffff,
        (n >> 36) & 0xfff,
        (n >> 24) & 0xfff,
        n & 0xffff_ffff_ffff
    )
}

/// A successful response: `<{action}Response xmlns=…><requestId/>{body}</…>`.
pub fn success(action: &str, request_id: &str, body: &str) -> Response {
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<{action}Response xmlns=\"{XMLNS}\"><requestId>{request_id}</requestId>{body}</{action}Response>"
    );
    Response::xml(200, xml).with_header("x-amzn-requestid", request_id)
}

/// EC2's error document.
pub fn error(err: &ApiError, request_id: &str) -> Response {
    let mut x = Xml::new();
    x.node("Response", |x| {
        x.node("Errors", |x| {
            x.node("Error", |x| {
                x.leaf("Code", &err.code).leaf("Message", &err.message);
            });
        })
        .leaf("RequestID", request_id);
    });
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}",
        x.into_string()
    );
    Response::xml(err.status, xml).with_header("x-amzn-requestid", request_id)
}

/// `2026-11-27T17:16:28.000Z` for sandbox milliseconds since the epoch.
pub fn iso8601(ms: u64) -> String {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's days-to-civil conversion.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        Params::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn flattened_lists_are_read_in_numeric_order() {
        let p = params(&[
            ("Filter.10.Name", "state"),
            ("Filter.2.Name", "vpc-id"),
            ("Filter.2.Value.2", "b"),
            ("Filter.2.Value.1", "a"),
        ]);
        let f = p.filters().unwrap();
        assert_eq!(f[0].name, "vpc-id");
        assert_eq!(f[0].values, vec!["a", "b"]);
        assert_eq!(f[1].name, "state");
    }

    #[test]
    fn filters_and_across_names_or_across_values_with_wildcards() {
        let mut tags = Tags::new();
        tags.insert("Name".into(), "prod-mesh-aws".into());
        let f = |n: &str, v: &[&str]| Filter {
            name: n.into(),
            values: v.iter().map(|s| s.to_string()).collect(),
        };
        let attr = |n: &str| (n == "state").then(|| vec!["available".to_string()]);
        assert!(matches(&[f("tag:Name", &["prod-*"])], &tags, attr).unwrap());
        assert!(matches(
            &[f("tag-key", &["Na?e"]), f("state", &["x", "available"])],
            &tags,
            attr
        )
        .unwrap());
        assert!(!matches(
            &[f("tag:Name", &["prod-*"]), f("state", &["pending"])],
            &tags,
            attr
        )
        .unwrap());
        assert!(!matches(&[f("tag:Other", &["*"])], &tags, attr).unwrap());
        let err = matches(&[f("bogus", &["x"])], &tags, attr).unwrap_err();
        assert_eq!(err.code, "InvalidParameterValue");
    }

    /// A plainly exponential-free reference: dynamic programming over (pattern, text)
    /// prefixes, with the pattern first split into tokens (`\x` is a literal x).
    fn glob_reference(pat: &[u8], s: &[u8]) -> bool {
        #[derive(Clone, Copy, PartialEq)]
        enum T {
            Star,
            Any,
            Lit(u8),
        }
        let mut toks = Vec::new();
        let mut i = 0;
        while i < pat.len() {
            toks.push(match pat[i] {
                b'*' => T::Star,
                b'?' => T::Any,
                b'\\' if i + 1 < pat.len() => {
                    i += 1;
                    T::Lit(pat[i])
                }
                c => T::Lit(c),
            });
            i += 1;
        }
        // m[t][k]: the first t tokens match the first k bytes.
        let mut m = vec![vec![false; s.len() + 1]; toks.len() + 1];
        m[0][0] = true;
        for t in 1..=toks.len() {
            for k in 0..=s.len() {
                m[t][k] = match toks[t - 1] {
                    T::Star => m[t - 1][k] || (k > 0 && m[t][k - 1]),
                    T::Any => k > 0 && m[t - 1][k - 1],
                    T::Lit(c) => k > 0 && s[k - 1] == c && m[t - 1][k - 1],
                };
            }
        }
        m[toks.len()][s.len()]
    }

    #[test]
    fn wildcards_star_question_mark_and_escapes() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "", true),
            ("*", "anything", true),
            ("", "", true),
            ("", "x", false),
            ("a*c", "abbbc", true),
            ("a*c", "abbbd", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("*-prod-*", "eu-prod-1", true),
            ("**a**", "bab", true),
            (r"a\*", "a*", true),
            (r"a\*", "ab", false),
            (r"\?", "?", true),
            (r"\?", "x", false),
            (r"a\", r"a\", true),
            ("10.0.*.0/24", "10.0.5.0/24", true),
            ("*x", "aaaa", false),
        ];
        for (pat, s, want) in cases {
            assert_eq!(
                glob(pat.as_bytes(), s.as_bytes()),
                *want,
                "{pat:?} vs {s:?}"
            );
        }
    }

    #[test]
    fn pathological_patterns_answer_without_deep_recursion() {
        // 50,000 stars overflowed the stack of the recursive matcher and aborted the process.
        let stars = "*".repeat(50_000);
        assert!(glob(stars.as_bytes(), b"aws-use1"));
        assert!(!glob(
            format!("{stars}x").as_bytes(),
            "a".repeat(5_000).as_bytes()
        ));
        assert!(glob(format!("{stars}x").as_bytes(), b"aaax"));
        // Many stars before an absent literal: exponential for a backtracking recursion.
        let pat = format!("{}x", "*".repeat(30));
        assert!(!glob(pat.as_bytes(), "a".repeat(200).as_bytes()));
        let pat = format!("{}b", "a*".repeat(30));
        assert!(!glob(pat.as_bytes(), "a".repeat(100).as_bytes()));
        assert!(glob(
            pat.as_bytes(),
            format!("{}b", "a".repeat(100)).as_bytes()
        ));
    }

    #[test]
    fn filter_values_longer_than_255_characters_are_refused() {
        let ok = "*".repeat(MAX_FILTER_VALUE_LEN);
        let p = params(&[("Filter.1.Name", "tag:Name"), ("Filter.1.Value.1", &ok)]);
        assert_eq!(p.filters().unwrap()[0].values[0].len(), 255);
        let long = format!("{ok}x");
        let p = params(&[
            ("Filter.1.Name", "tag:Name"),
            ("Filter.1.Value.1", "a"),
            ("Filter.1.Value.2", &long),
        ]);
        let err = p.filters().unwrap_err();
        assert_eq!(err.code, "InvalidParameterValue");
        assert!(err.message.contains("255"), "{}", err.message);
    }

    proptest::proptest! {
        #[test]
        fn glob_agrees_with_the_dynamic_programming_reference(
            pat in "[ab*?\\\\]{0,12}",
            s in "[ab*?\\\\]{0,12}",
        ) {
            proptest::prop_assert_eq!(
                glob(pat.as_bytes(), s.as_bytes()),
                glob_reference(pat.as_bytes(), s.as_bytes()),
                "{:?} vs {:?}", pat, s
            );
        }
    }

    #[test]
    fn pagination_hands_out_next_tokens_until_the_end() {
        let p = params(&[("MaxResults", "5")]);
        let (page, next) = paginate(&p, (0..12).collect()).unwrap();
        assert_eq!(page, vec![0, 1, 2, 3, 4]);
        let p = params(&[("MaxResults", "5"), ("NextToken", next.as_deref().unwrap())]);
        let (page, next) = paginate(&p, (0..12).collect()).unwrap();
        assert_eq!(page, vec![5, 6, 7, 8, 9]);
        let p = params(&[("MaxResults", "5"), ("NextToken", next.as_deref().unwrap())]);
        let (page, next) = paginate(&p, (0..12).collect()).unwrap();
        assert_eq!((page, next), (vec![10, 11], None));
        let bad = params(&[("MaxResults", "2")]);
        assert!(paginate(&bad, vec![1]).is_err());
    }

    #[test]
    fn timestamps_are_iso8601_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_795_886_188_123), "2026-11-28T17:16:28.123Z");
    }

    #[test]
    fn text_is_escaped() {
        let mut x = Xml::new();
        x.leaf("m", "a<b & 'c'");
        assert_eq!(x.into_string(), "<m>a&lt;b &amp; &apos;c&apos;</m>");
    }
}
