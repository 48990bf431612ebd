//! The public state's authenticated index: a sparse binary Merkle tree over 256-bit key
//! hashes in which a subtree holding a single leaf is that leaf, so a tree of n entries is
//! about log2(n) deep. Its root is the state root.
//!
//! Nodes are stored by position (depth and path prefix), latest version only: applying a
//! block's changes reads and writes O(changes × depth) nodes, written in the block's one
//! store transaction. The shape depends only on the entries, never on the order they were
//! written in. Byte layout and test vector: `docs/protocol.md`, "State root".

use std::collections::BTreeMap;

use veil_types::Hash;

use veil_types::state_proof::bit;
pub use veil_types::state_proof::{
    internal_hash, key_hash, leaf_hash, value_hash, verify, Proof, EMPTY, MAX_DEPTH,
};

/// A stored node. An internal node never has two empty children, nor one empty child and
/// one leaf (that leaf would sit in its place).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    Leaf { key: Hash, value: Hash },
    Internal { left: Hash, right: Hash },
}

impl Node {
    pub fn hash(&self) -> Hash {
        match self {
            Node::Leaf { key, value } => leaf_hash(key, value),
            Node::Internal { left, right } => internal_hash(left, right),
        }
    }

    /// `0x00 || key || value` or `0x01 || left || right`.
    pub fn encode(&self) -> [u8; 65] {
        let (tag, a, b) = match self {
            Node::Leaf { key, value } => (0, key, value),
            Node::Internal { left, right } => (1, left, right),
        };
        let mut bytes = [0u8; 65];
        bytes[0] = tag;
        bytes[1..33].copy_from_slice(a);
        bytes[33..].copy_from_slice(b);
        bytes
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, TreeError> {
        if bytes.len() != 65 {
            return Err(TreeError(format!("a node of {} bytes", bytes.len())));
        }
        let a: Hash = bytes[1..33].try_into().expect("32 bytes");
        let b: Hash = bytes[33..].try_into().expect("32 bytes");
        match bytes[0] {
            0 => Ok(Node::Leaf { key: a, value: b }),
            1 => Ok(Node::Internal { left: a, right: b }),
            tag => Err(TreeError(format!("a node with tag {tag}"))),
        }
    }
}

/// A node's place: its depth and the first `depth` bits every key below it shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    depth: u16,
    path: Hash,
}

impl Position {
    pub const ROOT: Position = Position {
        depth: 0,
        path: EMPTY,
    };

    fn child(&self, side: u8) -> Position {
        let mut path = self.path;
        if side == 1 {
            path[usize::from(self.depth / 8)] |= 0x80 >> (self.depth % 8);
        }
        Position {
            depth: self.depth + 1,
            path,
        }
    }

