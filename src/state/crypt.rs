//! Secrets at rest: the state document's pre-shared keys sealed with XChaCha20-Poly1305 under
//! a key derived from a passphrase by Argon2id (random salt stored beside), with a key id so
//! that a rotated key is told apart from a damaged document. [`Codec`] turns a [`State`] into
//! the stored bytes and back; every backend writes through one. Format: docs/state.md.

use super::{Secret, State, StateError};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The passphrase that seals the state's secrets.
pub const KEY_VAR: &str = "PEERCTL_STATE_KEY";
/// A file holding that passphrase (instead of [`KEY_VAR`]).
pub const KEY_FILE_VAR: &str = "PEERCTL_STATE_KEY_FILE";
/// The previous passphrase, during a rotation: read with it, written with the new one.
pub const OLD_KEY_VAR: &str = "PEERCTL_STATE_KEY_OLD";
/// A file holding the previous passphrase.
pub const OLD_KEY_FILE_VAR: &str = "PEERCTL_STATE_KEY_OLD_FILE";

/// The document field that holds the sealed secrets (the `secrets` field is then empty).
pub const SEALED_FIELD: &str = "sealed_secrets";

const CIPHER: &str = "xchacha20poly1305";
const KDF: &str = "argon2id";
const AAD_PREFIX: &[u8] = b"peerctl state secrets v1\0";
const KEY_ID_PREFIX: &[u8] = b"peerctl state key id v1\0";

/// Argon2id cost of new seals: the RFC 9106 / OWASP second recommendation (19 MiB, 2 passes,
/// 1 lane). Stored with each seal, so that it can be raised without breaking old documents.
const M_COST: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
/// Bounds on the costs a document may ask for (a hostile document must not exhaust memory).
const MAX_M_COST: u32 = 1024 * 1024;
const MAX_T_COST: u32 = 16;

/// A passphrase. Never shown: `Debug` prints `***`, and no error carries it.
#[derive(Clone)]
pub struct Passphrase(Vec<u8>);

impl Passphrase {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Passphrase {
        Passphrase(bytes.into())
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase(***)")
    }
}

/// The keys a run was given: the current one (reads and writes) and, during a rotation, the
/// previous one (reads only).
#[derive(Debug, Clone, Default)]
pub struct Keys {
    pub current: Option<Passphrase>,
    pub old: Option<Passphrase>,
}

impl Keys {
    /// No key: secrets stay in clear (refused by a shared backend).
    pub fn none() -> Keys {
        Keys::default()
    }

    /// Just `current`.
    pub fn with(current: Passphrase) -> Keys {
        Keys {
            current: Some(current),
            old: None,
        }
    }

    /// The keys from [`KEY_VAR`] / [`KEY_FILE_VAR`] and [`OLD_KEY_VAR`] / [`OLD_KEY_FILE_VAR`],
    /// read through `var` (the environment, in the CLI).
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<Keys, StateError> {
        Ok(Keys {
            current: one_key(&var, KEY_VAR, KEY_FILE_VAR)?,
            old: one_key(&var, OLD_KEY_VAR, OLD_KEY_FILE_VAR)?,
        })
    }
}

fn one_key(
    var: &impl Fn(&str) -> Option<String>,
    value_var: &str,
    file_var: &str,
) -> Result<Option<Passphrase>, StateError> {
    let value = var(value_var).filter(|v| !v.is_empty());
    let file = var(file_var).filter(|v| !v.is_empty());
    match (value, file) {
        (Some(_), Some(_)) => Err(StateError::Key(format!(
            "both {value_var} and {file_var} are set; set one"
        ))),
        (Some(v), None) => Ok(Some(Passphrase::new(v.into_bytes()))),
        (None, Some(f)) => {
            let path = PathBuf::from(&f);
            let mut bytes = std::fs::read(&path)
                .map_err(|e| StateError::Key(format!("{file_var}: cannot read {f}: {e}")))?;
            while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                bytes.pop();
            }
            if bytes.is_empty() {
                return Err(StateError::Key(format!("{file_var}: {f} is empty")));
            }
            Ok(Some(Passphrase::new(bytes)))
        }
        (None, None) => Ok(None),
    }
}

