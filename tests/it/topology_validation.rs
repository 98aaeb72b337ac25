//! The topology format's contract: every file in topologies/ validates, links are expanded and
//! normalised, and each validation rule reports its message, field, line and column.

use peerctl::cloud::Cloud;
use peerctl::topology::{self, Allow, Diagnostic, Location, Topology, TopologyError};

/// A valid three-cloud topology; tests break one thing at a time with [`with`].
const BASE: &str = "\
version: 1
name: prod-mesh
networks:
  - name: aws-use1
    cloud: aws
    region: us-east-1
    vpc_id: vpc-0a1b2c3d4e5f60789
    cidrs: [10.10.0.0/16]
  - name: gcp-usc1
    cloud: gcp
    project: acme-net
    region: us-central1
    network: prod-vpc
    cidrs: [10.20.0.0/16]
  - name: az-eus
    cloud: azure
    subscription: 00000000-0000-0000-0000-000000000000
    resource_group: net-rg
    location: eastus
    vnet: prod-vnet
    cidrs: [10.30.0.0/16]
    gateway_subnet: 10.30.255.0/27
links:
  - between: [aws-use1, gcp-usc1]
  - between: [aws-use1, az-eus]
    allow: [tcp/443, tcp/5432, icmp]
  - between: [gcp-usc1, az-eus]
";

/// BASE with `from` replaced by `to` (which must occur exactly once).
fn with(from: &str, to: &str) -> String {
    assert_eq!(
        BASE.matches(from).count(),
        1,
        "`{from}` must occur once in BASE"
    );
    BASE.replacen(from, to, 1)
}

fn parse(text: &str) -> Result<Topology, TopologyError> {
    topology::parse("t.yaml", text)
}

fn errors(text: &str) -> Vec<Diagnostic> {
    match parse(text) {
        Ok(_) => panic!("expected errors, the topology validated:\n{text}"),
        Err(TopologyError::Invalid(d)) => d,
        Err(e) => panic!("unexpected error {e}"),
    }
}

/// The single diagnostic of `text`, checked to be about `field` and to contain `message`.
fn only(text: &str, field: &str, message: &str) -> Diagnostic {
    let d = errors(text);
    assert_eq!(d.len(), 1, "expected one diagnostic, got {d:#?}");
    let d = d.into_iter().next().unwrap();
    assert_eq!(d.field, field, "{d}");
    assert!(d.message.contains(message), "`{message}` not in: {d}");
    assert_eq!(d.file, "t.yaml");
    d
}

/// The 1-based line of the only line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    let lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(lines.len(), 1, "`{needle}` must be on exactly one line");
    lines[0]
}

/// The 1-based column where `needle` starts on its line.
fn col_of(text: &str, needle: &str) -> usize {
    let line = text.lines().find(|l| l.contains(needle)).unwrap();
    line.find(needle).unwrap() + 1
}

fn hint(d: &Diagnostic) -> &str {
    d.hint.as_deref().unwrap_or("")
}

fn topologies_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("topologies")
}

// ---------------------------------------------------------------------------------------------
// Files and normalisation

#[test]
fn every_file_in_topologies_validates() {
    let mut seen = Vec::new();
    for entry in std::fs::read_dir(topologies_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        match topology::load(&path) {
            Ok(t) => assert!(!t.links.is_empty(), "{} has no links", path.display()),
            Err(TopologyError::Invalid(d)) => {
                let lines: Vec<String> = d.iter().map(|d| d.to_string()).collect();
                panic!("{} is invalid:\n{}", path.display(), lines.join("\n"));
            }
            Err(e) => panic!("{e}"),
        }
        seen.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    for required in ["triangle.yaml", "aws-gcp.yaml", "mesh12.yaml"] {
        assert!(seen.iter().any(|s| s == required), "{required} missing");
    }
}

/// triangle.yaml and `common::triangle()` must describe the same networks: the sandbox tests
/// seed the latter, the docs and golden plans use the former.
#[test]
fn triangle_file_declares_the_networks_of_the_test_harness() {
    let file = topology::load(&topologies_dir().join("triangle.yaml")).unwrap();
    let code = crate::common::triangle();
    assert_eq!(file.name, code.name);
    let strip = |t: &Topology| {
        let mut n = t.networks.clone();
        for x in &mut n {
            x.span = Default::default();
        }
        n.sort_by(|a, b| a.name.cmp(&b.name));
        n
    };
    assert_eq!(strip(&file), strip(&code));
    let pairs = |t: &Topology| {
        let mut p: Vec<(String, String)> =
            t.links.iter().map(|l| (l.a.clone(), l.b.clone())).collect();
        p.sort();
        p
    };
    assert_eq!(pairs(&file), pairs(&code));
}

#[test]
fn mesh12_has_four_networks_per_cloud_and_every_mesh_pair() {
    let t = topology::load(&topologies_dir().join("mesh12.yaml")).unwrap();
    assert_eq!(t.networks.len(), 12);
    for cloud in Cloud::ALL {
        assert_eq!(t.networks.iter().filter(|n| n.cloud == cloud).count(), 4);
    }
    // 4 meshes of 3 networks (3 pairs each) + 6 explicit links.
    assert_eq!(t.links.len(), 18);
    assert!(t.links.iter().any(|l| !l.allow.is_empty()));
}

#[test]
fn mesh_expands_into_every_pair_with_its_allow_list() {
    let text = with(
        "links:\n  - between: [aws-use1, gcp-usc1]\n  - between: [aws-use1, az-eus]\n    allow: [tcp/443, tcp/5432, icmp]\n  - between: [gcp-usc1, az-eus]\n",
        "links:\n  - mesh: [gcp-usc1, az-eus, aws-use1]\n    allow: [udp/53]\n",
    );
    let t = parse(&text).unwrap();
    let pairs: Vec<(&str, &str)> = t
        .links
        .iter()
        .map(|l| (l.a.as_str(), l.b.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("aws-use1", "az-eus"),
            ("aws-use1", "gcp-usc1"),
            ("az-eus", "gcp-usc1")
        ]
    );
    for l in &t.links {
        assert_eq!(l.allow, [Allow::Udp { from: 53, to: 53 }]);
        assert_eq!(l.span.line, line_of(&text, "mesh:"));
    }
}

#[test]
fn links_are_stored_with_a_before_b_and_sorted_whatever_the_file_order() {
    let text = with(
        "  - between: [aws-use1, gcp-usc1]\n",
        "  - between: [gcp-usc1, aws-use1]\n",
    );
    let t = parse(&text).unwrap();
    for l in &t.links {
        assert!(l.a < l.b, "{l:?}");
    }
    let ids: Vec<String> = t.links.iter().map(|l| l.id()).collect();
    assert_eq!(
        ids,
        ["aws-use1--az-eus", "aws-use1--gcp-usc1", "az-eus--gcp-usc1"]
    );
    // Reordering the links list changes nothing but spans.
    let reordered = with(
        "links:\n  - between: [aws-use1, gcp-usc1]\n",
        "links:\n  - between: [az-eus, gcp-usc1]\n  - between: [aws-use1, gcp-usc1]\n",
    )
    .replacen("  - between: [gcp-usc1, az-eus]\n", "", 1);
    let r = parse(&reordered).unwrap();
    let ids2: Vec<String> = r.links.iter().map(|l| l.id()).collect();
    assert_eq!(ids, ids2);
}

#[test]
fn networks_keep_file_order_and_defaults_are_filled() {
    let t = parse(BASE).unwrap();
    let names: Vec<&str> = t.networks.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["aws-use1", "gcp-usc1", "az-eus"]);
    let Location::Azure(az) = &t.networks[2].location else {
        panic!("az-eus is not azure")
    };
    assert_eq!(az.gateway_sku, "VpnGw1");
    assert_eq!(az.network_security_groups, None);
    assert_eq!(t.networks[2].span.line, line_of(BASE, "name: az-eus"));
    let Location::Aws(aws) = &t.networks[0].location else {
        panic!("aws-use1 is not aws")
    };
    assert_eq!(aws.route_tables, None);
}

