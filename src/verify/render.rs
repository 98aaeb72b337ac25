//! Verify's renderers, pure functions of a [`Report`]: the human table (one row per link and
//! direction, the causes beside it), the `--json` document and the `--junit` XML (one test
//! case per link × check). None of them can carry a key: findings never hold one.

use super::judge::{Check, LinkReport, Report, Verdict};
use super::snapshot::ReadError;
use crate::cloud::Cloud;
use serde_json::{json, Value as J};

/// The JSON document's layout version.
pub const FORMAT_VERSION: u32 = 1;

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "ok",
        Verdict::Warn => "degraded",
        Verdict::Fail => "FAILED",
    }
}

/// Each direction of each link as the graph draws it, by the checks that bear on its traffic
/// (tunnels, routing, firewall): pass up, warn degraded, fail down. Presence is not traffic: a
/// drifted resource on a direction whose traffic passes draws it degraded, not down, so that a
/// revoked rule shows the one direction it cuts.
pub fn health(report: &Report) -> crate::plan::render::Health {
    use crate::plan::render::Level;
    let mut h = crate::plan::render::Health::new();
    for l in &report.links {
        for w in l.ways() {
            let worst = |presence: bool| {
                l.results
                    .iter()
                    .filter(|r| r.concerns(&w) && (r.check == Check::Presence) == presence)
                    .map(|r| r.verdict)
                    .max()
                    .unwrap_or(Verdict::Pass)
            };
            let level = match (worst(false), worst(true)) {
                (Verdict::Fail, _) => Level::Down,
                (Verdict::Pass, Verdict::Pass) => Level::Up,
                _ => Level::Degraded,
            };
            h.insert((w.from, w.to), level);
        }
    }
    h
}

