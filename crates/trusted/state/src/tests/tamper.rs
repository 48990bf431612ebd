//! The host tampers with blobs: every read, scan and commit that needs a tampered node
//! fails with `BackendError::Integrity`, with no plaintext in the message, and nothing
//! panics.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use veil_engine::{BackendError, Order, Storage};

use super::*;
use crate::NodeSource;

type Rule = dyn Fn(&NodeId, Option<Vec<u8>>) -> Result<Option<Vec<u8>>, BackendError> + Send + Sync;

/// The host, with a rule rewriting what it answers.
struct Tampered {
    host: Host,
    rule: Arc<Rule>,
}

impl NodeSource for Tampered {
    fn fetch(&self, id: &NodeId) -> Result<Option<Vec<u8>>, BackendError> {
        let honest = self.host.read().unwrap().get(id).cloned();
        (self.rule)(id, honest)
    }
}

const SECRET: &[u8] = b"SECRET-PLAINTEXT";

fn secret_entries() -> BTreeMap<Vec<u8>, Vec<u8>> {
    (0..3000u32)
        .map(|i| {
            let mut v = SECRET.to_vec();
            v.extend_from_slice(&i.to_le_bytes());
            v.resize(120, b'.');
            (format!("SECRET-KEY-{i:05}").into_bytes(), v)
        })
        .collect()
}

/// Ids from the root to the leaf holding `key`.
fn path_to(host: &Host, root: NodeId, key: &[u8]) -> Vec<NodeId> {
    let st = VerifiedState::open(host.clone(), cipher(), Some(root));
    let mut ids = vec![root];
    let mut node = st.load(&root, None).unwrap();
    while !node.is_leaf() {
        let i = node.child_index(key).unwrap_or(0);
        ids.push(node.child(i));
        node = st.load_child(&node, i).unwrap();
    }
    ids
}

fn assert_integrity(result: Result<impl std::fmt::Debug, BackendError>, what: &str) {
    match result {
        Err(BackendError::Integrity(msg)) => {
            assert!(!msg.contains("SECRET"), "{what}: plaintext in error: {msg}");
        }
        other => panic!("{what}: expected an integrity error, got {other:?}"),
    }
}

/// Every way of touching `key` fails with an integrity error.
fn assert_detected(source: Tampered, root: NodeId, key: &[u8], what: &str) {
    let source = Arc::new(source);
    let open = || VerifiedState::open(source.clone(), cipher(), Some(root));
    assert_integrity(open().get(key), &format!("{what}: get"));
    for order in [Order::Ascending, Order::Descending] {
        assert_integrity(
            scan(&open(), &full(), order),
            &format!("{what}: scan {order:?}"),
        );
    }
    let range = veil_engine::KeyRange {
        start: Some(key.to_vec()),
        end: None,
    };
    assert_integrity(
        open().next_in_range(&range, Order::Ascending, None),
        &format!("{what}: seek"),
    );
    let mut st = open();
    st.set(key, b"new value").unwrap();
    assert_integrity(st.commit(), &format!("{what}: commit"));
}

struct Fixture {
    host: Host,
    root: NodeId,
    key: Vec<u8>,
    path: Vec<NodeId>,
}

fn fixture() -> Fixture {
    // Built once; every test gets its own copy of the host's store.
    static TREE: std::sync::OnceLock<(HashMap<NodeId, Vec<u8>>, NodeId)> =
        std::sync::OnceLock::new();
    let (blobs, root) = TREE.get_or_init(|| {
        let host = Host::default();
        let root = build(&host, &secret_entries()).unwrap();
        let blobs = host.read().unwrap().clone();
        (blobs, root)
    });
    let (host, root) = (Host::new(RwLock::new(blobs.clone())), *root);
    let key = b"SECRET-KEY-01234".to_vec();
    let path = path_to(&host, root, &key);
    assert!(path.len() >= 3, "want a tree with internal levels");
    Fixture {
        host,
        root,
        key,
        path,
    }
}

