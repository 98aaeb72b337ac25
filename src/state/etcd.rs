//! The state document in etcd v3 (`etcd-client`): one key holds the whole JSON document; the
//! version is the key's `mod_revision` (0: no key yet), and a write is a transaction that puts
//! only if the key's `mod_revision` is still the one read. Connection options mirror etcdctl's
//! (`--cacert`, `--cert`, `--key`, `--user`, `--password`).

use super::backend::{Backend, Holder, Version};
use super::crypt::Codec;
use super::lease_lock::LeaseLock;
use super::{State, StateError};
use crate::cloud::Cloud;
use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, Identity, TlsOptions, Txn, TxnOp,
    TxnOpResponse, WatchOptions,
};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

/// Where one state document lives in etcd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdLocation {
    /// `HOST:PORT`, one or more.
    pub endpoints: Vec<String>,
    /// The key, leading slash included (`/peerctl/prod`).
    pub key: String,
}

impl EtcdLocation {
    /// Parses `etcd://HOST:PORT[,HOST:PORT…]/KEY`; the key is the URL's path, leading slash
    /// included.
    pub fn parse(spec: &str) -> Result<EtcdLocation, StateError> {
        let bad = |m: &str| StateError::Spec {
            spec: spec.to_string(),
            message: m.to_string(),
        };
        let rest = spec
            .strip_prefix("etcd://")
            .ok_or_else(|| bad("an etcd location starts with etcd://"))?;
        let slash = rest
            .find('/')
            .ok_or_else(|| bad("no key: use etcd://HOST:PORT/KEY"))?;
        let (authority, key) = rest.split_at(slash);
        if key.len() < 2 {
            return Err(bad("the key (the URL's path) is empty"));
        }
        if authority.contains('@') {
            return Err(bad(
                "credentials do not go in the URL: use PEERCTL_ETCD_USER and PEERCTL_ETCD_PASSWORD",
            ));
        }
        let endpoints: Vec<String> = authority.split(',').map(str::to_string).collect();
        for e in &endpoints {
            let ok = e
                .rsplit_once(':')
                .is_some_and(|(h, p)| !h.is_empty() && p.parse::<u16>().is_ok());
            if !ok {
                return Err(bad(&format!("endpoint {e:?} is not HOST:PORT")));
            }
        }
        Ok(EtcdLocation {
            endpoints,
            key: key.to_string(),
        })
    }

    /// The location as given (`etcd://…`).
    pub fn describe(&self) -> String {
        format!("etcd://{}{}", self.endpoints.join(","), self.key)
    }
}

/// How to reach etcd: TLS and authentication as etcdctl takes them.
#[derive(Clone, Default)]
pub struct EtcdOptions {
    /// CA bundle (PEM) that signed the servers' certificates; turns TLS on.
    pub ca_file: Option<PathBuf>,
    /// Client certificate and key (PEM) for mutual TLS.
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub user: Option<String>,
    pub password: Option<String>,
    /// Default 5 s.
    pub connect_timeout: Option<Duration>,
    /// Per request; default 30 s.
    pub request_timeout: Option<Duration>,
}

impl std::fmt::Debug for EtcdOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdOptions")
            .field("ca_file", &self.ca_file)
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .finish()
    }
}

/// The variables [`EtcdOptions::from_env`] reads, each with the etcdctl one it falls back to.
pub const ENV: [(&str, &str); 5] = [
    ("PEERCTL_ETCD_CACERT", "ETCDCTL_CACERT"),
    ("PEERCTL_ETCD_CERT", "ETCDCTL_CERT"),
    ("PEERCTL_ETCD_KEY", "ETCDCTL_KEY"),
    ("PEERCTL_ETCD_USER", "ETCDCTL_USER"),
    ("PEERCTL_ETCD_PASSWORD", "ETCDCTL_PASSWORD"),
];

impl EtcdOptions {
    /// The options from `PEERCTL_ETCD_*` (or etcdctl's `ETCDCTL_*`), read through `var`. A
    /// user given as `NAME:PASSWORD` (etcdctl's `--user` form) is split.
    pub fn from_env(var: impl Fn(&str) -> Option<String>) -> Result<EtcdOptions, StateError> {
        let get = |i: usize| {
            let (ours, theirs) = ENV[i];
            var(ours).or_else(|| var(theirs)).filter(|v| !v.is_empty())
        };
        let mut o = EtcdOptions {
            ca_file: get(0).map(PathBuf::from),
            cert_file: get(1).map(PathBuf::from),
            key_file: get(2).map(PathBuf::from),
            user: get(3),
            password: get(4),
            ..EtcdOptions::default()
        };
        if let Some(u) = o.user.clone() {
            if let Some((name, pass)) = u.split_once(':') {
                if o.password.is_some() {
                    return Err(StateError::Key(
                        "the etcd password is given twice (in PEERCTL_ETCD_USER and PEERCTL_ETCD_PASSWORD)"
                            .into(),
                    ));
                }
                o.user = Some(name.to_string());
                o.password = Some(pass.to_string());
            }
        }
        if o.cert_file.is_some() != o.key_file.is_some() {
            return Err(StateError::Key(
                "a client certificate needs its key: set both PEERCTL_ETCD_CERT and PEERCTL_ETCD_KEY"
                    .into(),
            ));
        }
        if o.password.is_some() && o.user.is_none() {
            return Err(StateError::Key(
                "PEERCTL_ETCD_PASSWORD without PEERCTL_ETCD_USER".into(),
            ));
        }
        Ok(o)
    }

