//! The state document: what peerctl has created (cloud ids, outputs), the allocations it made
//! and the secrets it generated, as one JSON document. Read by the planner; written by apply
//! through a [`backend::Backend`] (read with a version, compare-and-swap write): a local file
//! (replaced atomically with mode 0600, [`write_atomic`], under a lock) or etcd ([`etcd`]),
//! opened from a location with [`open`]; secrets sealed at rest by [`crypt`].

pub mod backend;
pub mod crypt;
pub mod etcd;
pub mod lease_lock;
pub mod merge;
pub mod open;
pub mod shared;

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use crate::cloud::Cloud;
use crate::plan::resource::{Kind, Resource, Value};

/// The version of the state file layout this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

/// Why a state file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read state file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("state file {path} is not valid: {message}")]
    Invalid { path: String, message: String },
    #[error(
        "state file {path} has format_version {found}; this peerctl reads version {FORMAT_VERSION}"
    )]
    Version { path: String, found: u32 },
    #[error("state {path} is locked by {holder}; wait for it to finish, or give --lock-timeout to wait (the lock is released when that process ends)")]
    Locked { path: String, holder: String },
    #[error("state {path}: this run lost its lock (its lease expired, or the lock was deleted) and stopped writing; nothing was overwritten; run again")]
    LockLost { path: String },
    #[error("state {path} changed under this run (expected version {expected}, found {found}); nothing was overwritten")]
    Conflict {
        path: String,
        expected: u64,
        found: u64,
    },
    #[error("state {path} kept changing under this run ({attempts} compare-and-swap attempts lost); nothing was overwritten, try again")]
    Contended { path: String, attempts: usize },
    #[error("state backend {at}: {message}")]
    Backend { at: String, message: String },
    #[error("invalid state location {spec:?}: {message}")]
    Spec { spec: String, message: String },
    #[error("state key: {0}")]
    Key(String),
    #[error(
        "the secrets in {path} are encrypted: set {} (or {}) to the key they were written with",
        crypt::KEY_VAR,
        crypt::KEY_FILE_VAR
    )]
    KeyRequired { path: String },
    #[error("refusing to store pre-shared keys in clear in the shared state {path}: set {} (a passphrase) or {} (a file holding one) so that they are encrypted; nothing was written", crypt::KEY_VAR, crypt::KEY_FILE_VAR)]
    SecretsNeedKey { path: String },
    #[error("the secrets in {path} were encrypted with another key (key id {stored}; the key given has id {given} for this document): if the key was rotated, set {} to the previous key as well so that they are re-encrypted; nothing was written", crypt::OLD_KEY_VAR)]
    WrongKey {
        path: String,
        stored: String,
        given: String,
    },
    #[error("the encrypted secrets in {path} failed authentication (altered or corrupted); nothing was written")]
    Tampered { path: String },
    #[error(
        "the secrets in {path} are encrypted; read it through a state backend opened with {}",
        crypt::KEY_VAR
    )]
    Sealed { path: String },
}

/// A secret value (pre-shared key). Its `Debug` never shows the value; serialisation does,
/// because state and saved plan files must carry it (both are written with mode 0600).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }
    /// The value, for the providers that must send it to a cloud. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// One allocated tunnel of a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TunnelAllocation {
    pub index: u8,
    /// The /30 for the tunnel's inside addresses (BGP and AWS tunnels); `None` where the
    /// tunnel has no inside addresses (GCP classic ↔ Azure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inside_cidr: Option<Ipv4Net>,
}

/// What was allocated for one link.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LinkAllocation {
    pub tunnels: Vec<TunnelAllocation>,
    /// First NSG rule priority of the link's block, per Azure network of the link.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub nsg_priorities: BTreeMap<String, u16>,
}

/// Every allocation of a topology. Recorded allocations take precedence over fresh ones, so
/// that edits to the topology never move what already exists.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Allocations {
    /// Gateway / router ASN per network name.
    pub asns: BTreeMap<String, u32>,
    /// Per link id (`a--b`).
    pub links: BTreeMap<String, LinkAllocation>,
}

/// A resource that exists in a cloud.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceState {
    pub kind: Kind,
    /// The cloud that holds it (the kind's cloud; recorded so that a reader of the state needs
    /// no kind table).
    pub cloud: Cloud,
    /// The deterministic cloud name.
    pub name: String,
    /// The cloud's id (ARN-less AWS id, GCP self link, Azure resource id).
    pub id: String,
    /// The region (AWS, GCP; `global` for global GCP resources) or location (Azure) it was
    /// created in. A resource cannot move: a different planned region is a replace.
    pub region: String,
    /// The network whose account/project/subscription holds it (`None`: shared by a region,
    /// e.g. an AWS customer gateway). Kept so that a deletion can still be shown with its
    /// owner once the network has left the topology.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// The link it was created for, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The attributes it was created (or last updated) with, as planned.
    pub attributes: BTreeMap<String, Value>,
    /// Outputs the cloud returned (outside IPs, ids…), read by dependent resources.
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
    /// The addresses it needed first, as planned: a destroy deletes it before them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<String>,
}

impl ResourceState {
    /// The record of `r` once created with cloud id `id` (outputs still empty), as apply
    /// writes it.
    pub fn created(r: &Resource, id: String) -> ResourceState {
        ResourceState {
            kind: r.kind,
            cloud: r.kind.cloud(),
            name: r.name.clone(),
            id,
            region: r.region.clone(),
            network: r.network.clone(),
            link: r.link.clone(),
            attributes: r.attributes.clone(),
            outputs: BTreeMap::new(),
            depends_on: r.depends_on.clone(),
        }
    }