fn rule(
    f: impl Fn(&NodeId, Option<Vec<u8>>) -> Result<Option<Vec<u8>>, BackendError>
        + Send
        + Sync
        + 'static,
) -> Arc<Rule> {
    Arc::new(f)
}

#[test]
fn honest_host_passes() {
    let f = fixture();
    let source = Tampered {
        host: f.host.clone(),
        rule: rule(|_, b| Ok(b)),
    };
    let st = VerifiedState::open(source, cipher(), Some(f.root));
    assert!(st.get(&f.key).unwrap().unwrap().starts_with(SECRET));
}

#[test]
fn swapped_blob() {
    let f = fixture();
    let other: Vec<u8> = {
        let h = f.host.read().unwrap();
        let (_, blob) = h.iter().find(|(id, _)| !f.path.contains(id)).unwrap();
        blob.clone()
    };
    for (depth, target) in f.path.iter().enumerate() {
        let (target, other) = (*target, other.clone());
        let source = Tampered {
            host: f.host.clone(),
            rule: rule(move |id, b| {
                Ok(if *id == target {
                    Some(other.clone())
                } else {
                    b
                })
            }),
        };
        assert_detected(source, f.root, &f.key, &format!("swap at depth {depth}"));
    }
}

#[test]
fn stale_blob() {
    let f = fixture();
    // A newer state with the key changed; the host serves the old nodes in its place.
    let mut st = VerifiedState::open(f.host.clone(), cipher(), Some(f.root));
    st.set(&f.key, b"SECRET-newer").unwrap();
    let c = st.commit().unwrap();
    store(&f.host, &c);
    let new_root = c.root.unwrap();
    let new_path = path_to(&f.host, new_root, &f.key);
    assert_eq!(new_path.len(), f.path.len());
    for (depth, (&target, &stale)) in new_path.iter().zip(&f.path).enumerate() {
        assert_ne!(target, stale);
        let host = f.host.clone();
        let source = Tampered {
            host: f.host.clone(),
            rule: rule(move |id, b| {
                Ok(if *id == target {
                    host.read().unwrap().get(&stale).cloned()
                } else {
                    b
                })
            }),
        };
        assert_detected(source, new_root, &f.key, &format!("stale at depth {depth}"));
    }
}

#[test]
fn forged_blob() {
    let f = fixture();
    for (depth, target) in f.path.iter().enumerate() {
        let len = f.host.read().unwrap()[target].len();
        for pos in [0, 1, len / 2, len - 17, len - 1] {
            let target = *target;
            let source = Tampered {
                host: f.host.clone(),
                rule: rule(move |id, b| {
                    Ok(b.map(|mut b| {
                        if *id == target {
                            b[pos] ^= 0x01;
                        }
                        b
                    }))
                }),
            };
            assert_detected(
                source,
                f.root,
                &f.key,
                &format!("flip {pos} at depth {depth}"),
            );
        }
        // Truncated and empty blobs.
        for keep in [0, 16, len - 1] {
            let target = *target;
            let source = Tampered {
                host: f.host.clone(),
                rule: rule(move |id, b| {
                    Ok(b.map(|mut b| {
                        if *id == target {
                            b.truncate(keep);
                        }
                        b
                    }))
                }),
            };
            assert_detected(
                source,
                f.root,
                &f.key,
                &format!("truncate at depth {depth}"),
            );
        }
    }
}

#[test]
fn deleted_blob() {
    let f = fixture();
    for (depth, target) in f.path.iter().enumerate() {
        let target = *target;
        let source = Tampered {
            host: f.host.clone(),
            rule: rule(move |id, b| Ok(if *id == target { None } else { b })),
        };
        assert_detected(source, f.root, &f.key, &format!("deleted at depth {depth}"));
    }
}

