//! Persistence of the world under `--data DIR`: one JSON document, replaced atomically after
//! every mutating call, so that separate peerctl invocations see the same clouds.

use crate::sandbox::core::SandboxError;
use crate::sandbox::world::World;
use serde::{Deserialize, Serialize};
use std::path::Path;

const FILE: &str = "world.json";

#[derive(Serialize, Deserialize)]
pub struct Saved {
    pub world: World,
    #[serde(default)]
    pub clock_offset_ms: u64,
    /// The world as first seeded: what a reset goes back to when no topology is given.
    #[serde(default)]
    pub seed: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct SavedRef<'a> {
    world: &'a World,
    clock_offset_ms: u64,
    seed: Option<&'a serde_json::Value>,
}

fn err(dir: &Path, message: impl ToString) -> SandboxError {
    SandboxError::Data {
        path: dir.display().to_string(),
        message: message.to_string(),
    }
}

/// The persisted world, if `dir` holds one.
pub fn load(dir: &Path) -> Result<Option<Saved>, SandboxError> {
    let path = dir.join(FILE);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| err(dir, format!("{FILE} is not a sandbox world: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(err(dir, e)),
    }
}

/// Writes the world (temp file + rename, mode 0600: it holds pre-shared keys).
pub fn save(
    dir: &Path,
    world: &World,
    clock_offset_ms: u64,
    seed: Option<&serde_json::Value>,
) -> Result<(), SandboxError> {
    std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
    let bytes = serde_json::to_vec(&SavedRef {
        world,
        clock_offset_ms,
        seed,
    })
    .map_err(|e| err(dir, e))?;
    let tmp = dir.join(format!("{FILE}.tmp"));
    write_private(&tmp, &bytes).map_err(|e| err(dir, e))?;
    std::fs::rename(&tmp, dir.join(FILE)).map_err(|e| err(dir, e))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