#[test]
fn allow_lists_are_sorted_deduplicated_and_all_means_empty() {
    let t = parse(&with(
        "allow: [tcp/443, tcp/5432, icmp]",
        "allow: [icmp, tcp/5432, tcp/443, icmp, tcp/8000-8100]",
    ))
    .unwrap();
    let l = t
        .links
        .iter()
        .find(|l| l.id() == "aws-use1--az-eus")
        .unwrap();
    assert_eq!(
        l.allow,
        [
            Allow::Tcp { from: 443, to: 443 },
            Allow::Tcp {
                from: 5432,
                to: 5432
            },
            Allow::Tcp {
                from: 8000,
                to: 8100
            },
            Allow::Icmp
        ]
    );
    let t = parse(&with("allow: [tcp/443, tcp/5432, icmp]", "allow: [all]")).unwrap();
    assert!(t.links.iter().all(|l| l.allow.is_empty()));
}

// ---------------------------------------------------------------------------------------------
// Reporting

#[test]
fn all_errors_are_reported_in_one_run_sorted_by_line() {
    let text = with("version: 1", "version: 2")
        .replacen("cloud: gcp", "cloud: gpc", 1)
        .replacen("cidrs: [10.30.0.0/16]", "cidrs: [10.30.0.1/16]", 1)
        .replacen(
            "between: [aws-use1, gcp-usc1]",
            "between: [aws-use1, nowhere]",
            1,
        );
    let d = errors(&text);
    let fields: Vec<&str> = d.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "version",
            "networks[1].cloud",
            "networks[2].cidrs[0]",
            "links[0].between[1]"
        ],
        "{d:#?}"
    );
    let lines: Vec<usize> = d.iter().map(|d| d.line).collect();
    let mut sorted = lines.clone();
    sorted.sort();
    assert_eq!(lines, sorted);
}

#[test]
fn diagnostic_display_names_file_position_field_message_and_fix() {
    let d = only(
        &with("cidrs: [10.10.0.0/16]", "cidrs: [10.10.0.1/16]"),
        "networks[0].cidrs[0]",
        "host bits",
    );
    assert_eq!(
        d.to_string(),
        format!(
            "t.yaml:{}:{}: networks[0].cidrs[0]: `10.10.0.1/16` has host bits set (fix: use `10.10.0.0/16`)",
            d.line, d.col
        )
    );
}

#[test]
fn yaml_syntax_error_reports_position_and_field() {
    let text = with("cidrs: [10.20.0.0/16]", "cidrs: [10.20.0.0/16");
    let d = errors(&text);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert!(d[0].message.starts_with("YAML syntax:"), "{}", d[0]);
    // The unclosed flow list runs on into the next lines; yaml-rust2 stops at the first `:`
    // that cannot be inside it, the one of `- name: az-eus` on line 15, still in the list.
    assert_eq!(d[0].field, "networks[1].cidrs[0]", "{}", d[0]);
    assert_eq!(
        (d[0].line, d[0].col),
        (line_of(&text, "name: az-eus"), 9),
        "{}",
        d[0]
    );
    assert!(hint(&d[0]).contains("fix the YAML"), "{}", d[0]);
}

#[test]
fn empty_file_is_an_error_at_its_start() {
    let d = only("# nothing here\n", "(document)", "no topology");
    assert_eq!((d.line, d.col), (1, 1));
    assert_eq!(
        d.to_string(),
        "t.yaml:1:1: (document): the file holds no topology (fix: start from \
         topologies/triangle.yaml)"
    );
}