/// Argon2id parameters and salt of one seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KdfParams {
    pub alg: String,
    /// Memory in KiB.
    pub m_cost: u32,
    pub t_cost: u32,
    pub p_cost: u32,
    /// Hex, 16 random bytes.
    pub salt: String,
}

/// The sealed secrets as stored in the document's [`SEALED_FIELD`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sealed {
    pub cipher: String,
    pub kdf: KdfParams,
    /// Hex, first 8 bytes of SHA-256 over a fixed prefix and the derived key: tells which key
    /// sealed the secrets without revealing anything about it.
    pub key_id: String,
    /// Hex, 24 random bytes.
    pub nonce: String,
    /// Hex: the secrets map as JSON, encrypted, with the 16-byte tag appended.
    pub ciphertext: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Which {
    Current,
    Old,
}

/// A derived key, remembered per passphrase and salt (Argon2 is slow on purpose).
struct Derived {
    which: Which,
    kdf: KdfParams,
    key: [u8; 32],
    id: String,
}

/// Turns a state into stored bytes and back, sealing its secrets when a key is given.
pub struct Codec {
    keys: Keys,
    /// A shared backend (etcd): secrets in clear are refused.
    shared: bool,
    derived: Vec<Derived>,
    /// The salt of the current key's seal read or written last (kept so that a run derives
    /// its key once); `None`: draw a new one on the next seal.
    current_kdf: Option<KdfParams>,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec")
            .field("keys", &self.keys)
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl Codec {
    pub fn new(keys: Keys, shared: bool) -> Codec {
        Codec {
            keys,
            shared,
            derived: Vec::new(),
            current_kdf: None,
        }
    }

    /// No key, not shared: the document as it always was.
    pub fn plain() -> Codec {
        Codec::new(Keys::none(), false)
    }

    /// True when a current key is set (secrets are sealed on write).
    pub fn seals(&self) -> bool {
        self.keys.current.is_some()
    }

    /// The stored bytes of `state`; `at` names the backend in errors.
    pub fn encode(&mut self, state: &State, at: &str) -> Result<Vec<u8>, StateError> {
        if state.secrets.is_empty() {
            return Ok(state.to_json().into_bytes());
        }
        if self.keys.current.is_none() {
            if self.shared {
                return Err(StateError::SecretsNeedKey {
                    path: at.to_string(),
                });
            }
            return Ok(state.to_json().into_bytes());
        }
        let sealed = self.seal(&state.secrets, &state.lineage)?;
        let mut doc = serde_json::to_value(state).map_err(|e| invalid(at, e))?;
        if let Some(obj) = doc.as_object_mut() {
            obj.insert(
                "secrets".into(),
                serde_json::Value::Object(Default::default()),
            );
            obj.insert(
                SEALED_FIELD.into(),
                serde_json::to_value(&sealed).map_err(|e| invalid(at, e))?,
            );
        }
        Ok((serde_json::to_string_pretty(&doc).map_err(|e| invalid(at, e))? + "\n").into_bytes())
    }

    /// The state in `bytes`, its secrets opened; `at` names the backend in errors.
    pub fn decode(&mut self, bytes: &[u8], at: &str) -> Result<State, StateError> {
        let text = std::str::from_utf8(bytes).map_err(|e| invalid(at, e))?;
        let mut doc: serde_json::Value = serde_json::from_str(text).map_err(|e| invalid(at, e))?;
        let sealed = doc
            .as_object_mut()
            .and_then(|o| o.remove(SEALED_FIELD))
            .map(serde_json::from_value::<Sealed>)
            .transpose()
            .map_err(|e| invalid(at, e))?;
        let mut state = State::from_value(at, doc)?;
        if let Some(sealed) = sealed {
            let secrets = self.open(&sealed, &state.lineage, at)?;
            state.secrets = secrets;
        }
        Ok(state)
    }

    fn seal(
        &mut self,
        secrets: &BTreeMap<String, Secret>,
        lineage: &str,
    ) -> Result<Sealed, StateError> {
        let kdf = match &self.current_kdf {
            Some(k) => k.clone(),
            None => {
                let k = KdfParams {
                    alg: KDF.into(),
                    m_cost: M_COST,
                    t_cost: T_COST,
                    p_cost: P_COST,
                    salt: hex::encode(random::<16>()),
                };
                self.current_kdf = Some(k.clone());
                k
            }
        };
        let (key, id) = self.derive(Which::Current, &kdf)?;
        let nonce = random::<24>();
        let plain = serde_json::to_vec(secrets).map_err(|e| StateError::Key(e.to_string()))?;
        let aad = aad(lineage);
        let ct = XChaCha20Poly1305::new(&key.into())
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: &plain,
                    aad: &aad,
                },
            )
            .map_err(|_| StateError::Key("encryption failed".into()))?;
        Ok(Sealed {
            cipher: CIPHER.into(),
            kdf,
            key_id: id,
            nonce: hex::encode(nonce),
            ciphertext: hex::encode(ct),
        })
    }

    fn open(
        &mut self,
        sealed: &Sealed,
        lineage: &str,
        at: &str,
    ) -> Result<BTreeMap<String, Secret>, StateError> {
        let bad = |m: &str| StateError::Invalid {
            path: at.to_string(),
            message: format!("{SEALED_FIELD}: {m}"),
        };
        if sealed.cipher != CIPHER {
            return Err(bad(&format!("unknown cipher {:?}", sealed.cipher)));
        }
        check_kdf(&sealed.kdf).map_err(|m| bad(&m))?;
        if self.keys.current.is_none() && self.keys.old.is_none() {
            return Err(StateError::KeyRequired {
                path: at.to_string(),
            });
        }
        let mut given = None;
        for which in [Which::Current, Which::Old] {
            let present = match which {
                Which::Current => self.keys.current.is_some(),
                Which::Old => self.keys.old.is_some(),
            };
            if !present {
                continue;
            }
            let (key, id) = self.derive(which, &sealed.kdf)?;
            if id != sealed.key_id {
                given.get_or_insert(id);
                continue;
            }
            let nonce: [u8; 24] = hex::decode(&sealed.nonce)
                .ok()
                .and_then(|n| n.try_into().ok())
                .ok_or_else(|| bad("nonce is not 24 bytes of hex"))?;
            let ct = hex::decode(&sealed.ciphertext).map_err(|_| bad("ciphertext is not hex"))?;
            let aad = aad(lineage);
            let plain = XChaCha20Poly1305::new(&key.into())
                .decrypt(
                    &XNonce::from(nonce),
                    Payload {
                        msg: &ct,
                        aad: &aad,
                    },
                )
                .map_err(|_| StateError::Tampered {
                    path: at.to_string(),
                })?;
            let secrets: BTreeMap<String, Secret> =
                serde_json::from_slice(&plain).map_err(|_| StateError::Tampered {
                    path: at.to_string(),
                })?;
            // Opened with the current key: keep its salt so that writes need no new
            // derivation. Opened with the old key: the next write seals under a new salt.
            if which == Which::Current {
                self.current_kdf = Some(sealed.kdf.clone());
            }
            return Ok(secrets);
        }
        Err(StateError::WrongKey {
            path: at.to_string(),
            stored: sealed.key_id.clone(),
            given: given.unwrap_or_default(),
        })
    }

    fn derive(&mut self, which: Which, kdf: &KdfParams) -> Result<([u8; 32], String), StateError> {
        if let Some(d) = self
            .derived
            .iter()
            .find(|d| d.which == which && &d.kdf == kdf)
        {
            return Ok((d.key, d.id.clone()));
        }
        let pass = match which {
            Which::Current => self.keys.current.as_ref(),
            Which::Old => self.keys.old.as_ref(),
        }
        .ok_or_else(|| StateError::Key("no key given".into()))?;
        let salt = hex::decode(&kdf.salt).map_err(|_| StateError::Key("salt is not hex".into()))?;
        let params = argon2::Params::new(kdf.m_cost, kdf.t_cost, kdf.p_cost, Some(32))
            .map_err(|e| StateError::Key(format!("argon2 parameters: {e}")))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut key = [0u8; 32];
        argon
            .hash_password_into(&pass.0, &salt, &mut key)
            .map_err(|e| StateError::Key(format!("argon2: {e}")))?;
        let id = key_id(&key);
        self.derived.push(Derived {
            which,
            kdf: kdf.clone(),
            key,
            id: id.clone(),
        });
        Ok((key, id))
    }
}

