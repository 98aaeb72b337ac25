//! The etcd state backend, the CAS loop and secrets encrypted at rest, against a real etcd:
//! the one tests/run starts and names in PEERCTL_TEST_ETCD (these tests fail, never skip,
//! without it). Every test works on keys of its own under a random prefix.

use peerctl::cloud::Cloud;
use peerctl::plan::resource::Kind;
use peerctl::state::backend::{Backend, Version};
use peerctl::state::crypt::{Keys, Passphrase, KEY_VAR, OLD_KEY_VAR};
use peerctl::state::etcd::{Etcd, EtcdLocation, EtcdOptions};
use peerctl::state::open::{self, Location, OpenOptions};
use peerctl::state::shared::{update, Merging};
use peerctl::state::{ResourceState, Secret, State, StateError};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The etcd endpoint of the test run (`HOST:PORT`).
pub fn etcd_endpoint() -> String {
    match std::env::var("PEERCTL_TEST_ETCD") {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "PEERCTL_TEST_ETCD is not set: run the tests with tests/run, which starts a real etcd \
             (Debian package etcd-server) and exports its endpoint, or start etcd yourself and \
             set PEERCTL_TEST_ETCD=127.0.0.1:PORT"
        ),
    }
}

/// A fresh key location for one test: `etcd://ENDPOINT/peerctl-test/<random>/<name>`.
pub fn fresh_location(name: &str) -> String {
    use rand_core::{OsRng, RngCore, TryRngCore};
    let mut b = [0u8; 8];
    OsRng.unwrap_err().fill_bytes(&mut b);
    format!(
        "etcd://{}/peerctl-test/{}/{name}",
        etcd_endpoint(),
        hex::encode(b)
    )
}

fn location(spec: &str) -> EtcdLocation {
    EtcdLocation::parse(spec).unwrap()
}

async fn raw_etcd(spec: &str, keys: Keys) -> Etcd {
    Etcd::connect(
        location(spec),
        &EtcdOptions::default(),
        peerctl::state::crypt::Codec::new(keys, true),
    )
    .await
    .unwrap()
}

fn opts(keys: Keys) -> OpenOptions {
    OpenOptions {
        command: "test".into(),
        keys,
        ..OpenOptions::default()
    }
}

fn key(k: &str) -> Keys {
    Keys::with(Passphrase::new(k))
}

fn resource(cloud: Cloud, id: &str) -> ResourceState {
    let kind = *Kind::ALL.iter().find(|k| k.cloud() == cloud).unwrap();
    ResourceState {
        kind,
        cloud,
        name: id.into(),
        id: id.into(),
        region: "r".into(),
        network: None,
        link: None,
        attributes: BTreeMap::new(),
        outputs: BTreeMap::from([("ip".to_string(), format!("ip-of-{id}"))]),
        depends_on: vec![],
    }
}

const PSK: &str = "ClearPskNeverStored0123";

#[tokio::test]
async fn writes_are_transactions_on_the_mod_revision_and_a_stale_writer_is_refused() {
    let spec = fresh_location("cas");
    let mut a = raw_etcd(&spec, Keys::none()).await;
    let mut b = raw_etcd(&spec, Keys::none()).await;
    let (s0, v0) = a.read().await.unwrap();
    assert!(s0.is_empty());
    assert_eq!(v0, Version(0), "no key yet: version 0");
    let (_, vb) = b.read().await.unwrap();

    let mut s1 = s0.clone();
    s1.lineage = "lin".into();
    s1.serial = 1;
    let v1 = a.write(&s1, v0).await.unwrap();
    assert!(v1.0 > 0);
    let (read, rv) = b.read().await.unwrap();
    assert_eq!((read, rv), (s1.clone(), v1));

    // b still holds version 0: its write is refused and names both versions.
    let mut s2 = s1.clone();
    s2.serial = 2;
    let e = b.write(&s2, vb).await.unwrap_err();
    match &e {
        StateError::Conflict {
            expected, found, ..
        } => {
            assert_eq!(*expected, 0);
            assert_eq!(*found, v1.0);
        }
        other => panic!("expected a conflict, got {other}"),
    }
    assert!(e.to_string().contains("nothing was overwritten"), "{e}");
    assert_eq!(
        a.read().await.unwrap().0,
        s1,
        "the refused write changed nothing"
    );
    // With the version it re-read, it goes through.
    let v2 = b.write(&s2, v1).await.unwrap();
    assert!(v2.0 > v1.0);
}