#[test]
fn a_file_that_is_not_a_mapping_is_reported_for_the_document() {
    let d = only("- a\n- b\n", "(document)", "expected a topology");
    assert_eq!((d.line, d.col), (1, 1));
}

#[test]
fn a_second_document_is_reported_for_the_document() {
    let text = format!("{BASE}---\nversion: 1\n");
    let d = only(&text, "(document)", "one YAML document");
    assert_eq!(d.line, line_of(&text, "---"));
}

#[test]
fn a_leading_byte_order_mark_is_ignored() {
    let t = parse(&format!("\u{feff}{BASE}")).unwrap();
    assert_eq!(t.networks.len(), 3);
    // Columns of line 1 count from after the mark.
    let d = only(
        &format!("\u{feff}{}", with("version: 1", "version: 2")),
        "version",
        "unsupported format version 2",
    );
    assert_eq!((d.line, d.col), (1, 10));
}

#[test]
fn a_mapping_key_given_twice_is_reported_at_the_second() {
    let text = with(
        "    network: prod-vpc\n",
        "    network: prod-vpc\n    network: other-vpc\n",
    );
    let d = only(&text, "networks[1].network", "given twice");
    assert_eq!(d.line, line_of(&text, "network: other-vpc"));
}

// ---------------------------------------------------------------------------------------------
// Structure: unknown, missing, wrong type

#[test]
fn unknown_field_suggests_the_closest_name() {
    let text = with("    cidrs: [10.20.0.0/16]", "    cidr: [10.20.0.0/16]");
    let d = errors(&text);
    let u = d.iter().find(|d| d.field == "networks[1].cidr").unwrap();
    assert!(u.message.contains("unknown field `cidr`"), "{u}");
    assert_eq!(hint(u), "did you mean `cidrs`?");
    assert_eq!(u.line, line_of(&text, "cidr: [10.20"));
    assert_eq!(u.col, 5);
    // The required field is then missing too; both are reported.
    assert!(d
        .iter()
        .any(|d| d.field == "networks[1].cidrs" && d.message.contains("missing")));
}

#[test]
fn field_of_another_cloud_names_its_owner() {
    let text = with(
        "    network: prod-vpc\n",
        "    network: prod-vpc\n    vpc_id: vpc-1a2b3c4d\n",
    );
    let d = only(&text, "networks[1].vpc_id", "not a field of gcp networks");
    assert!(d.message.contains("aws"), "{d}");
    assert_eq!(d.line, line_of(&text, "vpc-1a2b3c4d"));
}

#[test]
fn missing_field_points_at_the_first_key_of_the_network() {
    let text = with("    vpc_id: vpc-0a1b2c3d4e5f60789\n", "");
    let d = only(&text, "networks[0].vpc_id", "missing field `vpc_id`");
    assert_eq!(d.line, line_of(&text, "name: aws-use1"));
    assert_eq!(d.col, col_of(&text, "name: aws-use1"));
    assert!(hint(&d).contains("vpc_id:"), "{d}");
}

#[test]
fn missing_field_of_a_network_starting_on_the_next_line_points_at_its_first_key() {
    let text = with("  - name: gcp-usc1\n", "  -\n    name: gcp-usc1\n").replacen(
        "    network: prod-vpc\n",
        "",
        1,
    );
    let d = only(&text, "networks[1].network", "missing field `network`");
    assert_eq!(d.line, line_of(&text, "name: gcp-usc1"));
    assert_eq!(d.col, 5);
}

#[test]
fn missing_field_of_a_link_points_at_its_first_key() {
    let text = with("  - between: [gcp-usc1, az-eus]\n", "  - allow: [icmp]\n");
    let d = only(&text, "links[2].between", "missing field `between`");
    assert_eq!(d.line, line_of(&text, "- allow: [icmp]"));
    assert_eq!(d.col, col_of(&text, "allow: [icmp]"));
}

#[test]
fn missing_top_level_field_points_at_the_first_key_of_the_file() {
    let text = BASE.replacen("name: prod-mesh\n", "", 1);
    let d = only(&text, "name", "missing field `name`");
    assert_eq!((d.line, d.col), (1, 1));
}

// ---------------------------------------------------------------------------------------------
// Empty values: reported on the key's line, just after its colon

#[test]
fn an_empty_region_is_reported_on_its_own_line() {
    let text = with("    region: us-east-1\n", "    region:\n");
    let d = only(
        &text,
        "networks[0].region",
        "expected a string, found nothing",
    );
    assert_eq!((d.line, d.col), (6, 12));
}

#[test]
fn an_empty_cidrs_list_is_reported_on_its_own_line() {
    let text = with("    cidrs: [10.10.0.0/16]\n", "    cidrs:\n");
    let d = only(
        &text,
        "networks[0].cidrs",
        "expected a list of CIDRs, found nothing",
    );
    assert_eq!((d.line, d.col), (8, 11));
}

#[test]
fn an_empty_value_on_the_last_line_is_reported_on_that_line() {
    let text = format!("{BASE}    asn:");
    let last = text.lines().count();
    let d = only(&text, "links[2].asn", "unknown field `asn`");
    assert_eq!((d.line, d.col), (last, 5));
    // The same key without a trailing newline, on a network: the value's position.
    let text = with(
        "    gateway_subnet: 10.30.255.0/27\nlinks:\n  - between: [aws-use1, gcp-usc1]\n  - between: [aws-use1, az-eus]\n    allow: [tcp/443, tcp/5432, icmp]\n  - between: [gcp-usc1, az-eus]\n",
        "    gateway_subnet: 10.30.255.0/27\n    asn:",
    );
    let d = only(
        &text,
        "networks[2].asn",
        "expected a whole number, found nothing",
    );
    assert_eq!((d.line, d.col), (text.lines().count(), 9));
}

