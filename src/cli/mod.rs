//! One module per command. Errors become messages and exit codes here (anyhow lives only in
//! this layer).

pub mod apply;
pub mod completions;
pub mod destroy;
pub mod duration;
pub mod graph;
pub mod plan;
pub mod progress;
pub mod refresh;
pub mod sandbox;
pub mod state_cmd;
pub mod target;
pub mod validate;
pub mod verify;

/// Targets that log whole HTTP requests with their bodies at debug level (a pre-shared key is
/// in the body of a connection PUT): always off, whatever the filter says.
const BODY_LOGGERS: [&str; 1] = ["azure_core::policies::transport"];

/// Logs to stderr; `PEERCTL_LOG` (an env-filter) overrides the -v count. Every line goes
/// through [`redact::Writer`], which masks every secret registered with [`redact::register`].
pub fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let mut filter = tracing_subscriber::EnvFilter::try_from_env("PEERCTL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    for target in BODY_LOGGERS {
        if let Ok(d) = format!("{target}=off").parse() {
            filter = filter.add_directive(d);
        }
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(|| redact::Writer)
        .try_init();
}

/// Defence in depth for logs: whatever a dependency decides to print, the secrets peerctl
/// knows of are replaced by `***` before a log line reaches stderr.
pub mod redact {
    use std::sync::RwLock;

    static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

    /// Adds secrets to mask from now on.
    pub fn register<'a>(secrets: impl IntoIterator<Item = &'a str>) {
        if let Ok(mut s) = SECRETS.write() {
            for v in secrets {
                if !v.is_empty() && !s.iter().any(|x| x == v) {
                    s.push(v.to_string());
                }
            }
        }
    }

    /// `text` with every registered secret masked.
    pub fn mask(text: &str) -> String {
        let mut out = text.to_string();
        if let Ok(s) = SECRETS.read() {
            for v in s.iter() {
                if out.contains(v.as_str()) {
                    out = out.replace(v.as_str(), "***");
                }
            }
        }
        out
    }

    /// stderr, masked. tracing-subscriber writes each event with one `write_all`, so an event
    /// is masked whole.
    pub struct Writer;

    impl std::io::Write for Writer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let text = String::from_utf8_lossy(buf);
            std::io::stderr().lock().write_all(mask(&text).as_bytes())?;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            std::io::stderr().flush()
        }
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn registered_secrets_are_masked() {
            super::register(["Abcdefgh12345678"]);
            assert_eq!(super::mask("key=Abcdefgh12345678;"), "key=***;");
        }
    }
}