    /// The store key: `the first ceil(depth / 8) bytes of the path (bits past depth zero)
    /// || u16be(depth)`. Path first, so a subtree's nodes sit together in the store's key
    /// order: a block's writes touch few pages, not one per level.
    pub fn encode(&self) -> Vec<u8> {
        let bytes = usize::from(self.depth.div_ceil(8));
        let mut key = Vec::with_capacity(bytes + 2);
        key.extend_from_slice(&self.path[..bytes]);
        key.extend_from_slice(&self.depth.to_be_bytes());
        key
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state tree: {0}")]
pub struct TreeError(pub String);

/// Where the committed tree's nodes are read from.
pub trait NodeSource {
    fn node(&self, at: &Position) -> Result<Option<Node>, TreeError>;
}

impl NodeSource for BTreeMap<Position, Node> {
    fn node(&self, at: &Position) -> Result<Option<Node>, TreeError> {
        Ok(self.get(at).copied())
    }
}

/// What an update writes: each touched position's new node, or `None` to delete it.
pub type NodeWrites = BTreeMap<Position, Option<Node>>;

/// The root hash of the tree in `source`.
pub fn root(source: &impl NodeSource) -> Result<Hash, TreeError> {
    Ok(source
        .node(&Position::ROOT)?
        .map_or(EMPTY, |node| node.hash()))
}

/// Applies `changes` (key hash → the new value hash, `None` to delete) to the tree in
/// `source`: the new root and the node writes that make it.
pub fn update(
    source: &impl NodeSource,
    changes: &BTreeMap<Hash, Option<Hash>>,
) -> Result<(Hash, NodeWrites), TreeError> {
    let changes: Vec<(Hash, Option<Hash>)> = changes.iter().map(|(k, v)| (*k, *v)).collect();
    let mut updater = Updater {
        source,
        writes: NodeWrites::new(),
    };
    let current = match source.node(&Position::ROOT)? {
        Some(node) => Slot::from(node),
        None => Slot::Empty,
    };
    let root = updater.update(Position::ROOT, current, &changes)?;
    if !changes.is_empty() {
        updater.writes.insert(Position::ROOT, root.node());
    }
    Ok((root.hash(), updater.writes))
}

/// A subtree during an update; `Stored` is one left as it was (not read).
#[derive(Debug, Clone, Copy)]
enum Slot {
    Empty,
    Leaf { key: Hash, value: Hash },
    Internal { left: Hash, right: Hash },
    Stored(Hash),
}

impl From<Node> for Slot {
    fn from(node: Node) -> Self {
        match node {
            Node::Leaf { key, value } => Slot::Leaf { key, value },
            Node::Internal { left, right } => Slot::Internal { left, right },
        }
    }
}

impl Slot {
    fn stored(hash: Hash) -> Slot {
        if hash == EMPTY {
            Slot::Empty
        } else {
            Slot::Stored(hash)
        }
    }

    fn hash(&self) -> Hash {
        match self {
            Slot::Empty => EMPTY,
            Slot::Leaf { key, value } => leaf_hash(key, value),
            Slot::Internal { left, right } => internal_hash(left, right),
            Slot::Stored(hash) => *hash,
        }
    }

    fn node(&self) -> Option<Node> {
        match *self {
            Slot::Empty => None,
            Slot::Leaf { key, value } => Some(Node::Leaf { key, value }),
            Slot::Internal { left, right } => Some(Node::Internal { left, right }),
            Slot::Stored(_) => unreachable!("a stored subtree is never rewritten"),
        }
    }
}

struct Updater<'a, S> {
    source: &'a S,
    writes: NodeWrites,
}

impl<S: NodeSource> Updater<'_, S> {
    /// Reads the node at `at`, which its parent says hashes to `hash`.
    fn load(&self, at: &Position, hash: Hash) -> Result<Slot, TreeError> {
        let node = self.source.node(at)?.ok_or_else(|| {
            TreeError(format!(
                "node at depth {} is missing: the store is damaged",
                at.depth
            ))
        })?;
        if node.hash() != hash {
            return Err(TreeError(format!(
                "node at depth {} does not match its parent: the store is damaged",
                at.depth
            )));
        }
        Ok(Slot::from(node))
    }

    /// The subtree at `at` (now `current`) after `changes`, sorted by key, all under `at`.
    fn update(
        &mut self,
        at: Position,
        current: Slot,
        changes: &[(Hash, Option<Hash>)],
    ) -> Result<Slot, TreeError> {
        if changes.is_empty() {
            return Ok(current);
        }
        let current = match current {
            Slot::Stored(hash) => self.load(&at, hash)?,
            other => other,
        };
        let (left, right, live);
        let changes = match current {
            Slot::Internal { left: l, right: r } => {
                (left, right) = (Slot::stored(l), Slot::stored(r));
                changes
            }
            // Nothing is stored below an empty slot or a leaf: the subtree is built from
            // its live entries (deleting an absent key changes nothing).
            _ => {
                let mut entries: Vec<(Hash, Option<Hash>)> =
                    changes.iter().filter(|c| c.1.is_some()).copied().collect();
                if let Slot::Leaf { key, value } = current {
                    if changes.binary_search_by_key(&key, |c| c.0).is_err() {
                        let at = entries.partition_point(|c| c.0 < key);
                        entries.insert(at, (key, Some(value)));
                    }
                }
                match entries.as_slice() {
                    [] => return Ok(Slot::Empty),
                    [(key, Some(value))] => {
                        return Ok(Slot::Leaf {
                            key: *key,
                            value: *value,
                        })
                    }
                    _ => {}
                }
                (left, right) = (Slot::Empty, Slot::Empty);
                live = entries;
                &live[..]
            }
        };
        if at.depth >= MAX_DEPTH {
            return Err(TreeError("two entries share a key hash".into()));
        }
        let split = changes.partition_point(|c| bit(&c.0, at.depth) == 0);
        let (left_changes, right_changes) = changes.split_at(split);
        let left = self.update(at.child(0), left, left_changes)?;
        let right = self.update(at.child(1), right, right_changes)?;
        self.join(
            &at,
            (left, !left_changes.is_empty()),
            (right, !right_changes.is_empty()),
        )
    }

