//! Golden tests: the human and JSON plans (and the Mermaid graph) of every file in
//! topologies/, planned on an empty state with a seeded RNG, compared with the reviewed
//! snapshots in tests/snapshots/. A change to planner output shows up here as a diff to review.

use peerctl::plan::templates::Templates;
use peerctl::plan::{plan, render};
use peerctl::state::State;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use std::path::PathBuf;

fn topology_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("topologies");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("topologies/")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_example_topology_plans_as_in_its_snapshots() {
    let files = topology_files();
    assert!(
        files.len() >= 3,
        "expected the example topologies, found {files:?}"
    );
    let tpl = Templates::embedded().unwrap();
    for path in files {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let name = format!("topologies/{stem}.yaml");
        let topo = peerctl::topology::parse(&name, &text)
            .unwrap_or_else(|e| panic!("{name} does not parse: {e:?}"));
        let p = plan(
            &topo,
            &State::empty(),
            &tpl,
            &mut ChaCha20Rng::seed_from_u64(1),
        )
        .unwrap();
        insta::with_settings!({
            snapshot_path => "../snapshots",
            prepend_module_to_snapshot => false,
            description => name.clone(),
        }, {
            insta::assert_snapshot!(format!("plan_human_{stem}"), render::human(&p, &topo));
            insta::assert_snapshot!(format!("plan_json_{stem}"), render::json_text(&p));
            insta::assert_snapshot!(format!("graph_mermaid_{stem}"), render::mermaid(&topo, &tpl));
        });
    }
}

#[test]
fn json_plans_of_the_examples_hold_no_key() {
    let tpl = Templates::embedded().unwrap();
    for path in topology_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let topo = peerctl::topology::parse("t.yaml", &text).unwrap();
        let p = plan(
            &topo,
            &State::empty(),
            &tpl,
            &mut ChaCha20Rng::seed_from_u64(1),
        )
        .unwrap();
        let out = render::json_text(&p) + &render::human(&p, &topo);
        assert!(!p.secrets.is_empty());
        for s in p.secrets.values() {
            assert!(!out.contains(s.expose()), "{} leaks a key", path.display());
        }
    }
}
