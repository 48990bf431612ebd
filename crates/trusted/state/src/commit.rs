//! Applying a call's writes to the tree, copy-on-write.
//!
//! Levels are processed bottom-up. At each level the edits (key -> new value, or removal;
//! at internal levels key = a child's first key, value = its id) are merged into the old
//! entries and re-chunked in stretches. A stretch starts at the first touched node, or at
//! the node before it when the edit touches (or precedes) its first entry (a forced split
//! looks one entry ahead, so that boundary may move), and runs until the new chunking
//! cuts where an old node ended with the next old entry unchanged: from there on the old
//! nodes stand. The nodes consumed and produced become the next level's edits. Because
//! chunking is a function of a level's entries only, the result is the tree a rebuild from
//! scratch would give (checked by the tests, which compare with rebuilds after commits).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use veil_engine::backend::BackendResult;

use crate::chunk::Chunker;
use crate::node::{entry_size, Entry, Node};
use crate::state::VerifiedState;
use crate::{NodeId, NodeSource};

/// The outcome of a call's writes.
#[derive(Clone, PartialEq, Eq)]
pub struct Commit {
    /// The new state root (`None`: the state is empty).
    pub root: Option<NodeId>,
    /// Blobs the host must store, sorted by id (so their order says nothing about keys).
    pub new_nodes: Vec<(NodeId, Vec<u8>)>,
    /// Nodes of the previous root that the new root no longer uses, sorted by id. Once the
    /// new root is committed nothing reads the old one, so the host may delete them. (The
    /// host learns nothing new: it saw this call fetch exactly these nodes.)
    pub released: Vec<NodeId>,
}

impl std::fmt::Debug for Commit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Commit")
            .field("root", &self.root)
            .field("new_nodes", &self.new_nodes.len())
            .field("released", &self.released.len())
            .finish()
    }
}

type Edits = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// A path from the root to one node at some level: `(id, node, chosen child)` per step;
/// the last step is the node itself (its child index is unused).
#[derive(Clone)]
struct Path(Vec<(NodeId, Arc<Node>, usize)>);

impl Path {
    fn target(&self) -> (&NodeId, &Arc<Node>) {
        let (id, node, _) = self.0.last().expect("paths are never empty");
        (id, node)
    }

    /// First key of the node after the target at its level (`None`: the target is last).
    fn upper_bound(&self) -> Option<&[u8]> {
        self.0[..self.0.len() - 1]
            .iter()
            .rev()
            .find(|(_, node, i)| i + 1 < node.entries.len())
            .map(|(_, node, i)| node.entries[i + 1].key.as_slice())
    }
}

struct Builder<'a, S: NodeSource> {
    state: &'a VerifiedState<S>,
    root: NodeId,
    /// Nodes written by this commit.
    written: HashMap<NodeId, (Vec<u8>, Arc<Node>)>,
    /// Old nodes whose entries were re-chunked (re-emitting one is not a change).
    consumed: HashSet<NodeId>,
}

impl<S: NodeSource> VerifiedState<S> {
    /// Applies the call's writes and returns the new root and the blobs to store.
    ///
    /// Only nodes on the paths to changed keys (and a neighbour or two where boundaries
    /// move) are rewritten. Writes that change nothing give the old root and no nodes.
    pub fn commit(mut self) -> BackendResult<Commit> {
        let overlay = std::mem::take(&mut self.overlay);
        if overlay.is_empty() {
            return Ok(Commit {
                root: self.root,
                new_nodes: Vec::new(),
                released: Vec::new(),
            });
        }
        let edits: Edits = overlay.into_iter().collect();
        let (new_root, written, consumed) = match self.root {
            None => {
                let mut b = Builder::new(&self, NodeId([0; 32]));
                let entries = edits
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| Entry::new(k, v)))
                    .collect();
                let chunks = b.chunk_all(0, entries);
                let root = b.build_up(1, chunks);
                let root = b.collapse(root)?;
                (root, b.written, b.consumed)
            }
            Some(root) => {
                let mut b = Builder::new(&self, root);
                b.consumed.insert(root);
                let top = self.load(&root, None)?.level;
                let mut edits = edits;
                let mut level = 0;
                let root = loop {
                    let (consumed, produced) = b.apply_level(level, &edits)?;
                    if level == top {
                        break b.build_up(top + 1, produced);
                    }
                    edits = next_edits(consumed, produced);
                    if edits.is_empty() {
                        break Some(root);
                    }
                    level += 1;
                };
                let root = b.collapse(root)?;
                (root, b.written, b.consumed)
            }
        };
        // A consumed node the new tree still uses was re-emitted (same content, same id) or
        // is the old root, kept when the edits cancelled out below it; every other one was
        // replaced in its parent.
        let mut released: Vec<NodeId> = consumed
            .iter()
            .filter(|id| !written.contains_key(id) && Some(**id) != new_root)
            .copied()
            .collect();
        released.sort_unstable();
        Ok(Commit {
            root: new_root,
            new_nodes: reachable_new_nodes(new_root, written, &consumed),
            released,
        })
    }
}