/// N writers on one key, M fetch → modify → CAS updates each: every update survives.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cas_stress_n_concurrent_writers_m_updates_each_lose_nothing() {
    const N: usize = 8;
    const M: usize = 25;
    let spec = fresh_location("stress");
    let mut tasks = Vec::new();
    for w in 0..N {
        let spec = spec.clone();
        tasks.push(tokio::spawn(async move {
            let mut etcd = raw_etcd(&spec, Keys::none()).await;
            let mut retries = 0usize;
            for j in 0..M {
                let mut calls = 0usize;
                update(&mut etcd, |s| {
                    calls += 1;
                    s.resources.insert(
                        format!("w{w}-{j}"),
                        resource(Cloud::Aws, &format!("{w}-{j}")),
                    );
                    Ok(())
                })
                .await
                .unwrap();
                retries += calls - 1;
            }
            retries
        }));
    }
    let mut retries = 0;
    for t in tasks {
        retries += t.await.unwrap();
    }
    let (s, _) = raw_etcd(&spec, Keys::none()).await.read().await.unwrap();
    assert_eq!(s.resources.len(), N * M, "every update is in the document");
    for w in 0..N {
        for j in 0..M {
            assert!(s.resources.contains_key(&format!("w{w}-{j}")), "w{w}-{j}");
        }
    }
    assert_eq!(s.serial, (N * M) as u64, "one serial per successful write");
    assert!(
        retries > 0,
        "the writers never collided: the test proves nothing"
    );
    println!("{N} writers × {M} updates: {retries} lost compare-and-swaps retried");
}

