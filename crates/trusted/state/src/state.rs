//! Verified reads: the engine's `Storage` over the tree and the call's pending writes.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ops::Bound::{self, Excluded, Included, Unbounded};
use std::sync::Arc;

use veil_engine::backend::BackendResult;
use veil_engine::{KeyRange, Order, Storage};
use zeroize::Zeroize;

use crate::cipher::{NodeCipher, OpenError};
use crate::node::Node;
use crate::{integrity, NodeId, NodeSource};

/// Default bound on the bytes of verified nodes one call keeps cached (64 MiB).
pub const DEFAULT_CACHE_LIMIT: usize = 64 << 20;

/// One contract's state for the duration of one call.
///
/// Every node is fetched from the host at most once per call (while the cache bound
/// allows), checked against its id, decrypted and parsed. Writes stay in an overlay until
/// [`commit`](Self::commit); dropping the state discards them.
pub struct VerifiedState<S: NodeSource> {
    pub(crate) source: S,
    pub(crate) cipher: NodeCipher,
    pub(crate) root: Option<NodeId>,
    /// Pending writes of the call: `None` is a removal.
    pub(crate) overlay: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    cache: RefCell<NodeCache>,
}

/// One key a call changed (see [`VerifiedState::changes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    pub key: Vec<u8>,
    pub old: Option<Vec<u8>>,
    pub new: Option<Vec<u8>>,
}

/// A copy of a state's pending writes (see [`VerifiedState::pending_writes`]).
#[derive(Clone)]
pub struct PendingWrites(BTreeMap<Vec<u8>, Option<Vec<u8>>>);

struct NodeCache {
    nodes: HashMap<NodeId, Cached>,
    bytes: usize,
    limit: usize,
    clock: u64,
    fetches: u64,
}

struct Cached {
    node: Arc<Node>,
    bytes: usize,
    used: u64,
}

impl NodeCache {
    fn get(&mut self, id: &NodeId) -> Option<Arc<Node>> {
        self.clock += 1;
        let clock = self.clock;
        self.nodes.get_mut(id).map(|c| {
            c.used = clock;
            c.node.clone()
        })
    }

    fn insert(&mut self, id: NodeId, node: Arc<Node>, bytes: usize) {
        self.clock += 1;
        self.bytes += bytes;
        let used = self.clock;
        if let Some(old) = self.nodes.insert(id, Cached { node, bytes, used }) {
            self.bytes -= old.bytes;
        }
        if self.bytes > self.limit {
            // Drop the least recently used nodes until half the budget is free.
            let mut by_age: Vec<(u64, NodeId)> =
                self.nodes.iter().map(|(id, c)| (c.used, *id)).collect();
            by_age.sort_unstable();
            for (_, id) in by_age {
                if self.bytes <= self.limit / 2 {
                    break;
                }
                if let Some(c) = self.nodes.remove(&id) {
                    self.bytes -= c.bytes;
                }
            }
        }
    }
}

impl<S: NodeSource> VerifiedState<S> {
    /// The state whose root is `root` (`None`: empty), read through `source`.
    ///
    /// `root` must come from a trusted place: it is what every read is verified against.
    pub fn open(source: S, cipher: NodeCipher, root: Option<NodeId>) -> Self {
        Self {
            source,
            cipher,
            root,
            overlay: BTreeMap::new(),
            cache: RefCell::new(NodeCache {
                nodes: HashMap::new(),
                bytes: 0,
                limit: DEFAULT_CACHE_LIMIT,
                clock: 0,
                fetches: 0,
            }),
        }
    }

    /// Bounds the bytes of decrypted nodes kept between reads (least recently used go).
    pub fn with_cache_limit(self, bytes: usize) -> Self {
        self.cache.borrow_mut().limit = bytes;
        self
    }

    /// The root this call started from.
    pub fn root(&self) -> Option<NodeId> {
        self.root
    }

    /// Whether the call has written anything (even writes that change nothing).
    pub fn has_pending_writes(&self) -> bool {
        !self.overlay.is_empty()
    }

    /// The pending writes as they are now, to go back to with
    /// [`restore_writes`](Self::restore_writes) (how a failed sub-call is undone).
    pub fn pending_writes(&self) -> PendingWrites {
        PendingWrites(self.overlay.clone())
    }

    /// Goes back to writes taken with [`pending_writes`](Self::pending_writes).
    pub fn restore_writes(&mut self, writes: PendingWrites) {
        self.overlay = writes.0;
    }

    /// The call's writes against the state it started from, in key order, leaving out
    /// writes that change nothing: `(key, value before, value after)`, `None` where there
    /// was (or is) no value. Reads each written key from the tree (a dev chain's inspection
    /// asks for it; nothing on the normal path does).
    pub fn changes(&self) -> BackendResult<Vec<StateChange>> {
        let mut changes = Vec::new();
        for (key, new) in &self.overlay {
            let old = self.tree_get(key)?;
            if old != *new {
                changes.push(StateChange {
                    key: key.clone(),
                    old,
                    new: new.clone(),
                });
            }
        }
        Ok(changes)
    }