#[test]
fn an_empty_topology_name_is_reported_on_line_2() {
    let d = only(
        &with("name: prod-mesh", "name:"),
        "name",
        "expected a string, found nothing",
    );
    assert_eq!((d.line, d.col), (2, 6));
}

// ---------------------------------------------------------------------------------------------
// Anchors, aliases and merge keys

#[test]
fn an_alias_bomb_is_refused_with_its_line() {
    let text = "\
version: 1
a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
";
    let d = only(text, "f[0]", "alias expansion too large");
    assert_eq!((d.line, d.col), (7, 8));
}

#[test]
fn merge_keys_share_fields_between_networks_and_explicit_fields_win() {
    let text = BASE
        .replacen(
            "  - name: gcp-usc1\n    cloud: gcp\n    project: acme-net\n    region: us-central1\n",
            "  - &gcp\n    name: gcp-usc1\n    cloud: gcp\n    project: acme-net\n    region: us-central1\n",
            1,
        )
        .replacen(
            "links:\n",
            "  - <<: *gcp\n    name: gcp-euw1\n    region: europe-west1\n    network: eu-vpc\n    cidrs: [10.40.0.0/16]\nlinks:\n  - between: [gcp-euw1, az-eus]\n",
            1,
        );
    let t = parse(&text).unwrap();
    let n = t.networks.iter().find(|n| n.name == "gcp-euw1").unwrap();
    let Location::Gcp(g) = &n.location else {
        panic!("gcp-euw1 is not gcp")
    };
    assert_eq!(
        (g.project.as_str(), g.region.as_str(), g.network.as_str()),
        ("acme-net", "europe-west1", "eu-vpc")
    );
    assert_eq!(n.cidrs, ["10.40.0.0/16".parse().unwrap()]);
}

#[test]
fn a_merge_key_with_a_list_merges_in_order_earlier_first() {
    let text = with(
        "    project: acme-net\n    region: us-central1\n    network: prod-vpc\n",
        "    <<: [{region: europe-west1, project: acme-net}, {region: us-central1, network: prod-vpc}]\n",
    );
    let t = parse(&text).unwrap();
    let Location::Gcp(g) = &t.networks[1].location else {
        panic!("not gcp")
    };
    assert_eq!(g.region, "europe-west1");
    assert_eq!(g.network, "prod-vpc");
}

#[test]
fn an_error_in_a_merged_field_points_where_it_is_written() {
    let text = BASE
        .replacen(
            "  - name: gcp-usc1\n    cloud: gcp\n    project: acme-net\n",
            "  - &gcp\n    name: gcp-usc1\n    cloud: gcp\n    project: Acme\n",
            1,
        )
        .replacen(
            "links:\n",
            "  - <<: *gcp\n    name: gcp-euw1\n    network: eu-vpc\n    region: europe-west1\n    cidrs: [10.40.0.0/16]\nlinks:\n",
            1,
        );
    let d = errors(&text);
    let fields: Vec<&str> = d.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(
        fields,
        ["networks[1].project", "networks[3].project"],
        "{d:#?}"
    );
    for x in &d {
        assert_eq!(x.line, line_of(&text, "project: Acme"), "{x}");
    }
}

#[test]
fn a_merge_key_with_a_scalar_is_refused() {
    let text = with(
        "    network: prod-vpc\n",
        "    network: prod-vpc\n    <<: defaults\n",
    );
    let d = only(
        &text,
        "networks[1].<<",
        "the merge key `<<` takes a mapping or a list of mappings, found a string",
    );
    assert_eq!(d.line, line_of(&text, "<<: defaults"));
    assert_eq!(d.col, col_of(&text, "defaults"));
}

#[test]
fn missing_top_level_fields_are_each_reported() {
    let text = BASE.replacen("version: 1\nname: prod-mesh\n", "", 1);
    let d = errors(&text);
    let fields: Vec<&str> = d.iter().map(|d| d.field.as_str()).collect();
    assert!(
        fields.contains(&"version") && fields.contains(&"name"),
        "{d:#?}"
    );
}

#[test]
fn wrong_types_say_what_was_expected_and_found() {
    let text = with("cidrs: [10.20.0.0/16]", "cidrs: 10.20.0.0/16");
    let d = only(
        &text,
        "networks[1].cidrs",
        "expected a list of CIDRs, found a string",
    );
    assert_eq!(d.line, line_of(&text, "cidrs: 10.20.0.0/16"));
    assert_eq!(d.col, col_of(&text, "10.20.0.0/16"));

    let d = only(
        &with("version: 1", "version: \"1\""),
        "version",
        "expected a whole number",
    );
    assert!(hint(&d).contains("remove the quotes"));

    only(
        &with("    region: us-east-1\n", "    region: {a: 1}\n"),
        "networks[0].region",
        "expected a string, found a mapping",
    );
}

#[test]
fn unknown_cloud_suggests_a_known_one() {
    let text = with("cloud: gcp", "cloud: gpc");
    let d = only(&text, "networks[1].cloud", "unknown cloud `gpc`");
    assert_eq!(hint(&d), "did you mean `gcp`?");
    assert_eq!(d.line, line_of(&text, "cloud: gpc"));
    assert_eq!(d.col, col_of(&text, "gpc"));
}

#[test]
fn version_other_than_1_is_rejected() {
    let d = only(
        &with("version: 1", "version: 2"),
        "version",
        "unsupported format version 2",
    );
    assert_eq!((d.line, d.col), (1, 10));
}