    /// The node at `at` over two updated children (each with whether it changed),
    /// writing the children it keeps and deleting those it absorbs.
    fn join(
        &mut self,
        at: &Position,
        (left, left_changed): (Slot, bool),
        (right, right_changed): (Slot, bool),
    ) -> Result<Slot, TreeError> {
        let children = [at.child(0), at.child(1)];
        // A lone leaf (or nothing) moves up: this position holds it, its children nothing.
        let lone = match (left, right) {
            (Slot::Empty, Slot::Empty) => Some(Slot::Empty),
            (Slot::Empty, leaf @ Slot::Leaf { .. }) | (leaf @ Slot::Leaf { .. }, Slot::Empty) => {
                Some(leaf)
            }
            (Slot::Empty, Slot::Stored(hash)) => match self.load(&children[1], hash)? {
                leaf @ Slot::Leaf { .. } => Some(leaf),
                _ => None,
            },
            (Slot::Stored(hash), Slot::Empty) => match self.load(&children[0], hash)? {
                leaf @ Slot::Leaf { .. } => Some(leaf),
                _ => None,
            },
            _ => None,
        };
        if let Some(slot) = lone {
            for child in children {
                self.writes.insert(child, None);
            }
            return Ok(slot);
        }
        for (child, slot, changed) in [
            (children[0], left, left_changed),
            (children[1], right, right_changed),
        ] {
            if changed {
                self.writes.insert(child, slot.node());
            }
        }
        Ok(Slot::Internal {
            left: left.hash(),
            right: right.hash(),
        })
    }
}

