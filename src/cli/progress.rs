//! Progress of apply and destroy, in the form the output calls for: on a terminal, indicatif
//! bars (one line per resource in flight with its elapsed time against the usual duration, and
//! an overall bar); otherwise one timestamped line per state change; with `--json`, one JSON
//! event per line (docs/cli.md). Events never carry secrets.

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use peerctl::engine::expect::human;
use peerctl::engine::{Event, Events};
use peerctl::plan::Action;
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Bars,
    Lines,
    Json,
}

impl Mode {
    /// Bars on a terminal, lines otherwise, JSON when asked.
    pub fn pick(json: bool) -> Mode {
        if json {
            Mode::Json
        } else if std::io::stderr().is_terminal() {
            Mode::Bars
        } else {
            Mode::Lines
        }
    }
}

/// RFC 3339 UTC timestamp with milliseconds.
pub fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    let f = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&f).unwrap_or_default()
}

fn past(a: Action) -> &'static str {
    match a {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Replace => "replaced",
        Action::Delete => "destroyed",
    }
}

/// Prints one JSON document on its own line (stdout).
pub fn json_line(v: &serde_json::Value) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{v}");
    let _ = out.flush();
}

/// The progress renderer (an [`Events`] sink).
pub struct Progress {
    mode: Mode,
    bars: Option<(MultiProgress, ProgressBar)>,
    in_flight: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress {
    /// `total`: the changes the run will make.
    pub fn new(mode: Mode, total: usize) -> Progress {
        let bars = (mode == Mode::Bars).then(|| {
            let m = MultiProgress::new();
            let overall = m.add(ProgressBar::new(total as u64));
            overall.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} resources")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            overall.enable_steady_tick(Duration::from_millis(200));
            (m, overall)
        });
        Progress {
            mode,
            bars,
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    /// Removes the bars (before the final summary is printed).
    pub fn finish(&self) {
        if let Some((_, overall)) = &self.bars {
            overall.finish_and_clear();
        }
        if let Ok(mut f) = self.in_flight.lock() {
            for (_, b) in f.drain() {
                b.finish_and_clear();
            }
        }
    }

    fn line(&self, text: &str) {
        match &self.bars {
            Some((m, _)) => {
                let _ = m.println(text);
            }
            None => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{} {text}", now());
                let _ = out.flush();
            }
        }
    }
}

impl Events for Progress {
    fn emit(&self, e: &Event) {
        if self.mode == Mode::Json {
            let v = match e {
                Event::Started {
                    address,
                    action,
                    cloud,
                    expected,
                } => serde_json::json!({
                    "time": now(), "event": "started", "address": address, "action": action,
                    "cloud": cloud, "expected_seconds": expected.as_secs(),
                }),
                Event::Finished {
                    address,
                    action,
                    elapsed,
                } => serde_json::json!({
                    "time": now(), "event": "finished", "address": address, "action": action,
                    "elapsed_seconds": elapsed.as_secs_f64(),
                }),
                Event::Failed {
                    address,
                    action,
                    error,
                } => serde_json::json!({
                    "time": now(), "event": "failed", "address": address, "action": action,
                    "error": error,
                }),
            };
            json_line(&v);
            return;
        }
        match e {
            Event::Started {
                address,
                action,
                expected,
                ..
            } => {
                if let Some((m, _)) = &self.bars {
                    let b = m.add(ProgressBar::new_spinner());
                    b.set_style(
                        ProgressStyle::with_template("  {spinner} {msg} {elapsed}")
                            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                    );
                    b.set_message(format!(
                        "{} {address} (usually ~{})",
                        action.as_str(),
                        human(*expected)
                    ));
                    b.enable_steady_tick(Duration::from_millis(200));
                    if let Ok(mut f) = self.in_flight.lock() {
                        f.insert(address.clone(), b);
                    }
                } else {
                    self.line(&format!(
                        "{:<8} {address}: started (usually ~{})",
                        action.as_str(),
                        human(*expected)
                    ));
                }
            }
            Event::Finished {
                address,
                action,
                elapsed,
            } => {
                self.done_bar(address);
                self.line(&format!(
                    "{:<8} {address}: {} in {:.1}s",
                    action.as_str(),
                    past(*action),
                    elapsed.as_secs_f64()
                ));
            }
            Event::Failed {
                address,
                action,
                error,
            } => {
                self.done_bar(address);
                self.line(&format!(
                    "{:<8} {address}: FAILED: {error}",
                    action.as_str()
                ));
            }
        }
    }
}

impl Progress {
    fn done_bar(&self, address: &str) {
        if let Some((_, overall)) = &self.bars {
            overall.inc(1);
        }
        if let Ok(mut f) = self.in_flight.lock() {
            if let Some(b) = f.remove(address) {
                b.finish_and_clear();
            }
        }
    }
}