#[test]
fn topology_name_must_fit_resource_names() {
    let d = only(
        &with("name: prod-mesh", "name: Prod_Mesh"),
        "name",
        "Prod_Mesh",
    );
    assert_eq!(d.line, 2);
    assert!(hint(&d).contains("prod-mesh"), "{d}");
    only(
        &with("name: prod-mesh", "name: 9lives"),
        "name",
        "start with a lowercase letter",
    );
    only(
        &with("name: prod-mesh", &format!("name: {}", "a".repeat(41))),
        "name",
        "longer than 40",
    );
}

#[test]
fn network_name_must_fit_resource_names() {
    let text = with("name: az-eus", "name: az--eus").replace("az-eus]", "az--eus]");
    let d = only(&text, "networks[2].name", "\"--\"");
    assert_eq!(d.line, line_of(&text, "name: az--eus"));
}

// ---------------------------------------------------------------------------------------------
// CIDRs

#[test]
fn invalid_cidr_is_rejected_with_an_example() {
    let text = with("cidrs: [10.20.0.0/16]", "cidrs: [10.20.0/16]");
    let d = only(&text, "networks[1].cidrs[0]", "not an IPv4 CIDR");
    assert_eq!(d.line, line_of(&text, "10.20.0/16"));
    assert_eq!(d.col, col_of(&text, "10.20.0/16"));
    let d = only(
        &with("cidrs: [10.20.0.0/16]", "cidrs: [10.20.0.0]"),
        "networks[1].cidrs[0]",
        "not an IPv4 CIDR",
    );
    assert!(hint(&d).contains("10.20.0.0/16"), "{d}");
}

#[test]
fn cidr_with_host_bits_suggests_the_network_address() {
    let d = only(
        &with("cidrs: [10.20.0.0/16]", "cidrs: [10.20.0.1/16]"),
        "networks[1].cidrs[0]",
        "host bits set",
    );
    assert_eq!(hint(&d), "use `10.20.0.0/16`");
}

#[test]
fn link_local_and_default_route_cidrs_are_rejected() {
    only(
        &with(
            "cidrs: [10.20.0.0/16]",
            "cidrs: [10.20.0.0/16, 169.254.16.0/20]",
        ),
        "networks[1].cidrs[1]",
        "169.254.0.0/16",
    );
    only(
        &with("cidrs: [10.20.0.0/16]", "cidrs: [0.0.0.0/0]"),
        "networks[1].cidrs[0]",
        "every address",
    );
}

#[test]
fn overlapping_cidrs_within_one_network_name_the_other() {
    let text = with(
        "cidrs: [10.20.0.0/16]",
        "cidrs: [10.20.0.0/16, 10.20.4.0/24]",
    );
    let d = only(&text, "networks[1].cidrs[1]", "overlaps `10.20.0.0/16`");
    assert!(d.message.contains("networks[1].cidrs[0], line 14"), "{d}");
    assert_eq!(d.line, line_of(&text, "10.20.4.0/24"));
    assert_eq!(d.col, col_of(&text, "10.20.4.0/24"));
}

#[test]
fn overlapping_cidrs_of_linked_networks_name_both_places() {
    let text = with("cidrs: [10.30.0.0/16]", "cidrs: [10.10.128.0/17]").replacen(
        "gateway_subnet: 10.30.255.0/27",
        "gateway_subnet: 10.10.255.0/27",
        1,
    );
    let d = only(
        &text,
        "networks[2].cidrs[0]",
        "overlaps `10.10.0.0/16` of `aws-use1`",
    );
    assert!(d.message.contains("networks[0].cidrs[0], line 8"), "{d}");
    assert!(d.message.contains("linked (links[1]"), "{d}");
    assert_eq!(d.line, line_of(&text, "10.10.128.0/17"));
}

#[test]
fn overlapping_cidrs_of_unlinked_networks_are_fine() {
    let text = with("cidrs: [10.30.0.0/16]", "cidrs: [10.10.128.0/17]")
        .replacen(
            "gateway_subnet: 10.30.255.0/27",
            "gateway_subnet: 10.10.255.0/27",
            1,
        )
        .replacen(
            "  - between: [aws-use1, az-eus]\n    allow: [tcp/443, tcp/5432, icmp]\n",
            "",
            1,
        )
        .replacen("  - between: [gcp-usc1, az-eus]\n", "", 1);
    parse(&text).unwrap();
}

#[test]
fn overlapping_networks_linked_to_the_same_network_are_rejected() {
    // aws-use1 and az-eus overlap and are not linked to each other, but gcp-usc1 is linked to
    // both: it could not route to both.
    let text = with("cidrs: [10.30.0.0/16]", "cidrs: [10.10.128.0/17]")
        .replacen(
            "gateway_subnet: 10.30.255.0/27",
            "gateway_subnet: 10.10.255.0/27",
            1,
        )
        .replacen(
            "  - between: [aws-use1, az-eus]\n    allow: [tcp/443, tcp/5432, icmp]\n",
            "",
            1,
        );
    let d = only(
        &text,
        "networks[2].cidrs[0]",
        "both are linked to `gcp-usc1`",
    );
    assert!(
        d.message.contains(
            "`10.10.128.0/17` overlaps `10.10.0.0/16` of `aws-use1` (networks[0].cidrs[0], line 8)"
        ),
        "{d}"
    );
    assert_eq!(d.line, line_of(&text, "10.10.128.0/17"));
    assert_eq!(d.col, col_of(&text, "10.10.128.0/17"));
}

// ---------------------------------------------------------------------------------------------
// Links

#[test]
fn unknown_network_in_a_link_suggests_a_declared_one() {
    let text = with("between: [gcp-usc1, az-eus]", "between: [gcp-usc1, az-eu]");
    let d = only(&text, "links[2].between[1]", "no network named `az-eu`");
    assert_eq!(hint(&d), "did you mean `az-eus`?");
    assert_eq!(d.line, line_of(&text, "az-eu]"));
    assert_eq!(d.col, col_of(&text, "az-eu]"));
}