/// The human report.
pub fn human(report: &Report) -> String {
    let mut rows: Vec<(String, String, Verdict, Vec<String>)> = Vec::new();
    for l in &report.links {
        for w in l.ways() {
            let causes: Vec<String> = l
                .results
                .iter()
                .filter(|r| r.concerns(&w) && r.verdict != Verdict::Pass)
                .flat_map(|r| {
                    r.causes
                        .iter()
                        .map(move |c| format!("{}: {}", r.check.as_str(), c.message))
                })
                .collect();
            rows.push((
                l.id.clone(),
                format!("{} → {}", w.from, w.to),
                l.verdict_of(&w),
                causes,
            ));
        }
    }
    let lw = rows
        .iter()
        .map(|r| r.0.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let dw = rows
        .iter()
        .map(|r| r.1.chars().count())
        .max()
        .unwrap_or(9)
        .max(9);
    let pad = |s: &str, w: usize| format!("{s}{}", " ".repeat(w.saturating_sub(s.chars().count())));
    let mut out = format!(
        "{}  {}  {}  CAUSE\n",
        pad("LINK", lw),
        pad("DIRECTION", dw),
        pad("VERDICT", 8)
    );
    for (link, dir, v, causes) in &rows {
        let first = causes.first().map(String::as_str).unwrap_or("");
        out.push_str(
            format!(
                "{}  {}  {}  {first}",
                pad(link, lw),
                pad(dir, dw),
                pad(verdict_word(*v), 8)
            )
            .trim_end(),
        );
        out.push('\n');
        for c in causes.iter().skip(1) {
            out.push_str(&format!("{}  {c}\n", " ".repeat(lw + dw + 8 + 4)));
        }
    }
    out.push('\n');
    for l in &report.links {
        let tunnels = l
            .results
            .iter()
            .find(|r| r.check == Check::Tunnels)
            .map(|r| r.summary.as_str())
            .unwrap_or("");
        out.push_str(&format!("{}: {} ({tunnels})", l.id, l.strategy));
        if !l.unread.is_empty() {
            let names: Vec<&str> = l.unread.iter().map(|c| c.as_str()).collect();
            out.push_str(&format!(
                "; {} side not read (verified from this cloud's view)",
                names.join(" and ")
            ));
        }
        out.push('\n');
    }
    let (pass, warn, fail) = counts(report);
    out.push_str(&format!(
        "\nVerify: {} of {} directions pass ({warn} degraded), {fail} failing; checks {pass} pass, {} warn, {} fail.\n",
        directions(report, |v| v != Verdict::Fail),
        report.links.len() * 2,
        count_results(report, Verdict::Warn),
        count_results(report, Verdict::Fail),
    ));
    out
}

fn directions(report: &Report, f: impl Fn(Verdict) -> bool) -> usize {
    report
        .links
        .iter()
        .flat_map(|l| l.ways().map(|w| l.verdict_of(&w)))
        .filter(|v| f(*v))
        .count()
}

fn counts(report: &Report) -> (usize, usize, usize) {
    (
        count_results(report, Verdict::Pass),
        directions(report, |v| v == Verdict::Warn),
        directions(report, |v| v == Verdict::Fail),
    )
}

fn count_results(report: &Report, v: Verdict) -> usize {
    report
        .links
        .iter()
        .flat_map(|l| &l.results)
        .filter(|r| r.verdict == v)
        .count()
}

/// The `--json` document.
pub fn json(report: &Report, errors: &[(Cloud, ReadError)], attempts: usize) -> J {
    let results: Vec<J> = report
        .links
        .iter()
        .flat_map(|l| {
            l.results.iter().map(move |r| {
                json!({
                    "link": l.id,
                    "between": l.between,
                    "check": r.check,
                    "direction": r.direction,
                    "verdict": r.verdict,
                    "summary": r.summary,
                    "causes": r.causes,
                })
            })
        })
        .collect();
    let links: Vec<J> = report
        .links
        .iter()
        .map(|l| {
            let ways: Vec<J> = l
                .ways()
                .iter()
                .map(|w| json!({"from": w.from, "to": w.to, "verdict": l.verdict_of(w)}))
                .collect();
            let mut j = json!({"id": l.id, "between": l.between, "clouds": l.clouds,
                   "strategy": l.strategy, "verdict": l.verdict(), "directions": ways});
            if !l.unread.is_empty() {
                j["unread"] = json!(l.unread);
            }
            j
        })
        .collect();
    let errors: Vec<J> = errors
        .iter()
        .map(|(c, e)| json!({"cloud": c, "scope": e.scope, "what": e.what, "message": e.message}))
        .collect();
    json!({
        "format_version": FORMAT_VERSION,
        "topology": report.topology,
        "ok": report.passed() && errors.is_empty(),
        "verdict": report.verdict(),
        "attempts": attempts,
        "summary": {
            "pass": count_results(report, Verdict::Pass),
            "warn": count_results(report, Verdict::Warn),
            "fail": count_results(report, Verdict::Fail),
        },
        "links": links,
        "results": results,
        "read_errors": errors,
    })
}

/// The `--junit` XML: one test suite per topology, one test case per link × check (a failure
/// with every cause of both directions; a warning passes with its causes in system-out).
pub fn junit(report: &Report) -> Result<String, quick_junit::SerializeError> {
    use quick_junit::{NonSuccessKind, Report as JReport, TestCase, TestCaseStatus, TestSuite};
    let mut suite = TestSuite::new(format!("peerctl verify {}", report.topology));
    for l in &report.links {
        for check in Check::ALL {
            suite.add_test_case(case(l, check));
        }
    }
    fn case(l: &LinkReport, check: Check) -> TestCase {
        let rs: Vec<_> = l.results.iter().filter(|r| r.check == check).collect();
        let verdict = rs.iter().map(|r| r.verdict).max().unwrap_or(Verdict::Pass);
        let text: Vec<String> = rs
            .iter()
            .flat_map(|r| {
                let dir = r
                    .direction
                    .as_ref()
                    .map(|w| format!("{} → {}: ", w.from, w.to))
                    .unwrap_or_default();
                let mut v = vec![format!("{dir}{}", r.summary)];
                v.extend(r.causes.iter().map(|c| format!("  {}", c.message)));
                v
            })
            .collect();
        let status = if verdict == Verdict::Fail {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let first = rs
                .iter()
                .flat_map(|r| &r.causes)
                .find(|c| c.verdict == Verdict::Fail)
                .map(|c| c.message.clone())
                .unwrap_or_default();
            s.set_message(first).set_description(text.join("\n"));
            s
        } else {
            TestCaseStatus::success()
        };
        let mut tc = TestCase::new(format!("{} {}", l.id, check.as_str()), status);
        tc.set_classname(l.id.clone());
        if verdict != Verdict::Fail {
            tc.set_system_out(text.join("\n"));
        }
        tc
    }
    let mut r = JReport::new("peerctl verify");
    r.add_test_suite(suite);
    r.to_string()
}