#[test]
fn blob_of_another_contract_or_key() {
    let f = fixture();
    let others = [
        NodeCipher::new(KEY, b"veil1anothercontract"),
        NodeCipher::new([0x43; 32], BINDING),
    ];
    for other in others {
        let other = Arc::new(other);
        for (depth, target) in f.path.iter().enumerate() {
            // The same node, re-encrypted for the other contract.
            let plain = cipher().open(&f.host.read().unwrap()[target]).unwrap();
            let reencrypted = other.seal(&plain);
            let target = *target;
            let source = Tampered {
                host: f.host.clone(),
                rule: rule(move |id, b| {
                    Ok(if *id == target {
                        Some(reencrypted.clone())
                    } else {
                        b
                    })
                }),
            };
            assert_detected(source, f.root, &f.key, &format!("foreign at depth {depth}"));
        }
    }
}

/// A whole state of another contract paired with this contract (the root is authentic
/// for the other contract): nothing decrypts.
#[test]
fn state_of_another_contract() {
    let host = Host::default();
    let theirs = NodeCipher::new(KEY, b"veil1anothercontract");
    let mut st = VerifiedState::open(host.clone(), theirs, None);
    for (k, v) in secret_entries() {
        st.set(&k, &v).unwrap();
    }
    let c = st.commit().unwrap();
    store(&host, &c);
    let ours = VerifiedState::open(host.clone(), cipher(), c.root);
    match ours.get(b"SECRET-KEY-00001") {
        Err(BackendError::Integrity(msg)) => {
            assert!(msg.contains("does not decrypt"), "{msg}");
            assert!(!msg.contains("SECRET"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
}

/// Authentic blobs (our key) that do not hold a valid node: still an integrity error.
#[test]
fn authentic_but_malformed_node() {
    let host = Host::default();
    for plain in [
        &b""[..],
        b"\x01\x00\x00\x01\0\0\0\x05\0\0\0SECRET",
        b"\x07\x00\x00\x01\0\0\0\0\0\0\0\0\0\0\0",
    ] {
        let blob = cipher().seal(plain);
        let id = NodeId::of(&blob);
        host.write().unwrap().insert(id, blob);
        let st = VerifiedState::open(host.clone(), cipher(), Some(id));
        match st.get(b"k") {
            Err(BackendError::Integrity(msg)) => {
                assert!(msg.contains("malformed"), "{msg}");
                assert!(!msg.contains("SECRET"), "{msg}");
            }
            other => panic!("{other:?}"),
        }
    }
}

/// A child that is a valid node of this contract but from another place in the tree is
/// caught by its level or its first key even if its parent were (hypothetically) wrong;
/// here: an internal root that points to a leaf as if it were a level-1 node.
#[test]
fn structurally_wrong_child() {
    let f = fixture();
    let st = VerifiedState::open(f.host.clone(), cipher(), Some(f.root));
    let root = st.load(&f.root, None).unwrap();
    assert!(root.level >= 2);
    let leaf = *f.path.last().unwrap();
    // Forge (with the key, as only a bug could) a root whose first child is the leaf.
    let mut entries = vec![crate::node::Entry::new(
        root.entries[0].key.clone(),
        leaf.0.to_vec(),
    )];
    entries.push(root.entries[1].clone());
    let node = crate::node::Node {
        level: root.level,
        entries,
    };
    let mut plain = vec![];
    node.encode_into(&mut plain);
    let blob = cipher().seal(&plain);
    let id = NodeId::of(&blob);
    f.host.write().unwrap().insert(id, blob);
    let st = VerifiedState::open(f.host.clone(), cipher(), Some(id));
    assert_integrity(scan(&st, &full(), Order::Ascending), "wrong level");
}

#[test]
fn unavailable_host_is_not_an_integrity_error() {
    let f = fixture();
    let source = Tampered {
        host: f.host.clone(),
        rule: rule(|_, _| Err(BackendError::Unavailable("ocall failed".into()))),
    };
    let st = VerifiedState::open(source, cipher(), Some(f.root));
    assert_eq!(
        st.get(&f.key),
        Err(BackendError::Unavailable("ocall failed".into()))
    );
}