#[test]
fn a_network_linked_to_itself_is_rejected() {
    let text = with("between: [gcp-usc1, az-eus]", "between: [az-eus, az-eus]");
    let d = errors(&text);
    let s = d.iter().find(|d| d.field == "links[2].between[1]").unwrap();
    assert!(s.message.contains("`az-eus` is linked to itself"), "{s}");
    assert_eq!(s.line, line_of(&text, "[az-eus, az-eus]"));
}

#[test]
fn a_network_listed_twice_in_a_mesh_is_rejected() {
    let text = format!("{BASE}  - mesh: [gcp-usc1, az-eus, gcp-usc1]\n");
    let d = errors(&text);
    let twice = d
        .iter()
        .find(|d| d.field == "links[3].mesh[2]")
        .unwrap_or_else(|| panic!("{d:#?}"));
    assert!(
        twice
            .message
            .contains("`gcp-usc1` is listed twice in this mesh"),
        "{twice}"
    );
    assert_eq!(twice.line, line_of(&text, "- mesh:"));
    assert_eq!(twice.col, 30);
}

#[test]
fn duplicate_network_names_point_at_the_first() {
    let text = with("name: az-eus", "name: gcp-usc1").replace("az-eus]", "aws-use1]");
    let d = errors(&text);
    let dup = d.iter().find(|d| d.field == "networks[2].name").unwrap();
    assert!(
        dup.message
            .contains("`gcp-usc1` is already declared at networks[1] (line 9)"),
        "{dup}"
    );
    assert_eq!(dup.line, line_of(BASE, "name: az-eus"));
}

#[test]
fn the_same_vpc_declared_twice_is_rejected() {
    let text = with(
        "links:\n",
        "  - name: aws-again\n    cloud: aws\n    region: us-east-1\n    vpc_id: vpc-0a1b2c3d4e5f60789\n    cidrs: [10.40.0.0/16]\nlinks:\n",
    );
    let d = only(
        &text,
        "networks[3]",
        "AWS VPC vpc-0a1b2c3d4e5f60789 in us-east-1",
    );
    assert!(d.message.contains("`aws-use1`"), "{d}");
    assert_eq!(d.line, line_of(&text, "name: aws-again"));
}

#[test]
fn duplicate_explicit_links_are_rejected_whatever_the_order() {
    let text = format!("{BASE}  - between: [gcp-usc1, aws-use1]\n");
    let d = only(
        &text,
        "links[3].between",
        "declared twice (first at links[0], line 24)",
    );
    assert_eq!(d.line, 28);
}

#[test]
fn an_explicit_link_also_made_by_a_mesh_names_both() {
    let text = format!("{BASE}  - mesh: [aws-use1, gcp-usc1, az-eus]\n");
    let d = errors(&text);
    // The mesh repeats all three explicit links: one diagnostic for the entry, naming the
    // first repeated pair and counting the others (bounded output for large meshes).
    assert_eq!(d.len(), 1, "{d:#?}");
    let x = &d[0];
    assert_eq!(x.field, "links[3].mesh");
    assert_eq!(x.line, 28);
    assert!(x.message.contains("this mesh links"), "{x}");
    assert!(x.message.contains("links[0], line 24"), "{x}");
    assert!(x.message.contains("and 2 more of its pairs"), "{x}");

    // Mesh first, explicit link later: reported at the explicit link.
    let text = with(
        "links:\n  - between: [aws-use1, gcp-usc1]\n",
        "links:\n  - mesh: [aws-use1, gcp-usc1]\n",
    )
    .replacen(
        "  - between: [gcp-usc1, az-eus]\n",
        "  - between: [gcp-usc1, aws-use1]\n",
        1,
    );
    let d = only(
        &text,
        "links[2].between",
        "also made by the mesh at links[0], line 24",
    );
    assert_eq!(d.line, line_of(&text, "[gcp-usc1, aws-use1]"));
}

#[test]
fn links_between_networks_of_one_cloud_are_rejected() {
    let text = with(
        "links:\n",
        "  - name: aws-usw2\n    cloud: aws\n    region: us-west-2\n    vpc_id: vpc-1a2b3c4d\n    cidrs: [10.40.0.0/16]\nlinks:\n  - between: [aws-usw2, aws-use1]\n",
    );
    let d = only(&text, "links[0].between", "both AWS networks");
    assert!(hint(&d).contains("VPC peering"), "{d}");
}

#[test]
fn azure_to_azure_links_are_accepted() {
    let text = with(
        "links:\n",
        "  - name: az-weu\n    cloud: azure\n    subscription: 00000000-0000-0000-0000-000000000000\n    resource_group: net-rg\n    location: westeurope\n    vnet: eu-vnet\n    cidrs: [10.40.0.0/16]\n    gateway_subnet: 10.40.255.0/27\nlinks:\n  - between: [az-weu, az-eus]\n",
    );
    let t = parse(&text).unwrap();
    assert!(t.links.iter().any(|l| l.id() == "az-eus--az-weu"));
}

#[test]
fn link_entry_needs_between_or_mesh_and_two_names() {
    only(
        &with("  - between: [gcp-usc1, az-eus]\n", "  - allow: [icmp]\n"),
        "links[2].between",
        "missing field `between` (or `mesh`)",
    );
    let d = only(
        &with(
            "between: [gcp-usc1, az-eus]",
            "between: [gcp-usc1, az-eus, aws-use1]",
        ),
        "links[2].between",
        "exactly two network names, found 3",
    );
    assert!(hint(&d).contains("mesh"));
}