/// The proof for `key` (a key hash) in the tree in `source`.
pub fn prove(source: &impl NodeSource, key: &Hash) -> Result<Proof, TreeError> {
    let mut siblings = Vec::new();
    let mut at = Position::ROOT;
    let mut node = source.node(&at)?;
    loop {
        match node {
            None => {
                return Ok(Proof {
                    siblings,
                    leaf: None,
                })
            }
            Some(Node::Leaf { key, value }) => {
                return Ok(Proof {
                    siblings,
                    leaf: Some((key, value)),
                })
            }
            Some(Node::Internal { left, right }) => {
                if at.depth >= MAX_DEPTH {
                    return Err(TreeError("an internal node at the deepest level".into()));
                }
                let side = bit(key, at.depth);
                let (next, sibling) = if side == 0 {
                    (left, right)
                } else {
                    (right, left)
                };
                siblings.push(sibling);
                at = at.child(side);
                node = if next == EMPTY {
                    None
                } else {
                    let child = source.node(&at)?.ok_or_else(|| {
                        TreeError(format!("node at depth {} is missing", at.depth))
                    })?;
                    Some(child)
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(tree: &mut BTreeMap<Position, Node>, changes: &BTreeMap<Hash, Option<Hash>>) -> Hash {
        let (root, writes) = update(&*tree, changes).unwrap();
        for (at, node) in writes {
            match node {
                Some(node) => tree.insert(at, node),
                None => tree.remove(&at),
            };
        }
        root
    }

    /// The root computed from scratch over `entries` (no store, no history).
    fn reference_root(entries: &BTreeMap<Hash, Hash>, depth: u16) -> Hash {
        match entries.len() {
            0 => EMPTY,
            1 => {
                let (k, v) = entries.iter().next().unwrap();
                leaf_hash(k, v)
            }
            _ => {
                let (left, right): (BTreeMap<_, _>, BTreeMap<_, _>) =
                    entries.iter().partition(|(k, _)| bit(k, depth) == 0);
                internal_hash(
                    &reference_root(&left, depth + 1),
                    &reference_root(&right, depth + 1),
                )
            }
        }
    }

    fn entry(i: u32) -> (Hash, Hash) {
        (
            key_hash(&i.to_be_bytes()),
            value_hash(&(i * 7).to_be_bytes()),
        )
    }

    #[test]
    fn root_depends_only_on_the_entries_and_deletions_leave_no_nodes() {
        let mut tree = BTreeMap::new();
        let mut live = BTreeMap::new();
        // Insert in three batches, in an order unrelated to key order.
        for batch in [0..40u32, 100..130, 40..100] {
            let changes: BTreeMap<_, _> = batch
                .map(entry)
                .map(|(k, v)| {
                    live.insert(k, v);
                    (k, Some(v))
                })
                .collect();
            let root = apply(&mut tree, &changes);
            assert_eq!(root, reference_root(&live, 0));
        }
        // Change some, delete some, delete an absent key — one batch.
        let mut changes = BTreeMap::new();
        for i in 0..130u32 {
            let (k, _) = entry(i);
            if i % 3 == 0 {
                changes.insert(k, None);
                live.remove(&k);
            } else if i % 5 == 0 {
                let v = value_hash(b"changed");
                changes.insert(k, Some(v));
                live.insert(k, v);
            }
        }
        changes.insert(key_hash(b"never there"), None);
        let root = apply(&mut tree, &changes);
        assert_eq!(root, reference_root(&live, 0));
        // Same entries built at once: same root and the very same stored nodes.
        let mut fresh = BTreeMap::new();
        let all: BTreeMap<_, _> = live.iter().map(|(k, v)| (*k, Some(*v))).collect();
        assert_eq!(apply(&mut fresh, &all), root);
        assert_eq!(fresh, tree);
        // Deleting everything leaves nothing stored.
        let none: BTreeMap<_, _> = live.keys().map(|k| (*k, None)).collect();
        assert_eq!(apply(&mut tree, &none), EMPTY);
        assert!(tree.is_empty());
    }

    #[test]
    fn proofs_verify_only_the_value_held() {
        let mut tree = BTreeMap::new();
        let changes: BTreeMap<_, _> = (0..200u32).map(entry).map(|(k, v)| (k, Some(v))).collect();
        let root = apply(&mut tree, &changes);
        for i in [0u32, 17, 199] {
            let (k, v) = entry(i);
            let proof = prove(&tree, &k).unwrap();
            assert!(verify(&root, &k, Some(&v), &proof));
            assert!(!verify(&root, &k, Some(&value_hash(b"other")), &proof));
            assert!(!verify(&root, &k, None, &proof));
            let mut tampered = proof.clone();
            tampered.siblings[0][0] ^= 1;
            assert!(!verify(&root, &k, Some(&v), &tampered));
            assert!(!verify(&[9; 32], &k, Some(&v), &proof));
        }
        // Absent keys: non-inclusion, never inclusion.
        for absent in [b"a".as_slice(), b"b", b"nothing here"] {
            let k = key_hash(absent);
            let proof = prove(&tree, &k).unwrap();
            assert!(verify(&root, &k, None, &proof));
            assert!(!verify(&root, &k, Some(&value_hash(b"x")), &proof));
        }
        // A present key's proof does not prove another key absent.
        let (k0, _) = entry(0);
        let (k1, _) = entry(1);
        assert!(!verify(&root, &k1, None, &prove(&tree, &k0).unwrap()));
        // The empty tree.
        let empty = BTreeMap::new();
        let proof = prove(&empty, &k0).unwrap();
        assert!(verify(&EMPTY, &k0, None, &proof));
    }

    #[test]
    fn a_damaged_store_is_an_error() {
        let mut tree = BTreeMap::new();
        let changes: BTreeMap<_, _> = (0..20u32).map(entry).map(|(k, v)| (k, Some(v))).collect();
        apply(&mut tree, &changes);
        let (at, node) = tree
            .iter()
            .find(|(at, _)| at.depth > 0)
            .map(|(a, n)| (*a, *n))
            .unwrap();
        let mut damaged = tree.clone();
        damaged.insert(
            at,
            match node {
                Node::Leaf { key, .. } => Node::Leaf {
                    key,
                    value: [7; 32],
                },
                Node::Internal { left, .. } => Node::Internal {
                    left,
                    right: [7; 32],
                },
            },
        );
        let all: BTreeMap<_, _> = (0..20u32)
            .map(entry)
            .map(|(k, _)| (k, Some([1; 32])))
            .collect();
        assert!(update(&damaged, &all).is_err());
        assert!(Node::decode(&[2; 65]).is_err());
        assert!(Node::decode(&[0; 64]).is_err());
        assert_eq!(Node::decode(&node.encode()).unwrap(), node);
    }
}
