//! Hostile topologies (issue 13, validator half): inputs of the size that once produced
//! millions of diagnostics or quadratic work now give a bounded answer, every diagnostic on
//! one line with a position. Bounds are counts, never timings (figures belong in benches).

use peerctl::topology::{parse, parse_bytes, Diagnostic, TopologyError};

fn diags(text: &str) -> Vec<Diagnostic> {
    match parse("t.yaml", text) {
        Err(TopologyError::Invalid(d)) => d,
        Ok(_) => panic!("the topology validated"),
        Err(e) => panic!("{e}"),
    }
}

fn one_line_each(d: &[Diagnostic]) {
    for x in d {
        let s = x.to_string();
        assert!(
            !s.contains('\n') && !s.contains('\r') && !s.contains('\u{1b}'),
            "{s:?}"
        );
        assert!(s.starts_with("t.yaml:") && x.line >= 1 && x.col >= 1, "{s}");
    }
}

fn aws(i: usize) -> String {
    format!(
        "  - name: n{i}\n    cloud: aws\n    region: us-east-1\n    vpc_id: vpc-{i:08x}\n    cidrs: [10.{}.{}.0/24]\n",
        i / 256,
        i % 256
    )
}

#[test]
fn a_mesh_of_two_thousand_broken_networks_gives_diagnostics_per_network_not_per_pair() {
    let mut t = String::from("version: 1\nname: x\nnetworks:\n");
    for i in 0..2000 {
        t.push_str(&format!("  - name: n{i}\n    cloud: aws\n"));
    }
    let names: Vec<String> = (0..2000).map(|i| format!("n{i}")).collect();
    t.push_str(&format!("links:\n  - mesh: [{}]\n", names.join(", ")));
    let d = diags(&t);
    // Before: ~2,000,000 (one per pair). Now a few per network.
    assert!(d.len() <= 4 * 2000, "{} diagnostics", d.len());
    assert!(d.len() >= 2000, "each broken network is still reported");
    one_line_each(&d);
}

#[test]
fn a_mesh_of_six_hundred_networks_of_one_cloud_is_refused_once() {
    let mut t = String::from("version: 1\nname: x\nnetworks:\n");
    for i in 0..600 {
        t.push_str(&aws(i));
    }
    let names: Vec<String> = (0..600).map(|i| format!("n{i}")).collect();
    t.push_str(&format!("links:\n  - mesh: [{}]\n", names.join(", ")));
    let d = diags(&t);
    assert_eq!(d.len(), 1, "{:#?}", &d[..d.len().min(3)]);
    one_line_each(&d);
}

#[test]
fn four_thousand_links_to_unknown_networks_are_each_reported_once() {
    let mut t = String::from("version: 1\nname: x\nnetworks:\n");
    for i in 0..200 {
        t.push_str(&aws(i));
    }
    t.push_str("links:\n");
    for i in 0..4000 {
        t.push_str(&format!("  - between: [n{}, ghost{i}]\n", i % 200));
    }
    let d = diags(&t);
    assert!(
        d.len() >= 4000 && d.len() <= 2 * 4000,
        "{} diagnostics",
        d.len()
    );
    one_line_each(&d);
}

#[test]
fn control_characters_in_a_name_stay_on_one_line() {
    let t = "version: 1\nname: x\nnetworks:\n  - name: \"a\\e[31mb\\nc\"\n    cloud: aws\n";
    let d = diags(t);
    assert!(!d.is_empty());
    one_line_each(&d);
    assert!(
        d.iter().any(|x| x.to_string().contains("\\u{1b}")),
        "{d:#?}"
    );
}

#[test]
fn a_file_that_is_not_utf8_is_reported_at_its_first_invalid_byte() {
    let bytes = b"version: 1\nname: x\nnetworks:\n  - name: caf\xff\n";
    match parse_bytes("t.yaml", bytes) {
        Err(TopologyError::Invalid(d)) => {
            assert_eq!(d.len(), 1, "{d:#?}");
            assert_eq!((d[0].line, d[0].col), (4, 14), "{}", d[0]);
            assert!(d[0].message.contains("not UTF-8"), "{}", d[0]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn eighty_thousand_unknown_fields_with_empty_values_on_one_line_stay_bounded() {
    // One flow mapping, `{k0: , k1: , …}`: every key an unknown field, every value empty.
    let keys: String = (0..80_000).map(|i| format!("k{i}: ,")).collect();
    let t = format!("version: 1\nname: x\nnetworks: [{{{keys}}}]\n");
    let d = diags(&t);
    one_line_each(&d);
    assert!(
        d.iter()
            .filter(|x| x.message.starts_with("unknown field"))
            .count()
            >= 80_000
    );
    // Hints stay within the suggestion budget: past it the field list is given instead.
    assert!(d
        .iter()
        .any(|x| x.hint.as_deref().is_some_and(|h| h.contains("take:"))));
}

#[test]
fn eighty_thousand_nested_explicit_keys_on_one_line_are_refused_without_overflowing() {
    // `? : ? : …` nests a mapping per pair; YAML's own loader recursed once per level and
    // overflowed the stack (an abort) before any depth limit could refuse it.
    let t = format!(
        "version: 1\nname: x\nnetworks:\n  - {}\n",
        "? : ".repeat(80_000)
    );
    let d = diags(&t);
    one_line_each(&d);
    assert_eq!(d.len(), 1, "{d:?}");
    assert!(d[0].message.contains("nesting deeper than"), "{}", d[0]);
}
