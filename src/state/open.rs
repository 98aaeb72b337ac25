//! From a state location (`--state` / `PEERCTL_STATE`: a file path or `etcd://HOST:PORT/KEY`)
//! and the options of one run (the command, the state keys, etcd's TLS and credentials, the
//! clouds the runner owns) to a [`Backend`]: what the CLI calls.

use super::backend::{Backend, Holder, LocalFile};
use super::crypt::{Codec, Keys};
use super::etcd::{Etcd, EtcdLocation, EtcdOptions};
use super::shared::Merging;
use super::{State, StateError};
use crate::cloud::Cloud;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// The variable that gives the state location when `--state` is not.
pub const STATE_VAR: &str = "PEERCTL_STATE";

/// Where the state document lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    File(PathBuf),
    Etcd(EtcdLocation),
}

impl Location {
    /// `etcd://…` is etcd; anything else is a file path.
    pub fn parse(spec: &str) -> Result<Location, StateError> {
        if spec.contains("://") {
            if spec.starts_with("etcd://") {
                return EtcdLocation::parse(spec).map(Location::Etcd);
            }
            return Err(StateError::Spec {
                spec: spec.to_string(),
                message: "the state is a file path or etcd://HOST:PORT/KEY".into(),
            });
        }
        if spec.is_empty() {
            return Err(StateError::Spec {
                spec: spec.to_string(),
                message: "empty".into(),
            });
        }
        Ok(Location::File(PathBuf::from(spec)))
    }

    pub fn describe(&self) -> String {
        match self {
            Location::File(p) => p.display().to_string(),
            Location::Etcd(l) => l.describe(),
        }
    }

    /// True for a location other runners share (secrets need a key there).
    pub fn shared(&self) -> bool {
        matches!(self, Location::Etcd(_))
    }
}

/// What one run opens its state with.
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Recorded as the holder of a local file's lock (`peerctl apply`).
    pub command: String,
    pub keys: Keys,
    pub etcd: EtcdOptions,
    /// The clouds this runner writes (`apply --cloud`); None: all of them.
    pub owned: Option<BTreeSet<Cloud>>,
    /// On etcd, take the writer locks of the owned clouds ([`super::lease_lock`]) for as long
    /// as the backend is open (apply and destroy do; a local file is always locked).
    pub lock: bool,
    /// How long to wait for a lock another run holds (default: fail at once, naming it).
    pub lock_timeout: std::time::Duration,
}

impl OpenOptions {
    /// Keys and etcd options from the environment (`PEERCTL_STATE_KEY*`, `PEERCTL_ETCD_*`).
    pub fn from_env(command: &str) -> Result<OpenOptions, StateError> {
        let var = |k: &str| std::env::var(k).ok();
        Ok(OpenOptions {
            command: command.to_string(),
            keys: Keys::from_env(var)?,
            etcd: EtcdOptions::from_env(var)?,
            ..OpenOptions::default()
        })
    }
}

/// Opens the state for writing: a local file is locked (for as long as the backend lives);
/// etcd is connected, its owned clouds' writer locks taken when `options.lock` (released by
/// [`Backend::close`], or within the lease's TTL when the process dies), and wrapped in
/// [`Merging`], so that runners of different clouds merge.
pub async fn open(
    location: &Location,
    options: &OpenOptions,
) -> Result<Box<dyn Backend>, StateError> {
    let codec = Codec::new(options.keys.clone(), location.shared());
    match location {
        Location::File(path) => {
            let until = tokio::time::Instant::now() + options.lock_timeout;
            let file = loop {
                match LocalFile::open(path, &options.command) {
                    Err(StateError::Locked { .. }) if tokio::time::Instant::now() < until => {
                        tokio::time::sleep(std::time::Duration::from_millis(250)).await
                    }
                    other => break other?,
                }
            };
            Ok(Box::new(file.with_codec(codec)))
        }
        Location::Etcd(l) => {
            let mut etcd = Etcd::connect(l.clone(), &options.etcd, codec).await?;
            if options.lock {
                let clouds = options
                    .owned
                    .clone()
                    .unwrap_or_else(|| Cloud::ALL.into_iter().collect());
                etcd.lock(&clouds, &Holder::me(&options.command), options.lock_timeout)
                    .await?;
            }
            Ok(Box::new(Merging::new(
                Box::new(etcd),
                options.owned.clone(),
            )))
        }
    }
}

/// Reads the state once without locking it (plan, verify, state list).
pub async fn read(location: &Location, options: &OpenOptions) -> Result<State, StateError> {
    let mut codec = Codec::new(options.keys.clone(), location.shared());
    match location {
        Location::File(path) => LocalFile::read_unlocked(path, &mut codec),
        Location::Etcd(l) => {
            let mut etcd = Etcd::connect(l.clone(), &options.etcd, codec).await?;
            Ok(etcd.read().await?.0)
        }
    }
}

/// Reads the document and writes it back unchanged but for the serial: with the old key given
/// (`PEERCTL_STATE_KEY_OLD`), its secrets are re-encrypted under the current key.
pub async fn reencrypt(backend: &mut dyn Backend) -> Result<State, StateError> {
    Ok(super::shared::update(backend, |_| Ok(())).await?.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_are_files_or_etcd() {
        assert_eq!(
            Location::parse(".peerctl/state.json").unwrap(),
            Location::File(".peerctl/state.json".into())
        );
        assert!(matches!(
            Location::parse("etcd://127.0.0.1:2379/peerctl/x").unwrap(),
            Location::Etcd(_)
        ));
        assert!(Location::parse("s3://bucket/key").is_err());
        assert!(Location::parse("").is_err());
    }

    #[tokio::test]
    async fn a_local_file_with_a_key_holds_no_secret_in_clear_and_stays_0600() {
        use crate::state::crypt::Passphrase;
        use crate::state::Secret;
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let loc = Location::File(path.clone());
        let opts = OpenOptions {
            command: "t".into(),
            keys: Keys::with(Passphrase::new("local passphrase")),
            ..OpenOptions::default()
        };
        let mut b = open(&loc, &opts).await.unwrap();
        let (s, _) = super::super::shared::update(&mut *b, |s| {
            s.lineage = "l".into();
            s.secrets
                .insert("x/0".into(), Secret::new("ClearPskMustNotShow1".into()));
            Ok(())
        })
        .await
        .unwrap();
        drop(b);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("ClearPskMustNotShow1"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(read(&loc, &opts).await.unwrap(), s);
        let e = read(&loc, &OpenOptions::default()).await.unwrap_err();
        assert!(matches!(e, StateError::KeyRequired { .. }), "{e}");
    }
}
