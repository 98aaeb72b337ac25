//! Hostile topologies through whole `peerctl validate` processes: the inputs of issue 13's
//! validator classes at the size that showed each (a few hundred KB at most), against the
//! bound "at most a second and 200 MB whatever the file holds". Prints one row per input:
//! size, wall time (median of 5), peak RSS and the diagnostics printed (capped at 100 plus a
//! count line unless `--all`).
//!
//! `cargo bench --bench hostile` (the `bench` profile; figures in docs/performance.md), or
//! `PEERCTL_BENCH_BIN=target/release/peerctl cargo test --bench hostile` to measure a release
//! build from a quick build of this harness (only the child processes are timed).

#[path = "support/process.rs"]
mod process;

use std::fmt::Write as _;

fn aws(i: usize) -> String {
    format!(
        "  - name: n{i}\n    cloud: aws\n    region: us-east-1\n    vpc_id: vpc-{i:08x}\n    cidrs: [10.{}.{}.0/24]\n",
        i / 256,
        i % 256
    )
}

fn names(n: usize) -> String {
    (0..n)
        .map(|i| format!("n{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The inputs: (name, file contents).
fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    let head = "version: 1\nname: x\nnetworks:\n";
    let mut broken = String::from(head);
    for i in 0..2000 {
        let _ = write!(broken, "  - name: n{i}\n    cloud: aws\n");
    }
    let _ = writeln!(broken, "links:\n  - mesh: [{}]", names(2000));

    let mut one_cloud = String::from(head);
    for i in 0..600 {
        one_cloud.push_str(&aws(i));
    }
    let _ = writeln!(one_cloud, "links:\n  - mesh: [{}]", names(600));

    let mut unknown = String::from(head);
    for i in 0..200 {
        unknown.push_str(&aws(i));
    }
    unknown.push_str("links:\n");
    for i in 0..4000 {
        let _ = writeln!(unknown, "  - between: [n{}, ghost{i}]", i % 200);
    }

    let keys: String = (0..80_000).map(|i| format!("k{i}: ,")).collect();
    let empty_values = format!("{head}  - {{{keys}}}\n");

    let nested = format!("{head}  - {}\n", "? : ".repeat(80_000));

    let mut control = String::from(head);
    for i in 0..5000 {
        let _ = write!(
            control,
            "  - name: \"n{i}\\e[31m\\r\\nred\"\n    cloud: aws\n"
        );
    }
    let mut not_utf8 = String::from(head).into_bytes();
    for i in 0..20_000 {
        not_utf8.extend_from_slice(format!("  - name: n{i}\n").as_bytes());
    }
    not_utf8.extend_from_slice(b"  - name: \xff\xfe\n");

    vec![
        ("mesh of 2,000 networks lacking fields", broken.into_bytes()),
        ("mesh of 600 AWS networks", one_cloud.into_bytes()),
        ("4,000 links to unknown networks", unknown.into_bytes()),
        ("80,000 empty values on one line", empty_values.into_bytes()),
        ("80,000 nested explicit keys", nested.into_bytes()),
        ("5,000 names with escapes", control.into_bytes()),
        ("not UTF-8 after 20,000 lines", not_utf8),
    ]
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    println!("hostile topologies: whole `peerctl validate` processes (median of 5; peak RSS of the child)");
    println!("| input | KB | validate ms | peak RSS MB | stderr lines | within 1 s and 200 MB |");
    println!("|---|---:|---:|---:|---:|---|");
    for (name, bytes) in inputs() {
        let file = dir.path().join("t.yaml");
        std::fs::write(&file, &bytes).expect("write input");
        let f = file.to_str().expect("utf-8 path");
        let mut times = Vec::new();
        let mut rss = 0;
        let mut lines = 0;
        for _ in 0..5 {
            let c = process::run(dir.path(), &["validate", "-f", f], 1);
            times.push(c.wall);
            rss = rss.max(c.peak_rss_kb);
            lines = c.stderr_lines;
        }
        let ms = process::median(&mut times).as_secs_f64() * 1e3;
        let mb = rss as f64 / 1024.0;
        println!(
            "| {name} | {:.0} | {ms:.1} | {mb:.1} | {lines} | {} |",
            bytes.len() as f64 / 1024.0,
            if ms <= 1000.0 && mb <= 200.0 {
                "yes"
            } else {
                "**no**"
            }
        );
    }
}
