//! The graph drawn by health (`peerctl graph --state`): colour, arrow and label per link.

use super::render::{dot_with, mermaid, mermaid_with, Health, Level};
use super::templates::Templates;
use super::tests::triangle;

fn health(ways: &[(&str, &str, Level)]) -> Health {
    ways.iter()
        .map(|(a, b, l)| ((a.to_string(), b.to_string()), *l))
        .collect()
}

fn link_lines(m: &str) -> Vec<&str> {
    m.lines().filter(|l| l.starts_with("  net_")).collect()
}

#[test]
fn links_are_drawn_by_the_verdict_of_each_direction() {
    let t = triangle();
    let tpl = Templates::embedded().unwrap();
    let h = health(&[
        ("aws1", "gcp1", Level::Up),
        ("gcp1", "aws1", Level::Up),
        // aws1 → az1 works, az1 → aws1 does not.
        ("aws1", "az1", Level::Up),
        ("az1", "aws1", Level::Down),
        ("az1", "gcp1", Level::Degraded),
        ("gcp1", "az1", Level::Degraded),
    ]);
    let m = mermaid_with(&t, &tpl, Some(&h));
    let lines = link_lines(&m);
    assert_eq!(lines.len(), 3, "{m}");
    let find = |words: &[&str]| {
        lines
            .iter()
            .find(|l| words.iter().all(|w| l.contains(w)))
            .unwrap_or_else(|| panic!("no link line with {words:?} in {m}"))
    };
    assert!(find(&["net_aws1 ---", "up both ways", "net_gcp1"]).contains("4 tunnels"));
    // The arrow points the one way that works, and the label names both directions.
    find(&["net_aws1 -->", "aws1 → az1 up · az1 → aws1 down", "net_az1"]);
    find(&["---", "degraded both ways"]);
    let styles: Vec<&str> = m.lines().filter(|l| l.contains("linkStyle")).collect();
    assert_eq!(styles.len(), 3, "{m}");
    let colour = |i: usize| styles[i].split("stroke:").nth(1).unwrap().split(',').next();
    let order: Vec<&str> = t.links.iter().map(|l| l.a.as_str()).collect();
    for (i, l) in t.links.iter().enumerate() {
        let want = match (l.a.as_str(), l.b.as_str()) {
            ("aws1", "gcp1") => "#1a7f37",
            ("aws1", "az1") => "#cf222e",
            _ => "#bf8700",
        };
        assert_eq!(colour(i), Some(want), "link {i} of {order:?}: {m}");
    }
}

#[test]
fn without_health_or_with_a_link_unjudged_the_plain_picture_is_drawn() {
    let t = triangle();
    let tpl = Templates::embedded().unwrap();
    assert_eq!(mermaid_with(&t, &tpl, None), mermaid(&t, &tpl));
    // Only one direction known: the link is drawn plain, never guessed.
    let h = health(&[("aws1", "gcp1", Level::Down)]);
    let m = mermaid_with(&t, &tpl, Some(&h));
    assert!(!m.contains("linkStyle"), "{m}");
    assert!(!m.contains("both ways") && !m.contains(" · "), "{m}");
}

#[test]
fn dot_draws_down_dashed_and_one_way_directed() {
    let t = triangle();
    let tpl = Templates::embedded().unwrap();
    let h = health(&[
        ("aws1", "gcp1", Level::Down),
        ("gcp1", "aws1", Level::Down),
        ("aws1", "az1", Level::Down),
        ("az1", "aws1", Level::Up),
        ("az1", "gcp1", Level::Up),
        ("gcp1", "az1", Level::Up),
    ]);
    let d = dot_with(&t, &tpl, Some(&h));
    let edge = |a: &str, b: &str| {
        d.lines()
            .find(|l| l.trim_start().starts_with(&format!("\"{a}\" -- \"{b}\"")))
            .unwrap_or_else(|| panic!("no edge {a} -- {b} in {d}"))
            .to_string()
    };
    let down = edge("aws1", "gcp1");
    assert!(
        down.contains("style=dashed") && down.contains("#cf222e"),
        "{down}"
    );
    assert!(down.contains("down both ways"), "{down}");
    // Drawn from the side that reaches the other.
    let one = edge("az1", "aws1");
    assert!(one.contains("dir=forward"), "{one}");
    assert!(one.contains("aws1 → az1 down"), "{one}");
    let up = edge("az1", "gcp1");
    assert!(up.contains("#1a7f37") && !up.contains("dashed"), "{up}");
}