/// The next level's edits: consumed children are removed, produced ones inserted; a node
/// produced identical to one consumed (same first key, same id) is no change.
fn next_edits(consumed: Vec<(Vec<u8>, NodeId)>, produced: Vec<(Vec<u8>, NodeId)>) -> Edits {
    let mut edits: BTreeMap<Vec<u8>, Option<Vec<u8>>> = BTreeMap::new();
    let old: HashMap<&[u8], NodeId> = consumed.iter().map(|(k, id)| (&k[..], *id)).collect();
    for (k, _) in &consumed {
        edits.insert(k.clone(), None);
    }
    for (k, id) in produced {
        if old.get(&k[..]) == Some(&id) {
            edits.remove(&k);
        } else {
            edits.insert(k, Some(id.0.to_vec()));
        }
    }
    edits.into_iter().collect()
}

/// The written nodes the new root actually uses, sorted by id.
fn reachable_new_nodes(
    root: Option<NodeId>,
    mut written: HashMap<NodeId, (Vec<u8>, Arc<Node>)>,
    old: &HashSet<NodeId>,
) -> Vec<(NodeId, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack: Vec<NodeId> = root.into_iter().collect();
    while let Some(id) = stack.pop() {
        if old.contains(&id) {
            continue;
        }
        let Some((blob, node)) = written.remove(&id) else {
            continue;
        };
        if !node.is_leaf() {
            stack.extend((0..node.entries.len()).map(|i| node.child(i)));
        }
        out.push((id, blob));
    }
    out.sort_unstable_by_key(|(id, _)| *id);
    out
}

impl<'a, S: NodeSource> Builder<'a, S> {
    fn new(state: &'a VerifiedState<S>, root: NodeId) -> Self {
        Self {
            state,
            root,
            written: HashMap::new(),
            consumed: HashSet::new(),
        }
    }

    /// Encrypts a node, records it and returns `(first key, id)`.
    fn emit(&mut self, level: u8, entries: Vec<Entry>) -> (Vec<u8>, NodeId) {
        let node = Node { level, entries };
        let mut plain = zeroize::Zeroizing::new(Vec::new());
        node.encode_into(&mut plain);
        let blob = self.state.cipher.seal(&plain);
        let id = NodeId::of(&blob);
        let first = node.first_key().to_vec();
        self.written.insert(id, (blob, Arc::new(node)));
        (first, id)
    }

    fn chunk_all(&mut self, level: u8, entries: Vec<Entry>) -> Vec<(Vec<u8>, NodeId)> {
        let mut chunker = Chunker::new(&self.state.cipher, level);
        for e in entries {
            chunker.push(e);
        }
        chunker
            .finish()
            .into_iter()
            .map(|chunk| self.emit(level, chunk))
            .collect()
    }

    /// Builds the levels above a complete level of nodes until one node remains.
    fn build_up(&mut self, mut level: u8, mut nodes: Vec<(Vec<u8>, NodeId)>) -> Option<NodeId> {
        loop {
            match nodes.len() {
                0 => return None,
                1 => return Some(nodes[0].1),
                _ => {
                    let entries = nodes
                        .into_iter()
                        .map(|(k, id)| Entry::new(k, id.0.to_vec()))
                        .collect();
                    nodes = self.chunk_all(level, entries);
                    level = level.checked_add(1).expect("tree height below 256");
                }
            }
        }
    }

    /// A root with a single child is replaced by that child, repeatedly.
    fn collapse(&self, mut root: Option<NodeId>) -> BackendResult<Option<NodeId>> {
        while let Some(id) = root {
            let node = match self.written.get(&id) {
                Some((_, node)) => node.clone(),
                None => self.state.load(&id, None)?,
            };
            if node.is_leaf() || node.entries.len() > 1 {
                break;
            }
            root = Some(node.child(0));
        }
        Ok(root)
    }

    /// Pushes node `id` onto `path`: the root if `path` is empty, else the chosen child of
    /// the path's last node (checked against it).
    fn node_at(&self, path: &mut Vec<(NodeId, Arc<Node>, usize)>, id: NodeId) -> BackendResult<()> {
        let node = match path.last() {
            Some((_, parent, i)) => self.state.load_child(parent, *i)?,
            None => self.state.load(&id, None)?,
        };
        path.push((id, node, 0));
        Ok(())
    }