    fn tls(&self) -> bool {
        self.ca_file.is_some() || self.cert_file.is_some()
    }
}

/// One state document in etcd.
pub struct Etcd {
    client: Client,
    location: EtcdLocation,
    codec: Codec,
    /// The per-cloud writer locks this run holds ([`Etcd::lock`]); every write is fenced by
    /// them.
    lock: Option<LeaseLock>,
}

fn read_pem(what: &str, path: &PathBuf) -> Result<Vec<u8>, StateError> {
    std::fs::read(path).map_err(|e| {
        StateError::Key(format!(
            "cannot read the etcd {what} {}: {e}",
            path.display()
        ))
    })
}

impl Etcd {
    /// Connects (nothing is read yet). `codec` should be shared (secrets in clear refused).
    pub async fn connect(
        location: EtcdLocation,
        options: &EtcdOptions,
        codec: Codec,
    ) -> Result<Etcd, StateError> {
        let at = location.describe();
        let mut connect = ConnectOptions::new()
            .with_connect_timeout(options.connect_timeout.unwrap_or(Duration::from_secs(5)))
            .with_timeout(options.request_timeout.unwrap_or(Duration::from_secs(30)));
        if let Some(user) = &options.user {
            connect = connect.with_user(user.clone(), options.password.clone().unwrap_or_default());
        }
        let scheme = if options.tls() {
            let mut tls = TlsOptions::new();
            if let Some(ca) = &options.ca_file {
                tls = tls.ca_certificate(Certificate::from_pem(read_pem("CA bundle", ca)?));
            }
            if let (Some(c), Some(k)) = (&options.cert_file, &options.key_file) {
                tls = tls.identity(Identity::from_pem(
                    read_pem("client certificate", c)?,
                    read_pem("client key", k)?,
                ));
            }
            connect = connect.with_tls(tls);
            "https"
        } else {
            "http"
        };
        let urls: Vec<String> = location
            .endpoints
            .iter()
            .map(|e| format!("{scheme}://{e}"))
            .collect();
        let client = Client::connect(urls, Some(connect))
            .await
            .map_err(|e| backend_err(&at, e))?;
        Ok(Etcd {
            client,
            location,
            codec,
            lock: None,
        })
    }

    /// Takes the writer locks of `clouds` for this run ([`LeaseLock`]), waiting up to
    /// `timeout` for another holder to finish. From then on every write is fenced by them.
    pub async fn lock(
        &mut self,
        clouds: &BTreeSet<Cloud>,
        holder: &Holder,
        timeout: Duration,
    ) -> Result<(), StateError> {
        let at = self.describe();
        let lock = LeaseLock::acquire(
            &self.client,
            &at,
            &self.location.key,
            clouds,
            holder,
            timeout,
        )
        .await?;
        self.lock = Some(lock);
        Ok(())
    }

    /// The raw stored value (tests and diagnostics: what an etcd reader sees).
    pub async fn raw(&mut self) -> Result<Option<Vec<u8>>, StateError> {
        let at = self.describe();
        let resp = self
            .client
            .get(self.location.key.as_bytes(), None)
            .await
            .map_err(|e| backend_err(&at, e))?;
        Ok(resp.kvs().first().map(|kv| kv.value().to_vec()))
    }
}

fn backend_err(at: &str, e: etcd_client::Error) -> StateError {
    StateError::Backend {
        at: at.to_string(),
        message: e.to_string(),
    }
}

fn revision(r: i64) -> u64 {
    u64::try_from(r).unwrap_or(0)
}

#[async_trait::async_trait]
impl Backend for Etcd {
    fn describe(&self) -> String {
        self.location.describe()
    }

    fn shared(&self) -> bool {
        true
    }

    async fn read(&mut self) -> Result<(State, Version), StateError> {
        let at = self.describe();
        let resp = self
            .client
            .get(self.location.key.as_bytes(), None)
            .await
            .map_err(|e| backend_err(&at, e))?;
        match resp.kvs().first() {
            None => Ok((State::empty(), Version(0))),
            Some(kv) => {
                let state = self.codec.decode(kv.value(), &at)?;
                Ok((state, Version(revision(kv.mod_revision()))))
            }
        }
    }