/// Runners writing through `Merging` (what apply does) on one key at the same time: each
/// one's resources and the first writer's secrets survive.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn merging_runners_keep_each_others_resources_and_the_first_key() {
    let spec = fresh_location("merge");
    let clouds = [Cloud::Aws, Cloud::Gcp, Cloud::Azure];
    let mut tasks = Vec::new();
    for (i, cloud) in clouds.into_iter().enumerate() {
        let spec = spec.clone();
        tasks.push(tokio::spawn(async move {
            let o = OpenOptions {
                owned: Some(BTreeSet::from([cloud])),
                ..opts(key("shared passphrase"))
            };
            let mut b = open::open(&Location::parse(&spec).unwrap(), &o)
                .await
                .unwrap();
            let (mut s, mut v) = b.read().await.unwrap();
            s.lineage = "lin".into();
            s.secrets
                .insert("l/0".into(), Secret::new(format!("Runner{i}Key0123456789")));
            v = b.write(&s, v).await.unwrap();
            for j in 0..10 {
                s.resources.insert(
                    format!("{cloud}.r{j}"),
                    resource(cloud, &format!("{cloud}-{j}")),
                );
                v = b.write(&s, v).await.unwrap();
            }
            v
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let (s, _) = raw_etcd(&spec, key("shared passphrase"))
        .await
        .read()
        .await
        .unwrap();
    assert_eq!(s.resources.len(), 30, "{:?}", s.resources.keys());
    assert_eq!(s.secrets.len(), 1);
    let k = s.secrets["l/0"].expose();
    assert!(
        k.starts_with("Runner") && k.ends_with("Key0123456789"),
        "one runner's key"
    );
}

#[tokio::test]
async fn a_merging_runner_never_writes_another_clouds_resources() {
    let spec = fresh_location("owned");
    let loc = Location::parse(&spec).unwrap();
    let mut gcp = open::open(
        &loc,
        &OpenOptions {
            owned: Some(BTreeSet::from([Cloud::Gcp])),
            ..opts(Keys::none())
        },
    )
    .await
    .unwrap();
    let mut aws = Merging::new(
        Box::new(raw_etcd(&spec, Keys::none()).await),
        Some(BTreeSet::from([Cloud::Aws])),
    );
    let (mut sg, vg) = gcp.read().await.unwrap();
    let (mut sa, va) = aws.read().await.unwrap();
    sa.resources
        .insert("aws.x".into(), resource(Cloud::Aws, "i-1"));
    aws.write(&sa, va).await.unwrap();
    // The GCP runner's stale view has its own resource and a made-up AWS one.
    sg.resources
        .insert("gcp.y".into(), resource(Cloud::Gcp, "g-1"));
    sg.resources
        .insert("aws.x".into(), resource(Cloud::Aws, "forged"));
    gcp.write(&sg, vg).await.unwrap();
    let (s, _) = raw_etcd(&spec, Keys::none()).await.read().await.unwrap();
    assert_eq!(s.resources["aws.x"].id, "i-1");
    assert_eq!(s.resources["gcp.y"].id, "g-1");
    assert_eq!(aws.latest().map(|l| l.resources.len()), Some(1));
}

#[tokio::test]
async fn secrets_are_sealed_in_etcd_and_a_shared_state_without_a_key_refuses_them() {
    let spec = fresh_location("sealed");
    let loc = Location::parse(&spec).unwrap();
    // Without a key: refused, naming the variable, and nothing is stored.
    let mut b = open::open(&loc, &opts(Keys::none())).await.unwrap();
    let e = update(&mut *b, |s| {
        s.secrets.insert("l/0".into(), Secret::new(PSK.into()));
        Ok(())
    })
    .await
    .unwrap_err();
    assert!(matches!(e, StateError::SecretsNeedKey { .. }), "{e}");
    assert!(e.to_string().contains(KEY_VAR), "{e}");
    assert!(!e.to_string().contains(PSK));
    assert_eq!(
        raw_etcd(&spec, Keys::none()).await.raw().await.unwrap(),
        None
    );

    // With a key: the stored value never holds the key in clear; it reads back.
    let mut b = open::open(&loc, &opts(key("pass one"))).await.unwrap();
    let (written, _) = update(&mut *b, |s| {
        s.lineage = "lin".into();
        s.secrets.insert("l/0".into(), Secret::new(PSK.into()));
        Ok(())
    })
    .await
    .unwrap();
    let raw = raw_etcd(&spec, Keys::none())
        .await
        .raw()
        .await
        .unwrap()
        .unwrap();
    let raw = String::from_utf8(raw).unwrap();
    assert!(!raw.contains(PSK), "{raw}");
    assert!(raw.contains("sealed_secrets"), "{raw}");
    assert!(!raw.contains("pass one"));
    assert_eq!(
        open::read(&loc, &opts(key("pass one"))).await.unwrap(),
        written
    );
    let e = open::read(&loc, &opts(Keys::none())).await.unwrap_err();
    assert!(matches!(e, StateError::KeyRequired { .. }), "{e}");
}

#[tokio::test]
async fn a_wrong_key_is_a_clear_error_and_nothing_is_written() {
    let spec = fresh_location("wrong");
    let loc = Location::parse(&spec).unwrap();
    let mut b = open::open(&loc, &opts(key("right key"))).await.unwrap();
    update(&mut *b, |s| {
        s.lineage = "lin".into();
        s.secrets.insert("l/0".into(), Secret::new(PSK.into()));
        Ok(())
    })
    .await
    .unwrap();
    let before = raw_etcd(&spec, Keys::none()).await.raw().await.unwrap();
    let mut wrong = open::open(&loc, &opts(key("wrong key"))).await.unwrap();
    let e = update(&mut *wrong, |s| {
        s.resources
            .insert("aws.x".into(), resource(Cloud::Aws, "i-1"));
        Ok(())
    })
    .await
    .unwrap_err();
    assert!(matches!(e, StateError::WrongKey { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains(OLD_KEY_VAR) && msg.contains("nothing was written"),
        "{msg}"
    );
    assert!(!msg.contains("wrong key") && !msg.contains("right key") && !msg.contains(PSK));
    assert_eq!(
        raw_etcd(&spec, Keys::none()).await.raw().await.unwrap(),
        before
    );
}

#[tokio::test]
async fn a_rotated_key_is_detected_and_the_old_one_re_encrypts() {
    let spec = fresh_location("rotate");
    let loc = Location::parse(&spec).unwrap();
    let mut b = open::open(&loc, &opts(key("2025 key"))).await.unwrap();
    let (written, _) = update(&mut *b, |s| {
        s.lineage = "lin".into();
        s.secrets.insert("l/0".into(), Secret::new(PSK.into()));
        Ok(())
    })
    .await
    .unwrap();
    let sealed_id = |raw: Vec<u8>| {
        let v: serde_json::Value = serde_json::from_slice(&raw).unwrap();
        v["sealed_secrets"]["key_id"].as_str().unwrap().to_string()
    };
    let id_before = sealed_id(
        raw_etcd(&spec, Keys::none())
            .await
            .raw()
            .await
            .unwrap()
            .unwrap(),
    );
    // The new key alone: detected as another key, pointing at the old-key variable.
    let e = open::read(&loc, &opts(key("2026 key"))).await.unwrap_err();
    assert!(matches!(e, StateError::WrongKey { .. }), "{e}");
    // New and old: read with the old, re-encrypted under the new.
    let rotating = Keys {
        current: Some(Passphrase::new("2026 key")),
        old: Some(Passphrase::new("2025 key")),
    };
    let mut b = open::open(&loc, &opts(rotating)).await.unwrap();
    let re = open::reencrypt(&mut *b).await.unwrap();
    assert_eq!(re.secrets, written.secrets);
    let id_after = sealed_id(
        raw_etcd(&spec, Keys::none())
            .await
            .raw()
            .await
            .unwrap()
            .unwrap(),
    );
    assert_ne!(id_before, id_after);
    assert_eq!(
        open::read(&loc, &opts(key("2026 key")))
            .await
            .unwrap()
            .secrets,
        written.secrets
    );
    let e = open::read(&loc, &opts(key("2025 key"))).await.unwrap_err();
    assert!(matches!(e, StateError::WrongKey { .. }), "{e}");
}

#[tokio::test]
async fn a_local_state_file_with_a_key_holds_no_clear_key_and_stays_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".peerctl/state.json");
    let loc = Location::File(path.clone());
    let mut b = open::open(&loc, &opts(key("local key"))).await.unwrap();
    let (written, _) = update(&mut *b, |s| {
        s.lineage = "lin".into();
        s.secrets.insert("l/0".into(), Secret::new(PSK.into()));
        Ok(())
    })
    .await
    .unwrap();
    drop(b);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(PSK), "{text}");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(
        open::read(&loc, &opts(key("local key"))).await.unwrap(),
        written
    );
    // A plain reader (State::load, as older code paths use) refuses rather than seeing none.
    let e = State::load(&path).unwrap_err();
    assert!(matches!(e, StateError::Sealed { .. }), "{e}");
}

#[tokio::test]
async fn a_watch_sees_another_writer_and_times_out_when_nobody_writes() {
    let spec = fresh_location("watch");
    let loc = Location::parse(&spec).unwrap();
    let mut watcher = open::open(&loc, &opts(Keys::none())).await.unwrap();
    let (_, seen) = watcher.read().await.unwrap();
    let t0 = std::time::Instant::now();
    assert!(!watcher
        .wait_for_change(seen, Duration::from_millis(300))
        .await
        .unwrap());
    assert!(t0.elapsed() >= Duration::from_millis(300));
    let spec2 = spec.clone();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut w = raw_etcd(&spec2, Keys::none()).await;
        update(&mut w, |s| {
            s.lineage = "lin".into();
            Ok(())
        })
        .await
        .unwrap();
    });
    assert!(watcher
        .wait_for_change(seen, Duration::from_secs(20))
        .await
        .unwrap());
    writer.await.unwrap();
    // A change made before the wait started is seen at once (the watch starts after `seen`).
    assert!(watcher
        .wait_for_change(seen, Duration::from_millis(50))
        .await
        .unwrap());
}