    /// Every address this resource must outlive: its recorded dependencies plus every
    /// reference in its attributes (older records may lack `depends_on`).
    pub fn dependencies(&self) -> Vec<String> {
        let mut refs = Vec::new();
        for v in self.attributes.values() {
            v.refs(&mut refs);
        }
        let mut out: Vec<String> = refs.into_iter().map(|r| r.resource.clone()).collect();
        out.extend(self.depends_on.iter().cloned());
        out.sort();
        out.dedup();
        out
    }
}

/// The whole state document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub format_version: u32,
    /// Random identity created with the first state write; never changes afterwards.
    pub lineage: String,
    /// Incremented by every write.
    pub serial: u64,
    /// sha256 of the topology file the last apply used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology_digest: Option<String>,
    #[serde(default)]
    pub resources: BTreeMap<String, ResourceState>,
    #[serde(default)]
    pub allocations: Allocations,
    /// Pre-shared keys by `link/tunnel-index`.
    #[serde(default)]
    pub secrets: BTreeMap<String, Secret>,
}

impl Default for State {
    fn default() -> Self {
        State::empty()
    }
}

impl State {
    /// The state of a topology nothing has been applied for (no lineage yet).
    pub fn empty() -> State {
        State {
            format_version: FORMAT_VERSION,
            lineage: String::new(),
            serial: 0,
            topology_digest: None,
            resources: BTreeMap::new(),
            allocations: Allocations::default(),
            secrets: BTreeMap::new(),
        }
    }

    /// True for a state that was never written (no lineage).
    pub fn is_empty(&self) -> bool {
        self.lineage.is_empty()
    }

    /// A new lineage: 128 random bits formatted like a UUID (version 4 layout).
    pub fn new_lineage<R: rand_core::RngCore + rand_core::CryptoRng>(rng: &mut R) -> String {
        let mut b = [0u8; 16];
        rng.fill_bytes(&mut b);
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex::encode(b);
        format!(
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }

    /// Parses a state document; `path` is only used in errors. A document whose secrets are
    /// sealed is refused ([`StateError::Sealed`]): only a backend with the key reads it.
    pub fn from_json(path: &str, text: &str) -> Result<State, StateError> {
        let probe: serde_json::Value =
            serde_json::from_str(text).map_err(|e| StateError::Invalid {
                path: path.to_string(),
                message: e.to_string(),
            })?;
        if probe.get(crypt::SEALED_FIELD).is_some() {
            return Err(StateError::Sealed {
                path: path.to_string(),
            });
        }
        State::from_value(path, probe)
    }

    /// [`State::from_json`] on an already parsed document (sealed secrets already opened).
    pub fn from_value(path: &str, probe: serde_json::Value) -> Result<State, StateError> {
        let found = probe
            .get("format_version")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| StateError::Invalid {
                path: path.to_string(),
                message: "missing format_version".into(),
            })?;
        if found != u64::from(FORMAT_VERSION) {
            return Err(StateError::Version {
                path: path.to_string(),
                found: u32::try_from(found).unwrap_or(u32::MAX),
            });
        }
        serde_json::from_value(probe).map_err(|e| StateError::Invalid {
            path: path.to_string(),
            message: e.to_string(),
        })
    }

    /// The document as pretty JSON (holds secrets: write it only through [`write_atomic`]).
    pub fn to_json(&self) -> String {
        // Serialising plain maps and strings cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// Reads the state file; a missing file is the empty state.
    pub fn load(path: &Path) -> Result<State, StateError> {
        match std::fs::read_to_string(path) {
            Ok(text) => State::from_json(&path.display().to_string(), &text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(State::empty()),
            Err(source) => Err(StateError::Read {
                path: path.display().to_string(),
                source,
            }),
        }
    }

    /// Writes the state file atomically with mode 0600.
    pub fn save(&self, path: &Path) -> Result<(), StateError> {
        write_atomic(path, self.to_json().as_bytes())
    }
}

/// Replaces `path` with `bytes` atomically: a temporary file in the same directory, created
/// with mode 0600 (the content may hold secrets), synced, then renamed over the target.
/// Creates the parent directory when missing.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    use std::os::unix::fs::OpenOptionsExt;
    let err = |source| StateError::Write {
        path: path.display().to_string(),
        source,
    };
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(err)?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".into());
    let tmp = dir.join(format!(".{file_name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // The rename is durable only once the directory entry is synced.
        std::fs::File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::SeedableRng;

    #[test]
    fn missing_state_file_is_the_empty_state() {
        let dir = tempfile::tempdir().unwrap();
        let s = State::load(&dir.path().join("nope.json")).unwrap();
        assert!(s.is_empty());
        assert_eq!(s.serial, 0);
    }

    #[test]
    fn state_round_trips_and_is_written_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let mut s = State::empty();
        s.lineage = State::new_lineage(&mut rng);
        s.serial = 7;
        s.allocations.asns.insert("aws-use1".into(), 64600);
        s.secrets
            .insert("a--b/0".into(), Secret::new("Abcdefgh12345678".into()));
        s.save(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(State::load(&path).unwrap(), s);
    }

    #[test]
    fn lineage_looks_like_a_uuid_and_differs_per_draw() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(2);
        let a = State::new_lineage(&mut rng);
        let b = State::new_lineage(&mut rng);
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.as_bytes()[14], b'4');
    }

    #[test]
    fn secret_debug_hides_the_value() {
        let s = Secret::new("Topsecretvalue123".into());
        assert!(!format!("{s:?}").contains("Topsecret"));
    }

    #[test]
    fn unknown_format_version_is_refused() {
        let e = State::from_json("s.json", r#"{"format_version": 99}"#).unwrap_err();
        assert!(e.to_string().contains("format_version 99"), "{e}");
    }
}