fn check_kdf(k: &KdfParams) -> Result<(), String> {
    if k.alg != KDF {
        return Err(format!("unknown key derivation {:?}", k.alg));
    }
    if k.m_cost > MAX_M_COST || k.t_cost > MAX_T_COST || k.p_cost == 0 || k.p_cost > 16 {
        return Err("key derivation costs out of bounds".into());
    }
    match hex::decode(&k.salt) {
        Ok(s) if s.len() >= 16 => Ok(()),
        _ => Err("salt is not at least 16 bytes of hex".into()),
    }
}

fn aad(lineage: &str) -> Vec<u8> {
    let mut a = AAD_PREFIX.to_vec();
    a.extend_from_slice(lineage.as_bytes());
    a
}

fn key_id(key: &[u8; 32]) -> String {
    let mut h = Sha256::new();
    h.update(KEY_ID_PREFIX);
    h.update(key);
    hex::encode(&h.finalize()[..8])
}

fn random<const N: usize>() -> [u8; N] {
    use rand_core::{OsRng, RngCore, TryRngCore};
    let mut b = [0u8; N];
    OsRng.unwrap_err().fill_bytes(&mut b);
    b
}

fn invalid(at: &str, e: impl std::fmt::Display) -> StateError {
    StateError::Invalid {
        path: at.to_string(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_with_secret() -> State {
        let mut s = State::empty();
        s.lineage = "0000-lineage".into();
        s.serial = 3;
        s.secrets
            .insert("a--b/0".into(), Secret::new("PskValue1234567890abc".into()));
        s
    }

    fn keys(k: &str) -> Keys {
        Keys::with(Passphrase::new(k))
    }

    #[test]
    fn sealed_round_trip_hides_the_secret_and_reuses_the_salt() {
        let s = state_with_secret();
        let mut c = Codec::new(keys("correct horse"), true);
        let a = c.encode(&s, "t").unwrap();
        let text = String::from_utf8(a.clone()).unwrap();
        assert!(!text.contains("PskValue1234567890abc"), "{text}");
        assert!(text.contains(SEALED_FIELD));
        let mut reader = Codec::new(keys("correct horse"), true);
        assert_eq!(reader.decode(&a, "t").unwrap(), s);
        // A second seal by the reader keeps the salt (one derivation per run), new nonce.
        let b = reader.encode(&s, "t").unwrap();
        let sa: serde_json::Value = serde_json::from_slice(&a).unwrap();
        let sb: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert_eq!(sa[SEALED_FIELD]["kdf"], sb[SEALED_FIELD]["kdf"]);
        assert_ne!(sa[SEALED_FIELD]["nonce"], sb[SEALED_FIELD]["nonce"]);
    }

    #[test]
    fn wrong_key_is_named_as_such_and_a_flipped_byte_as_tampering() {
        let s = state_with_secret();
        let bytes = Codec::new(keys("one"), false).encode(&s, "t").unwrap();
        let e = Codec::new(keys("two"), false)
            .decode(&bytes, "t")
            .unwrap_err();
        assert!(matches!(e, StateError::WrongKey { .. }), "{e}");
        assert!(e.to_string().contains(OLD_KEY_VAR), "{e}");
        assert!(!e.to_string().contains("two"), "{e}");
        let mut doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let ct = doc[SEALED_FIELD]["ciphertext"]
            .as_str()
            .unwrap()
            .to_string();
        let flipped = format!("{}{}", if &ct[..1] == "0" { "1" } else { "0" }, &ct[1..]);
        doc[SEALED_FIELD]["ciphertext"] = flipped.into();
        let e = Codec::new(keys("one"), false)
            .decode(doc.to_string().as_bytes(), "t")
            .unwrap_err();
        assert!(matches!(e, StateError::Tampered { .. }), "{e}");
        // Moving the seal to another lineage fails too (the lineage is authenticated).
        let mut doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        doc["lineage"] = "other".into();
        let e = Codec::new(keys("one"), false)
            .decode(doc.to_string().as_bytes(), "t")
            .unwrap_err();
        assert!(matches!(e, StateError::Tampered { .. }), "{e}");
    }

    #[test]
    fn shared_backend_without_a_key_refuses_secrets_but_not_an_empty_map() {
        let mut c = Codec::new(Keys::none(), true);
        let e = c.encode(&state_with_secret(), "etcd://x/k").unwrap_err();
        assert!(e.to_string().contains(KEY_VAR), "{e}");
        assert!(c.encode(&State::empty(), "etcd://x/k").is_ok());
        // A local file without a key keeps the old clear format.
        let bytes = Codec::plain().encode(&state_with_secret(), "f").unwrap();
        assert!(String::from_utf8(bytes)
            .unwrap()
            .contains("PskValue1234567890abc"));
    }

    #[test]
    fn sealed_document_without_any_key_names_the_variable() {
        let bytes = Codec::new(keys("k"), false)
            .encode(&state_with_secret(), "f")
            .unwrap();
        let e = Codec::plain().decode(&bytes, "f").unwrap_err();
        assert!(matches!(e, StateError::KeyRequired { .. }), "{e}");
        let e = State::from_json("f", std::str::from_utf8(&bytes).unwrap()).unwrap_err();
        assert!(matches!(e, StateError::Sealed { .. }), "{e}");
    }

    #[test]
    fn rotation_reads_with_the_old_key_and_seals_with_the_new_one() {
        let s = state_with_secret();
        let old_bytes = Codec::new(keys("old"), false).encode(&s, "f").unwrap();
        let mut rot = Codec::new(
            Keys {
                current: Some(Passphrase::new("new")),
                old: Some(Passphrase::new("old")),
            },
            false,
        );
        assert_eq!(rot.decode(&old_bytes, "f").unwrap(), s);
        let new_bytes = rot.encode(&s, "f").unwrap();
        assert_eq!(
            Codec::new(keys("new"), false)
                .decode(&new_bytes, "f")
                .unwrap(),
            s
        );
        let e = Codec::new(keys("old"), false)
            .decode(&new_bytes, "f")
            .unwrap_err();
        assert!(matches!(e, StateError::WrongKey { .. }), "{e}");
    }

    #[test]
    fn keys_come_from_a_value_or_a_file_never_both() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("k");
        std::fs::write(&f, "file passphrase\n").unwrap();
        let fp = f.display().to_string();
        let k = Keys::from_env(|v| (v == KEY_FILE_VAR).then(|| fp.clone())).unwrap();
        assert_eq!(k.current.unwrap().0, b"file passphrase");
        let e = Keys::from_env(|v| match v {
            KEY_VAR => Some("x".into()),
            KEY_FILE_VAR => Some(fp.clone()),
            _ => None,
        })
        .unwrap_err();
        assert!(e.to_string().contains("both"), "{e}");
        assert!(format!("{:?}", Keys::with(Passphrase::new("hidden"))).contains("***"));
    }
}
