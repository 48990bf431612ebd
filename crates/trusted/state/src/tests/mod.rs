//! Crate tests: a randomized model test against `BTreeMap`/`MemoryStorage`, history
//! independence, tampering by the host, padding, caching.

mod model;
mod properties;
mod tamper;
mod vectors;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use veil_engine::{KeyRange, Order, Storage};

use crate::chunk::{min_entries, MAX_NODE};
use crate::cipher::LEN_PREFIX;
use crate::{Commit, NodeCipher, NodeId, VerifiedState};

pub(crate) const KEY: [u8; 32] = [0x42; 32];
pub(crate) const BINDING: &[u8] = b"veil1contractaddress/code-hash";

pub(crate) fn cipher() -> NodeCipher {
    NodeCipher::new(KEY, BINDING)
}

/// The untrusted host's blob store, shared between calls.
pub(crate) type Host = Arc<RwLock<HashMap<NodeId, Vec<u8>>>>;

pub(crate) fn store(host: &Host, commit: &Commit) {
    let mut h = host.write().unwrap();
    for (id, blob) in &commit.new_nodes {
        h.insert(*id, blob.clone());
    }
}

/// Like [`store`], and deletes the nodes the commit released (what the node does).
pub(crate) fn store_and_release(host: &Host, commit: &Commit) {
    store(host, commit);
    let mut h = host.write().unwrap();
    for id in &commit.released {
        h.remove(id);
    }
}

/// Every node id the tree under `root` uses.
pub(crate) fn reachable(host: &Host, root: Option<NodeId>) -> std::collections::HashSet<NodeId> {
    let st = VerifiedState::open(host.clone(), cipher(), root);
    let mut out = std::collections::HashSet::new();
    let mut stack: Vec<NodeId> = root.into_iter().collect();
    while let Some(id) = stack.pop() {
        let node = st.load(&id, None).unwrap();
        if !node.is_leaf() {
            stack.extend((0..node.entries.len()).map(|i| node.child(i)));
        }
        out.insert(id);
    }
    out
}

/// Scale factor for the randomized tests: `VEIL_STATE_SOAK=100 cargo test --release
/// -p veil-state` runs 100 times as many seeds / rounds.
pub(crate) fn soak() -> usize {
    std::env::var("VEIL_STATE_SOAK")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

/// A deterministic generator (SplitMix64) so failures reproduce from the seed.
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(1000) < percent * 10
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Writes `entries` into a fresh tree in one commit and returns the root.
pub(crate) fn build(host: &Host, entries: &BTreeMap<Vec<u8>, Vec<u8>>) -> Option<NodeId> {
    let mut st = VerifiedState::open(host.clone(), cipher(), None);
    for (k, v) in entries {
        st.set(k, v).unwrap();
    }
    let c = st.commit().unwrap();
    store(host, &c);
    c.root
}

pub(crate) type Pair = (Vec<u8>, Vec<u8>);

/// Every key of `range` in `order`, stepping like the engine does.
pub(crate) fn scan(
    s: &dyn Storage,
    range: &KeyRange,
    order: Order,
) -> Result<Vec<Pair>, veil_engine::BackendError> {
    let mut out = vec![];
    let mut after: Option<Vec<u8>> = None;
    while let Some((k, v)) = s.next_in_range(range, order, after.as_deref())? {
        after = Some(k.clone());
        out.push((k, v));
    }
    Ok(out)
}

pub(crate) fn full() -> KeyRange {
    KeyRange {
        start: None,
        end: None,
    }
}

/// Opens `root` on `host` and checks it (see [`check_tree`]).
pub(crate) fn check_root(host: &Host, root: Option<NodeId>) -> BTreeMap<Vec<u8>, Vec<u8>> {
    check_tree(&VerifiedState::open(host.clone(), cipher(), root), root)
}

/// Walks the whole tree under `root`, checking its shape, and returns its entries.
///
/// Shape: levels decrease by one towards the leaves; every internal entry's key is its
/// child's first key; keys increase across the whole level; only a level's last node may
/// hold fewer than `min_entries`; a node exceeds `MAX_NODE` only by its minimum entries;
/// the root is not an internal node with a single child.
pub(crate) fn check_tree<S: crate::NodeSource>(
    st: &VerifiedState<S>,
    root: Option<NodeId>,
) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut out = BTreeMap::new();
    let Some(root) = root else {
        return out;
    };
    let top = st.load(&root, None).unwrap();
    assert!(
        top.is_leaf() || top.entries.len() >= 2,
        "root with one child"
    );
    // Level by level, left to right.
    let mut level = vec![top];
    loop {
        let lvl = level[0].level;
        let mut last_key: Option<Vec<u8>> = None;
        for (i, node) in level.iter().enumerate() {
            assert_eq!(node.level, lvl);
            let is_last = i + 1 == level.len();
            if !is_last {
                assert!(node.entries.len() >= min_entries(lvl), "underfull node");
            }
            let size = LEN_PREFIX + node.encoded_len();
            if size > MAX_NODE {
                assert!(
                    node.entries.len() <= min_entries(lvl),
                    "oversized node with {} entries ({size} B)",
                    node.entries.len()
                );
            }
            for e in &node.entries {
                if let Some(prev) = &last_key {
                    assert!(*prev < e.key, "keys not increasing across the level");
                }
                last_key = Some(e.key.clone());
            }
        }
        if lvl == 0 {
            for node in &level {
                for e in &node.entries {
                    out.insert(e.key.clone(), e.val.clone());
                }
            }
            return out;
        }
        let mut below = vec![];
        for node in &level {
            for i in 0..node.entries.len() {
                below.push(st.load_child(node, i).unwrap());
            }
        }
        level = below;
    }
}