    /// The path to the node at `level` whose key range holds `key` (the first node if
    /// `key` precedes all keys).
    fn seek(&self, key: &[u8], level: u8) -> BackendResult<Path> {
        let mut steps = Vec::new();
        self.node_at(&mut steps, self.root)?;
        loop {
            let (_, node, i) = steps.last_mut().expect("non-empty");
            if node.level == level {
                return Ok(Path(steps));
            }
            *i = node.child_index(key).unwrap_or(0);
            let child = node.child(*i);
            self.node_at(&mut steps, child)?;
        }
    }

    /// The node after (`forward`) or before the path's target at the same level.
    fn step(&self, path: &Path, forward: bool) -> BackendResult<Option<Path>> {
        let level = path.target().1.level;
        let mut steps = path.0.clone();
        steps.pop();
        loop {
            let Some((_, node, i)) = steps.last_mut() else {
                return Ok(None);
            };
            let moved = if forward {
                (*i + 1 < node.entries.len()).then(|| *i + 1)
            } else {
                i.checked_sub(1)
            };
            match moved {
                Some(j) => {
                    *i = j;
                    break;
                }
                None => {
                    steps.pop();
                }
            }
        }
        // Descend along the near edge back to the level.
        loop {
            let (_, node, i) = steps.last_mut().expect("non-empty");
            if node.level == level {
                return Ok(Some(Path(steps)));
            }
            let child = node.child(*i);
            self.node_at(&mut steps, child)?;
            let (_, node, i) = steps.last_mut().expect("non-empty");
            if node.level != level && !forward {
                *i = node.entries.len() - 1;
            }
        }
    }

    /// Merges `edits` (sorted, unique keys) into the nodes at `level` and re-chunks the
    /// touched stretches. Returns the old nodes consumed and the new nodes produced, each
    /// as `(first key, id)` in key order.
    #[allow(clippy::type_complexity)]
    fn apply_level(
        &mut self,
        level: u8,
        edits: &Edits,
    ) -> BackendResult<(Vec<(Vec<u8>, NodeId)>, Vec<(Vec<u8>, NodeId)>)> {
        let mut consumed = Vec::new();
        let mut produced = Vec::new();
        let mut ei = 0;
        while ei < edits.len() {
            let mut path = self.seek(&edits[ei].0, level)?;
            // The boundary in front of a node looks ahead at its first entry: if the edit
            // touches that entry, re-chunk from the node before.
            if edits[ei].0.as_slice() <= path.target().1.first_key() {
                if let Some(prev) = self.step(&path, false)? {
                    path = prev;
                }
            }
            let mut chunker = Chunker::new(&self.state.cipher, level);
            loop {
                let (id, node) = path.target();
                consumed.push((node.first_key().to_vec(), *id));
                self.consumed.insert(*id);
                for old in &node.entries {
                    while ei < edits.len() && edits[ei].0 < old.key {
                        if let Some(v) = &edits[ei].1 {
                            chunker.push(Entry::new(edits[ei].0.clone(), v.clone()));
                        }
                        ei += 1;
                    }
                    if ei < edits.len() && edits[ei].0 == old.key {
                        if let Some(v) = &edits[ei].1 {
                            chunker.push(Entry::new(edits[ei].0.clone(), v.clone()));
                        }
                        ei += 1;
                    } else {
                        chunker.push(old.clone());
                    }
                }
                let Some(next_first) = path.upper_bound().map(<[u8]>::to_vec) else {
                    // Last node of the level: everything left belongs here.
                    for (k, v) in &edits[ei..] {
                        if let Some(v) = v {
                            chunker.push(Entry::new(k.clone(), v.clone()));
                        }
                    }
                    ei = edits.len();
                    break;
                };
                // Back in step? If the new chunking cuts where the old node ended and the
                // next node's first entry is unchanged, the old nodes from there on stay
                // as they are, up to where the next stretch starts (at or after the next
                // node, since the next edit lies beyond that node's first key).
                let mut next = None;
                let far = edits
                    .get(ei)
                    .is_none_or(|(k, _)| k.as_slice() > next_first.as_slice());
                if far {
                    let cut = match chunker.cut_pending() {
                        Some(cut) => cut,
                        None if level > 0 => {
                            chunker.cuts_before(entry_size(level, next_first.len(), NodeId::LEN))
                        }
                        None => {
                            let path = self.step(&path, true)?.expect("a next node");
                            let e = &path.target().1.entries[0];
                            let size = entry_size(level, e.key.len(), e.val.len());
                            next = Some(path);
                            chunker.cuts_before(size)
                        }
                    };
                    if cut {
                        break;
                    }
                }
                path = match next {
                    Some(next) => next,
                    None => self.step(&path, true)?.expect("a next node"),
                };
            }
            for chunk in chunker.finish() {
                produced.push(self.emit(level, chunk));
            }
        }
        Ok((consumed, produced))
    }
}