    /// How many blobs this state has fetched from its source so far.
    pub fn fetch_count(&self) -> u64 {
        self.cache.borrow().fetches
    }

    /// The verified node `id`; `level` is the level its parent implies (`None`: the root).
    pub(crate) fn load(&self, id: &NodeId, level: Option<u8>) -> BackendResult<Arc<Node>> {
        let cached = self.cache.borrow_mut().get(id);
        let node = match cached {
            Some(node) => node,
            None => {
                self.cache.borrow_mut().fetches += 1;
                let blob = self
                    .source
                    .fetch(id)?
                    .ok_or_else(|| integrity(id, "missing from the host's store"))?;
                if NodeId::of(&blob) != *id {
                    return Err(integrity(
                        id,
                        "host returned a blob that does not hash to the node id \
                         (swapped, stale or forged)",
                    ));
                }
                let plain = self.cipher.open(&blob).map_err(|e| match e {
                    OpenError::Aead => integrity(
                        id,
                        "blob does not decrypt under this contract's key and binding",
                    ),
                    OpenError::Padding => integrity(id, "blob has invalid padding"),
                })?;
                let node = Node::decode(&plain)
                    .map_err(|what| integrity(id, &format!("malformed node: {what}")))?;
                let node = Arc::new(node);
                self.cache
                    .borrow_mut()
                    .insert(*id, node.clone(), blob.len());
                node
            }
        };
        if let Some(level) = level {
            if node.level != level {
                return Err(integrity(id, "node is not at the level its parent implies"));
            }
        }
        Ok(node)
    }

    /// Child `i` of internal node `parent`, checked against the parent's entry.
    pub(crate) fn load_child(&self, parent: &Node, i: usize) -> BackendResult<Arc<Node>> {
        let id = parent.child(i);
        let child = self.load(&id, Some(parent.level - 1))?;
        if child.first_key() != parent.entries[i].key.as_slice() {
            return Err(integrity(
                &id,
                "node does not start at the key its parent records",
            ));
        }
        Ok(child)
    }

    fn root_node(&self) -> BackendResult<Option<Arc<Node>>> {
        self.root.as_ref().map(|r| self.load(r, None)).transpose()
    }

    fn tree_get(&self, key: &[u8]) -> BackendResult<Option<Vec<u8>>> {
        let Some(mut node) = self.root_node()? else {
            return Ok(None);
        };
        loop {
            if node.is_leaf() {
                return Ok(node
                    .entries
                    .binary_search_by(|e| e.key.as_slice().cmp(key))
                    .ok()
                    .map(|i| node.entries[i].val.clone()));
            }
            let Some(i) = node.child_index(key) else {
                return Ok(None);
            };
            node = self.load_child(&node, i)?;
        }
    }

    /// The tree's first entry above `lower`.
    fn tree_seek_up(&self, lower: Bound<&[u8]>) -> BackendResult<Option<(Vec<u8>, Vec<u8>)>> {
        let Some(root) = self.root_node()? else {
            return Ok(None);
        };
        self.seek_up(&root, lower)
    }