#[test]
fn invalid_allow_entries_are_rejected_one_by_one() {
    let text = with(
        "allow: [tcp/443, tcp/5432, icmp]",
        "allow: [tcp/443, tcp/99999, gre, tcp/90-80]",
    );
    let d = errors(&text);
    let fields: Vec<&str> = d.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "links[1].allow[1]",
            "links[1].allow[2]",
            "links[1].allow[3]"
        ]
    );
    assert!(d[0].message.contains("outside 1-65535"));
    assert!(hint(&d[2]).contains("tcp/80-90"));
    assert_eq!(d[1].col, col_of(&text, "gre"));
}

// ---------------------------------------------------------------------------------------------
// ASNs

#[test]
fn public_asn_is_rejected_with_the_private_ranges() {
    let text = with(
        "    cidrs: [10.10.0.0/16]\n",
        "    cidrs: [10.10.0.0/16]\n    asn: 15169\n",
    );
    let d = only(&text, "networks[0].asn", "ASN 15169 is not a private ASN");
    assert!(hint(&d).contains("64512-65534"));
    assert_eq!(d.line, line_of(&text, "asn: 15169"));
    assert_eq!(d.col, 10);
}

#[test]
fn asn_reserved_by_azure_is_rejected_on_any_cloud() {
    for asn in [65515, 65517, 65518, 65519, 65520] {
        let text = with(
            "    cidrs: [10.20.0.0/16]\n",
            &format!("    cidrs: [10.20.0.0/16]\n    asn: {asn}\n"),
        );
        let d = only(&text, "networks[1].asn", "reserved by Azure");
        assert_eq!(d.line, line_of(&text, &format!("asn: {asn}")));
        assert_eq!(d.col, 10);
    }
}

#[test]
fn a_negative_asn_is_reported_as_negative() {
    let text = with(
        "    cidrs: [10.10.0.0/16]\n",
        "    cidrs: [10.10.0.0/16]\n    asn: -64512\n",
    );
    let d = only(&text, "networks[0].asn", "ASN -64512 is negative");
    assert!(
        hint(&d).contains("64512-65534 or 4200000000-4294967294"),
        "{d}"
    );
    assert_eq!((d.line, d.col), (line_of(&text, "asn: -64512"), 10));
}

#[test]
fn an_asn_above_32_bits_is_reported_out_of_range() {
    for asn in [
        "4294967296",
        "18446744073709551616",
        "99999999999999999999999999999999999999999",
    ] {
        let text = with(
            "    cidrs: [10.10.0.0/16]\n",
            &format!("    cidrs: [10.10.0.0/16]\n    asn: {asn}\n"),
        );
        let d = only(
            &text,
            "networks[0].asn",
            &format!("ASN {asn} is out of range"),
        );
        assert!(
            hint(&d).contains("64512-65534 or 4200000000-4294967294"),
            "{d}"
        );
        assert_eq!((d.line, d.col), (line_of(&text, "asn: "), 10));
    }
}

#[test]
fn an_asn_that_is_not_a_whole_number_says_what_was_found() {
    let text = with(
        "    cidrs: [10.10.0.0/16]\n",
        "    cidrs: [10.10.0.0/16]\n    asn: 645.12\n",
    );
    only(
        &text,
        "networks[0].asn",
        "expected a whole number, found a decimal number",
    );
}

