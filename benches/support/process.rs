//! One whole peerctl process as a benchmark sees it: wall time from spawn to exit, the child's
//! own peak RSS (`wait4`'s `ru_maxrss`, KB) and the bytes it printed on stdout (read from a
//! pipe, as a pipeline would). Shared by the benches with `#[path]`; each uses part of it.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

/// The binary to run: this build's, or `PEERCTL_BENCH_BIN` (another build on the same inputs,
/// e.g. a release build measured from a quick debug build of the bench).
pub fn binary() -> std::ffi::OsString {
    std::env::var_os("PEERCTL_BENCH_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_peerctl").into())
}

/// What one process cost.
pub struct Cost {
    pub wall: Duration,
    pub peak_rss_kb: u64,
    pub stdout_bytes: usize,
    pub stderr_lines: usize,
}

/// Runs `peerctl ARGS` in `dir` and asserts it exits with `code`. The child is reaped by
/// `wait4` (which also gives its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
pub fn run(dir: &Path, args: &[&str], code: i32) -> Cost {
    let t0 = Instant::now();
    let mut child = std::process::Command::new(binary())
        .current_dir(dir)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn peerctl");
    let drain = |mut r: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            std::io::Read::read_to_end(&mut r, &mut sink).map(|_| sink)
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout")));
    let err = drain(Box::new(child.stderr.take().expect("stderr")));
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our own unwaited child; both pointers are to live locals.
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = t0.elapsed();
    assert_eq!(pid, child.id() as libc::pid_t, "wait4 failed");
    let stderr = err.join().expect("reader").expect("read stderr");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == code,
        "peerctl {args:?}: status {status}, expected exit {code}: {}",
        String::from_utf8_lossy(&stderr)
    );
    Cost {
        wall,
        peak_rss_kb: usage.ru_maxrss as u64,
        stdout_bytes: out.join().expect("reader").expect("read stdout").len(),
        stderr_lines: stderr.iter().filter(|b| **b == b'\n').count(),
    }
}

/// The median of `v` (sorted in place).
pub fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}