    async fn write(&mut self, state: &State, expected: Version) -> Result<Version, StateError> {
        let at = self.describe();
        let bytes = self.codec.encode(state, &at)?;
        let key = self.location.key.as_bytes().to_vec();
        let expected_rev = i64::try_from(expected.0).map_err(|_| StateError::Conflict {
            path: at.clone(),
            expected: expected.0,
            found: 0,
        })?;
        let mut when = vec![Compare::mod_revision(
            key.clone(),
            CompareOp::Equal,
            expected_rev,
        )];
        let mut otherwise = vec![TxnOp::get(key.clone(), None)];
        if let Some(lock) = &self.lock {
            when.extend(lock.fence());
            otherwise.extend(lock.reads());
        }
        let txn = Txn::new()
            .when(when)
            .and_then([TxnOp::put(key, bytes, None)])
            .or_else(otherwise);
        let resp = self
            .client
            .txn(txn)
            .await
            .map_err(|e| backend_err(&at, e))?;
        if resp.succeeded() {
            let rev = resp.header().map(|h| h.revision()).unwrap_or_default();
            return Ok(Version(revision(rev)));
        }
        if let Some(lock) = &self.lock {
            if lock.lost_in(resp.op_responses().as_slice()) {
                return Err(StateError::LockLost { path: at });
            }
        }
        let found = resp
            .op_responses()
            .into_iter()
            .find_map(|r| match r {
                TxnOpResponse::Get(g) => Some(g.kvs().first().map_or(0, |kv| kv.mod_revision())),
                _ => None,
            })
            .unwrap_or_default();
        Err(StateError::Conflict {
            path: at,
            expected: expected.0,
            found: revision(found),
        })
    }

    async fn close(&mut self) {
        if let Some(lock) = self.lock.take() {
            lock.release().await;
        }
    }

    async fn wait_for_change(
        &mut self,
        seen: Version,
        timeout: Duration,
    ) -> Result<bool, StateError> {
        let at = self.describe();
        let start = i64::try_from(seen.0.saturating_add(1)).unwrap_or(i64::MAX);
        let wait = async {
            // Already changed: no watch needed (also covers a history compacted away).
            let now = self
                .client
                .get(self.location.key.as_bytes(), None)
                .await
                .map_err(|e| backend_err(&at, e))?;
            let current = now.kvs().first().map_or(0, |kv| kv.mod_revision());
            if revision(current) != seen.0 {
                return Ok(true);
            }
            let mut stream = self
                .client
                .watch(
                    self.location.key.as_bytes(),
                    Some(WatchOptions::new().with_start_revision(start)),
                )
                .await
                .map_err(|e| backend_err(&at, e))?;
            loop {
                match stream.message().await.map_err(|e| backend_err(&at, e))? {
                    Some(m) if !m.events().is_empty() => return Ok(true),
                    // Compacted past `seen`: the key changed at some point after it.
                    Some(m) if m.compact_revision() > 0 => return Ok(true),
                    Some(m) if m.canceled() => {
                        return Err(StateError::Backend {
                            at: at.clone(),
                            message: format!("watch cancelled: {}", m.cancel_reason()),
                        })
                    }
                    Some(_) => continue,
                    None => {
                        return Err(StateError::Backend {
                            at: at.clone(),
                            message: "watch ended".into(),
                        })
                    }
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(r) => r,
            Err(_) => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_with_the_leading_slash_in_the_key() {
        let l = EtcdLocation::parse("etcd://127.0.0.1:2379/peerctl/prod").unwrap();
        assert_eq!(l.endpoints, vec!["127.0.0.1:2379"]);
        assert_eq!(l.key, "/peerctl/prod");
        assert_eq!(l.describe(), "etcd://127.0.0.1:2379/peerctl/prod");
        let l = EtcdLocation::parse("etcd://a:1,b:2/k").unwrap();
        assert_eq!(l.endpoints, vec!["a:1", "b:2"]);
        for bad in [
            "etcd://127.0.0.1:2379",
            "etcd://127.0.0.1:2379/",
            "etcd://host/k",
            "etcd://u:p@h:1/k",
            "http://h:1/k",
        ] {
            assert!(EtcdLocation::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn options_follow_etcdctl_and_hide_the_password() {
        let o = EtcdOptions::from_env(|v| match v {
            "ETCDCTL_USER" => Some("root:Sekret-pass".into()),
            "PEERCTL_ETCD_CACERT" => Some("/ca.pem".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(o.user.as_deref(), Some("root"));
        assert_eq!(o.password.as_deref(), Some("Sekret-pass"));
        assert!(o.tls());
        assert!(!format!("{o:?}").contains("Sekret"));
        let e = EtcdOptions::from_env(|v| (v == "PEERCTL_ETCD_CERT").then(|| "/c.pem".into()))
            .unwrap_err();
        assert!(e.to_string().contains("PEERCTL_ETCD_KEY"), "{e}");
    }
}