#[test]
fn linked_networks_with_the_same_asn_are_rejected() {
    let text = with(
        "    cidrs: [10.10.0.0/16]\n",
        "    cidrs: [10.10.0.0/16]\n    asn: 65001\n",
    )
    .replacen(
        "    cidrs: [10.20.0.0/16]\n",
        "    cidrs: [10.20.0.0/16]\n    asn: 65001\n",
        1,
    );
    let d = only(
        &text,
        "networks[1].asn",
        "both use ASN 65001 and are linked",
    );
    assert_eq!(d.line, 16);
    // Not linked: the same ASN is fine.
    let unlinked = text.replacen("  - between: [aws-use1, gcp-usc1]\n", "", 1);
    parse(&unlinked).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Azure

#[test]
fn gateway_subnet_outside_the_vnet_is_rejected() {
    let text = with(
        "gateway_subnet: 10.30.255.0/27",
        "gateway_subnet: 10.31.255.0/27",
    );
    let d = only(
        &text,
        "networks[2].gateway_subnet",
        "not inside the VNet's CIDRs (10.30.0.0/16)",
    );
    assert_eq!(d.line, line_of(&text, "gateway_subnet"));
    assert_eq!(d.col, col_of(&text, "10.31.255.0/27"));
}

#[test]
fn gateway_subnet_smaller_than_27_is_rejected() {
    let text = with(
        "gateway_subnet: 10.30.255.0/27",
        "gateway_subnet: 10.30.255.0/28",
    );
    let d = only(&text, "networks[2].gateway_subnet", "smaller than /27");
    assert!(hint(&d).contains("10.30.255.0/27"), "{d}");
    assert_eq!(d.line, line_of(&text, "gateway_subnet"));
    assert_eq!(d.col, col_of(&text, "10.30.255.0/28"));
}

#[test]
fn unknown_gateway_sku_lists_the_known_ones() {
    let text = with(
        "    gateway_subnet: 10.30.255.0/27\n",
        "    gateway_subnet: 10.30.255.0/27\n    gateway_sku: vpngw2\n",
    );
    let d = only(
        &text,
        "networks[2].gateway_sku",
        "unknown Azure VPN gateway SKU `vpngw2`",
    );
    assert!(hint(&d).contains("`VpnGw2`"), "{d}");
    only(
        &text.replace("vpngw2", "Standard"),
        "networks[2].gateway_sku",
        "unknown",
    );
}

/// One Azure network linked to `n` GCP networks.
fn azure_hub(n: usize, sku: &str) -> String {
    let mut t = format!(
        "version: 1\nname: hub\nnetworks:\n  - name: az-hub\n    cloud: azure\n    subscription: 00000000-0000-0000-0000-000000000000\n    resource_group: rg\n    location: eastus\n    vnet: hub\n    cidrs: [10.0.0.0/16]\n    gateway_subnet: 10.0.255.0/27\n    gateway_sku: {sku}\n"
    );
    for i in 0..n {
        t.push_str(&format!(
            "  - name: gcp-{i}\n    cloud: gcp\n    project: acme-net\n    region: us-central1\n    network: vpc-{i}\n    cidrs: [10.{}.0.0/16]\n",
            i + 1
        ));
    }
    t.push_str("links:\n");
    for i in 0..n {
        t.push_str(&format!("  - between: [az-hub, gcp-{i}]\n"));
    }
    t
}

#[test]
fn azure_gateway_tunnel_limit_per_sku_is_enforced() {
    parse(&azure_hub(30, "VpnGw1")).unwrap();
    let text = azure_hub(31, "VpnGw1");
    let d = only(
        &text,
        "networks[0].gateway_sku",
        "has 31 links, but a VpnGw1 gateway terminates at most 30",
    );
    assert_eq!(d.line, line_of(&text, "gateway_sku"));
    assert_eq!(d.col, col_of(&text, "VpnGw1"));
    assert!(hint(&d).contains("VpnGw4"), "{d}");
    assert!(!hint(&d).contains("VpnGw3"), "{d}");
    parse(&azure_hub(30, "VpnGw3AZ")).unwrap();
    parse(&azure_hub(100, "VpnGw4")).unwrap();
    only(
        &azure_hub(101, "VpnGw5AZ"),
        "networks[0].gateway_sku",
        "at most 100",
    );
}

#[test]
fn the_basic_gateway_sku_is_refused_for_vpngw1() {
    for sku in ["Basic", "basic"] {
        let text = azure_hub(2, sku);
        let d = only(
            &text,
            "networks[0].gateway_sku",
            "supports neither IKEv2 nor custom IPsec/IKE policies",
        );
        assert!(hint(&d).contains("`VpnGw1`"), "{d}");
        assert_eq!(d.line, line_of(&text, "gateway_sku"));
        assert_eq!(d.col, col_of(&text, sku));
    }
}

#[test]
fn the_default_sku_limit_is_reported_at_the_network() {
    let text = azure_hub(31, "VpnGw1").replacen("    gateway_sku: VpnGw1\n", "", 1);
    let d = only(&text, "networks[0].gateway_sku", "a VpnGw1 gateway");
    assert_eq!(d.line, line_of(&text, "name: az-hub"));
}

// ---------------------------------------------------------------------------------------------
// Cloud id shapes

#[test]
fn aws_vpc_id_shape_is_checked() {
    let text = with("vpc_id: vpc-0a1b2c3d4e5f60789", "vpc_id: vpc-12345");
    let d = only(
        &text,
        "networks[0].vpc_id",
        "`vpc-12345` is not a valid vpc_id",
    );
    assert_eq!(d.col, col_of(&text, "vpc-12345"));
}

#[test]
fn azure_subscription_must_be_a_guid() {
    only(
        &with(
            "subscription: 00000000-0000-0000-0000-000000000000",
            "subscription: my-subscription",
        ),
        "networks[2].subscription",
        "GUID",
    );
}

#[test]
fn gcp_project_id_shape_is_checked() {
    only(
        &with("project: acme-net", "project: Acme"),
        "networks[1].project",
        "not a valid project",
    );
}

#[test]
fn aws_route_table_and_security_group_ids_are_checked() {
    let text = with(
        "    cidrs: [10.10.0.0/16]\n",
        "    cidrs: [10.10.0.0/16]\n    route_tables: [rtb-0a1b2c3d, rtb-x]\n    security_groups: [sg-0a1b2c3d, sg-0a1b2c3d]\n",
    );
    let d = errors(&text);
    let fields: Vec<&str> = d.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(
        fields,
        [
            "networks[0].route_tables[1]",
            "networks[0].security_groups[1]"
        ]
    );
    assert!(d[1].message.contains("listed twice"));
}

#[test]
fn two_meshes_sharing_a_pair_are_rejected_at_the_second() {
    let text = with(
        "links:\n  - between: [aws-use1, gcp-usc1]\n",
        "links:\n  - mesh: [aws-use1, gcp-usc1]\n  - mesh: [gcp-usc1, aws-use1]\n",
    );
    let d = only(
        &text,
        "links[1].mesh",
        "already linked by the mesh at links[0], line 24",
    );
    assert_eq!(d.line, 25);
}

#[test]
fn gcp_to_gcp_links_are_rejected() {
    let text = with(
        "links:\n",
        "  - name: gcp-euw1\n    cloud: gcp\n    project: acme-net\n    region: europe-west1\n    network: eu-vpc\n    cidrs: [10.40.0.0/16]\nlinks:\n  - mesh: [gcp-euw1, gcp-usc1]\n",
    );
    let d = only(&text, "links[0].mesh", "both GCP networks");
    assert!(hint(&d).contains("VPC Network Peering"), "{d}");
}

#[test]
fn ipv6_cidrs_are_refused_as_unsupported() {
    only(
        &with("cidrs: [10.20.0.0/16]", "cidrs: [\"fd00::/64\"]"),
        "networks[1].cidrs[0]",
        "IPv6",
    );
}

#[test]
fn a_network_with_errors_still_counts_as_declared_for_links() {
    // One error for the bad vpc_id; the links naming aws-use1 are not also "unknown".
    only(
        &with("vpc_id: vpc-0a1b2c3d4e5f60789", "vpc_id: nope"),
        "networks[0].vpc_id",
        "not a valid vpc_id",
    );
}

#[test]
fn an_empty_networks_list_is_rejected() {
    let text = "version: 1\nname: empty\nnetworks: []\n";
    let d = only(text, "networks", "no networks");
    assert_eq!((d.line, d.col), (3, 11));
}