    fn seek_up(
        &self,
        node: &Node,
        lower: Bound<&[u8]>,
    ) -> BackendResult<Option<(Vec<u8>, Vec<u8>)>> {
        let above = |k: &[u8]| match lower {
            Unbounded => true,
            Included(b) => k >= b,
            Excluded(b) => k > b,
        };
        if node.is_leaf() {
            let i = node.entries.partition_point(|e| !above(&e.key));
            return Ok(node.entries.get(i).map(|e| (e.key.clone(), e.val.clone())));
        }
        let first = match lower {
            Unbounded => 0,
            Included(b) | Excluded(b) => node.child_index(b).unwrap_or(0),
        };
        // The first candidate child may hold nothing above the bound; the next one then
        // starts above it.
        for i in first..node.entries.len() {
            let child = self.load_child(node, i)?;
            if let Some(found) = self.seek_up(&child, lower)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// The tree's last entry below `upper`.
    fn tree_seek_down(&self, upper: Bound<&[u8]>) -> BackendResult<Option<(Vec<u8>, Vec<u8>)>> {
        let Some(root) = self.root_node()? else {
            return Ok(None);
        };
        self.seek_down(&root, upper)
    }

    fn seek_down(
        &self,
        node: &Node,
        upper: Bound<&[u8]>,
    ) -> BackendResult<Option<(Vec<u8>, Vec<u8>)>> {
        let below = |k: &[u8]| match upper {
            Unbounded => true,
            Included(b) => k <= b,
            Excluded(b) => k < b,
        };
        let n = node.entries.partition_point(|e| below(&e.key));
        if node.is_leaf() {
            return Ok(n
                .checked_sub(1)
                .map(|i| (node.entries[i].key.clone(), node.entries[i].val.clone())));
        }
        // Every child whose first key is below the bound holds an entry below it.
        for i in (0..n).rev() {
            let child = self.load_child(node, i)?;
            if let Some(found) = self.seek_down(&child, upper)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// First entry of the merged view (overlay over tree) above `lower`, ascending. Stops
    /// early (None) once keys reach `stop`, where nothing can be in range any more.
    fn merged_up(
        &self,
        mut lower: Bound<Vec<u8>>,
        stop: Option<&[u8]>,
    ) -> BackendResult<Option<(Vec<u8>, Vec<u8>)>> {
        let mut tree: Option<Option<(Vec<u8>, Vec<u8>)>> = None;
        loop {
            let lower_ref = as_ref(&lower);
            if tree.is_none() {
                tree = Some(self.tree_seek_up(lower_ref)?);
            }
            let t = tree.as_ref().expect("set above").as_ref();
            let o = self.overlay.range::<[u8], _>((lower_ref, Unbounded)).next();
            match (t, o) {
                (None, None) => return Ok(None),
                (Some(t), o) if o.is_none_or(|(ok, _)| t.0 < *ok) => {
                    return Ok(Some(t.clone()));
                }
                (t, Some((ok, ov))) => {
                    if let Some(v) = ov {
                        return Ok(Some((ok.clone(), v.clone())));
                    }
                    // Removed in this call: skip it (and the tree's entry if it is the same key).
                    if stop.is_some_and(|s| ok.as_slice() >= s) {
                        return Ok(None);
                    }
                    if t.is_some_and(|t| t.0 == *ok) {
                        tree = None;
                    }
                    lower = Excluded(ok.clone());
                }
                (Some(_), None) => unreachable!("matched by the second arm"),
            }
        }
    }

    /// Last entry of the merged view below `upper`, descending; stops below `stop`.
    fn merged_down(
        &self,
        mut upper: Bound<Vec<u8>>,
        stop: Option<&[u8]>,
    ) -> BackendResult<Option<(Vec<u8>, Vec<u8>)>> {
        let mut tree: Option<Option<(Vec<u8>, Vec<u8>)>> = None;
        loop {
            let upper_ref = as_ref(&upper);
            if tree.is_none() {
                tree = Some(self.tree_seek_down(upper_ref)?);
            }
            let t = tree.as_ref().expect("set above").as_ref();
            let o = self
                .overlay
                .range::<[u8], _>((Unbounded, upper_ref))
                .next_back();
            match (t, o) {
                (None, None) => return Ok(None),
                (Some(t), o) if o.is_none_or(|(ok, _)| t.0 > *ok) => {
                    return Ok(Some(t.clone()));
                }
                (t, Some((ok, ov))) => {
                    if let Some(v) = ov {
                        return Ok(Some((ok.clone(), v.clone())));
                    }
                    if stop.is_some_and(|s| ok.as_slice() < s) {
                        return Ok(None);
                    }
                    if t.is_some_and(|t| t.0 == *ok) {
                        tree = None;
                    }
                    upper = Excluded(ok.clone());
                }
                (Some(_), None) => unreachable!("matched by the second arm"),
            }
        }
    }
}

fn as_ref(b: &Bound<Vec<u8>>) -> Bound<&[u8]> {
    match b {
        Unbounded => Unbounded,
        Included(k) => Included(k.as_slice()),
        Excluded(k) => Excluded(k.as_slice()),
    }
}

impl<S: NodeSource + 'static> Storage for VerifiedState<S> {
    fn get(&self, key: &[u8]) -> BackendResult<Option<Vec<u8>>> {
        match self.overlay.get(key) {
            Some(pending) => Ok(pending.clone()),
            None => self.tree_get(key),
        }
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> BackendResult<()> {
        if let Some(Some(mut old)) = self.overlay.insert(key.to_vec(), Some(value.to_vec())) {
            old.zeroize();
        }
        Ok(())
    }

    fn remove(&mut self, key: &[u8]) -> BackendResult<()> {
        if let Some(Some(mut old)) = self.overlay.insert(key.to_vec(), None) {
            old.zeroize();
        }
        Ok(())
    }

    /// Exactly `MemoryStorage`'s semantics: the first key strictly beyond `after` (or the
    /// range's own bound when `after` is `None`), returned only if it lies in `range`.
    fn next_in_range(
        &self,
        range: &KeyRange,
        order: Order,
        after: Option<&[u8]>,
    ) -> BackendResult<Option<(Vec<u8>, Vec<u8>)>> {
        let from = range.resume_bound(order, after).map(<[u8]>::to_vec);
        let found = match order {
            Order::Ascending => self.merged_up(from, range.end.as_deref())?,
            Order::Descending => self.merged_down(from, range.start.as_deref())?,
        };
        Ok(found.filter(|(k, _)| range.contains(k)))
    }
}

impl<S: NodeSource> Drop for VerifiedState<S> {
    fn drop(&mut self) {
        for (k, v) in std::mem::take(&mut self.overlay) {
            let (mut k, mut v) = (k, v);
            k.zeroize();
            v.zeroize();
        }
    }
}

impl<S: NodeSource> std::fmt::Debug for VerifiedState<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedState")
            .field("root", &self.root)
            .field("pending_writes", &self.overlay.len())
            .finish_non_exhaustive()
    }
}