#[tokio::test]
async fn an_unreachable_etcd_is_named_in_the_error() {
    // A port nothing listens on (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let spec = format!("etcd://127.0.0.1:{port}/peerctl/x");
    let o = OpenOptions {
        etcd: EtcdOptions {
            connect_timeout: Some(Duration::from_millis(500)),
            request_timeout: Some(Duration::from_secs(2)),
            ..EtcdOptions::default()
        },
        ..opts(Keys::none())
    };
    let e = open::read(&Location::parse(&spec).unwrap(), &o)
        .await
        .unwrap_err();
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
}

fn clouds(cs: &[Cloud]) -> BTreeSet<Cloud> {
    cs.iter().copied().collect()
}

fn holder(command: &str) -> peerctl::state::backend::Holder {
    peerctl::state::backend::Holder::me(command)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writer_locks_are_per_cloud_name_their_holder_and_a_dead_holders_lock_expires() {
    let spec = fresh_location("lock");
    let mut first = raw_etcd(&spec, Keys::none()).await;
    first
        .lock(
            &clouds(&[Cloud::Aws, Cloud::Gcp]),
            &holder("first runner"),
            Duration::ZERO,
        )
        .await
        .unwrap();
    // Another writer of GCP is refused at once, naming who holds it.
    let mut second = raw_etcd(&spec, Keys::none()).await;
    let e = second
        .lock(&clouds(&[Cloud::Gcp]), &holder("second"), Duration::ZERO)
        .await
        .unwrap_err();
    assert!(matches!(e, StateError::Locked { .. }), "{e}");
    let text = e.to_string();
    assert!(
        text.contains("`first runner`") && text.contains("gcp lock") && !text.contains("aws"),
        "{text}"
    );
    // Azure's lock is free: per-cloud runners of other clouds go on.
    let mut azure = raw_etcd(&spec, Keys::none()).await;
    azure
        .lock(&clouds(&[Cloud::Azure]), &holder("azure"), Duration::ZERO)
        .await
        .unwrap();
    // A writer of all three clouds gets none of them while any is held (no partial hold).
    let mut all = raw_etcd(&spec, Keys::none()).await;
    let e = all
        .lock(&clouds(&Cloud::ALL), &holder("all"), Duration::ZERO)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("azure lock"), "{e}");
    azure.close().await;

    // The first holder dies (no release): its locks go when its lease runs out.
    drop(first);
    let t0 = std::time::Instant::now();
    second
        .lock(
            &clouds(&[Cloud::Gcp]),
            &holder("second"),
            peerctl::state::lease_lock::TTL * 3,
        )
        .await
        .unwrap();
    assert!(
        t0.elapsed() < peerctl::state::lease_lock::TTL * 2,
        "a dead holder's lock outlived its lease: {:?}",
        t0.elapsed()
    );
    // A released lock is free at once.
    second.close().await;
    all.lock(&clouds(&Cloud::ALL), &holder("all"), Duration::ZERO)
        .await
        .unwrap();
    all.close().await;
}

