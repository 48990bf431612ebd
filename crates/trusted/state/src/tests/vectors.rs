//! Known-answer vectors from `testdata/gen_vectors.py`, an independent implementation of
//! the layout in README.md (node encoding, padding, AEAD, ids, chunk boundaries).

use std::collections::{BTreeMap, HashMap};

use super::{store, Host};
use crate::{NodeCipher, NodeId, VerifiedState};
use veil_engine::Storage;

fn vectors() -> HashMap<String, String> {
    include_str!("../../testdata/vectors.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn vector_cipher(v: &HashMap<String, String>) -> NodeCipher {
    NodeCipher::new(hex(&v["key"]).try_into().unwrap(), &hex(&v["binding"]))
}

#[test]
fn leaf_blob_vector() {
    let v = vectors();
    let cipher = vector_cipher(&v);
    let node = hex(&v["leaf_node"]);
    let blob = cipher.seal(&node);
    assert_eq!(blob, hex(&v["leaf_blob"]));
    assert_eq!(NodeId::of(&blob).to_string(), v["leaf_id"]);
    assert_eq!(&**cipher.open(&blob).unwrap(), &node[..]);
    // And through the state: a one-entry tree is exactly this blob.
    let mut st = VerifiedState::open(Host::default(), vector_cipher(&v), None);
    st.set(b"k", b"v").unwrap();
    let c = st.commit().unwrap();
    assert_eq!(c.new_nodes, vec![(NodeId::of(&blob), blob)]);
}

#[test]
fn tree_root_vectors() {
    let v = vectors();
    for n in [1usize, 100, 3000] {
        let entries: BTreeMap<Vec<u8>, Vec<u8>> = (0..n)
            .map(|i| {
                let key = format!("vector/{i:05}").into_bytes();
                let value = (0..i % 97).map(|j| ((i * j) % 251) as u8).collect();
                (key, value)
            })
            .collect();
        let host = Host::default();
        let mut st = VerifiedState::open(host.clone(), vector_cipher(&v), None);
        for (k, val) in &entries {
            st.set(k, val).unwrap();
        }
        let c = st.commit().unwrap();
        let want = &v[&format!("tree_{n}_root")];
        assert_eq!(c.root.unwrap().to_string(), *want, "{n} entries");
        assert_eq!(c.new_nodes.len().to_string(), v[&format!("tree_{n}_nodes")]);
        store(&host, &c);
        let st = VerifiedState::open(host.clone(), vector_cipher(&v), c.root);
        let height = st.load(&c.root.unwrap(), None).unwrap().level + 1;
        assert_eq!(height.to_string(), v[&format!("tree_{n}_height")]);
    }
}