#[tokio::test]
async fn a_holder_that_lost_its_lock_cannot_write() {
    let spec = fresh_location("fence");
    let mut holder_backend = raw_etcd(&spec, Keys::none()).await;
    holder_backend
        .lock(&clouds(&[Cloud::Aws]), &holder("paused"), Duration::ZERO)
        .await
        .unwrap();
    let (mut state, v) = holder_backend.read().await.unwrap();
    state.lineage = "fenced".into();
    let v = holder_backend.write(&state, v).await.unwrap();
    // Its lease is gone (it paused past the TTL; here, the lock key is deleted) and another
    // runner took the lock and wrote.
    let l = location(&spec);
    let mut client = etcd_client::Client::connect([etcd_endpoint()], None)
        .await
        .unwrap();
    client
        .delete(peerctl::state::lease_lock::key_of(&l.key, Cloud::Aws), None)
        .await
        .unwrap();
    let mut next = raw_etcd(&spec, Keys::none()).await;
    next.lock(&clouds(&[Cloud::Aws]), &holder("next"), Duration::ZERO)
        .await
        .unwrap();
    let (mut theirs, tv) = next.read().await.unwrap();
    theirs
        .resources
        .insert("a".into(), resource(Cloud::Aws, "theirs"));
    next.write(&theirs, tv).await.unwrap();
    // The old holder's write is refused, even against the version it read.
    state
        .resources
        .insert("a".into(), resource(Cloud::Aws, "stale"));
    let (_, now) = holder_backend.read().await.unwrap();
    let e = holder_backend.write(&state, now).await.unwrap_err();
    assert!(matches!(e, StateError::LockLost { .. }), "{e}");
    let e = holder_backend.write(&state, v).await.unwrap_err();
    assert!(
        matches!(e, StateError::LockLost { .. } | StateError::Conflict { .. }),
        "{e}"
    );
    let (stored, _) = next.read().await.unwrap();
    assert_eq!(stored.resources["a"].id, "theirs");
    next.close().await;
}
