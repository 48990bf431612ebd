//! The enclave's trusted records — every contract's record, every sender's next sequence,
//! every code a signed `store_code` recorded — kept by the host like contract state: one
//! encrypted, verified `veil-state` tree whose root the sealed state carries. A checkpoint
//! writes only the nodes its block changed, so its cost follows the block, not the chain;
//! reads go through a bounded cache of verified records, so the enclave's memory does not
//! grow with the chain either.

use lru::LruCache;
use std::num::NonZeroUsize;

use super::*;

/// Records the enclave keeps decoded between blocks (each a few hundred bytes at most).
const CACHED_RECORDS: usize = 65_536;
/// Verified tree nodes kept within a block (the tree's own cache).
const NODE_CACHE_BYTES: usize = 16 << 20;
/// The name the records tree's node fetches carry (not an address: no contract has it).
pub const RECORDS_TREE: &str = "veil/records";
/// Part of the tree's binding, so its blobs never verify as any contract's.
const RECORDS_BINDING: &[u8] = b"veil/records-v1";

/// Where the records stood at the last checkpoint: what the sealed state carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordsRoot {
    pub root: Option<Hash>,
    /// Contracts recorded (wasmd's classic addresses count instances from it).
    pub contracts: u64,
    /// Codes recorded: code ids 1..=codes exist.
    pub codes: u64,
}

/// The records tree, shared by the enclave and a running call's queriers and dispatcher.
pub struct Records {
    inner: Mutex<Inner>,
}

struct Inner {
    /// Open at `committed.root`; its pending writes are the changes since that checkpoint.
    tree: Option<VerifiedState<OcallNodeSource>>,
    channel: Option<Arc<dyn OcallChannel>>,
    key: [u8; 32],
    genesis_hash: Hash,
    committed: RecordsRoot,
    /// The counts with this block's changes.
    current: RecordsRoot,
    /// Verified values by tree key (`None`: absent), committed or pending alike: the
    /// enclave is the tree's only writer, so a cached value stays true until it writes.
    cache: LruCache<Vec<u8>, Option<Vec<u8>>>,
    /// Counts the trees opened (each checkpoint opens one): a savepoint taken on an
    /// earlier tree has nothing to restore.
    opened: u64,
    /// What each write since the last savepoint replaced, oldest first: a rollback puts
    /// it back (a journal, so a savepoint costs nothing however much the block wrote).
    journal: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

/// Where the records stood when an ecall began: an ecall that fails goes back to it, so
/// a failure part-way through (state the host withheld, say) changes no record.
pub(crate) struct Savepoint {
    opened: u64,
    current: RecordsRoot,
}

impl Drop for Inner {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.key);
    }
}

fn contract_key(address: &str) -> Vec<u8> {
    [b"contract/".as_slice(), address.as_bytes()].concat()
}

fn sender_key(address: &str) -> Vec<u8> {
    [b"sender/".as_slice(), address.as_bytes()].concat()
}

fn code_key(code_id: u64) -> Vec<u8> {
    [b"code/".as_slice(), &code_id.to_be_bytes()].concat()
}

fn integrity(e: impl std::fmt::Display) -> EnclaveError {
    fail(ErrorKind::StateIntegrity, format!("enclave records: {e}"))
}

impl Default for Records {
    /// No records until `Init` opens them.
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                tree: None,
                channel: None,
                key: [0; 32],
                genesis_hash: [0; 32],
                committed: RecordsRoot::default(),
                current: RecordsRoot::default(),
                cache: LruCache::new(NonZeroUsize::new(CACHED_RECORDS).expect("non-zero")),
                opened: 0,
                journal: Vec::new(),
            }),
        }
    }
}

impl Records {
    /// The records as of a checkpoint, read through `channel`.
    pub fn open(
        channel: Arc<dyn OcallChannel>,
        key: [u8; 32],
        genesis_hash: Hash,
        at: RecordsRoot,
    ) -> Self {
        let records = Self::default();
        {
            let mut inner = records.lock();
            inner.key = key;
            inner.genesis_hash = genesis_hash;
            inner.committed = at;
            inner.current = at;
            let tree = inner.open_tree(&channel, at.root);
            inner.tree = Some(tree);
            inner.channel = Some(channel);
        }
        records
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn contract(&self, address: &str) -> EnclaveResult<Option<TrustedContract>> {
        self.lock()
            .read(contract_key(address))?
            .map(|bytes| postcard::from_bytes(&bytes).map_err(integrity))
            .transpose()
    }

    pub(crate) fn has_contract(&self, address: &str) -> EnclaveResult<bool> {
        Ok(self.lock().read(contract_key(address))?.is_some())
    }

    pub(crate) fn set_contract(
        &self,
        address: &str,
        record: &TrustedContract,
    ) -> EnclaveResult<()> {
        let mut inner = self.lock();
        let key = contract_key(address);
        if inner.read(key.clone())?.is_none() {
            inner.current.contracts += 1;
        }
        inner.write(key, postcard::to_stdvec(record).expect("records serialize"))
    }

    /// How many contracts exist (recorded ones; a running call adds its own).
    pub(crate) fn contract_count(&self) -> u64 {
        self.lock().current.contracts
    }

    /// The lowest sequence `sender` may still use (0 for a sender never seen).
    pub fn next_sequence(&self, sender: &str) -> EnclaveResult<u64> {
        match self.lock().read(sender_key(sender))? {
            None => Ok(0),
            Some(bytes) => bytes
                .try_into()
                .map(u64::from_le_bytes)
                .map_err(|_| integrity("a sender's sequence is not 8 bytes")),
        }
    }

    pub fn set_next_sequence(&self, sender: &str, next: u64) -> EnclaveResult<()> {
        self.lock()
            .write(sender_key(sender), next.to_le_bytes().to_vec())
    }

    pub(crate) fn code(&self, code_id: u64) -> EnclaveResult<Option<CodeRecord>> {
        let mut inner = self.lock();
        if code_id == 0 || code_id > inner.current.codes {
            return Ok(None);
        }
        inner
            .read(code_key(code_id))?
            .map(|bytes| postcard::from_bytes(&bytes).map_err(integrity))
            .transpose()
    }

    /// Records code under the next code id and returns it.
    pub(crate) fn push_code(&self, record: &CodeRecord) -> EnclaveResult<u64> {
        let mut inner = self.lock();
        let code_id = inner.current.codes + 1;
        inner.write(
            code_key(code_id),
            postcard::to_stdvec(record).expect("records serialize"),
        )?;
        inner.current.codes = code_id;
        Ok(code_id)
    }

    /// Marks where the records stand now (see [`Savepoint`]).
    pub(crate) fn savepoint(&self) -> Savepoint {
        let mut inner = self.lock();
        inner.journal.clear();
        Savepoint {
            opened: inner.opened,
            current: inner.current,
        }
    }

    /// Undoes every write since `savepoint` (nothing when there was none, or when a
    /// checkpoint came between).
    pub(crate) fn rollback(&self, savepoint: Savepoint) {
        let mut inner = self.lock();
        if inner.opened != savepoint.opened {
            return;
        }
        inner.current = savepoint.current;
        let Inner {
            tree: Some(tree),
            cache,
            journal,
            ..
        } = &mut *inner
        else {
            return;
        };
        // Newest first, so a key written twice ends as it was before the first write.
        for (key, before) in journal.drain(..).rev() {
            // Pending writes only touch the overlay: neither can fail.
            let _ = match &before {
                Some(value) => tree.set(&key, value),
                None => tree.remove(&key),
            };
            cache.put(key, before);
        }
    }

    /// Where the records stood at the last checkpoint (what a seal carries).
    pub fn committed(&self) -> RecordsRoot {
        self.lock().committed
    }

    /// Commits the changes since the last checkpoint: the new root, and the nodes the host
    /// stores and deletes with the block.
    pub fn checkpoint(&self) -> EnclaveResult<(RecordsRoot, StateUpdate)> {
        let mut inner = self.lock();
        let unchanged = |root: RecordsRoot| StateUpdate {
            new_root: root.root,
            new_nodes: Vec::new(),
            released_nodes: Vec::new(),
        };
        let Some(tree) = inner.tree.take() else {
            return Ok((inner.committed, unchanged(inner.committed)));
        };
        let channel = inner.channel.clone().expect("open with the tree");
        if !tree.has_pending_writes() {
            inner.tree = Some(tree);
            return Ok((inner.committed, unchanged(inner.committed)));
        }
        let committed = match tree.commit() {
            Ok(commit) => commit,
            Err(e) => {
                // Nothing verified can be trusted to be in the cache: start over from the
                // last checkpoint (the block that failed is not committed either).
                inner.cache.clear();
                inner.current = inner.committed;
                let root = inner.committed.root;
                let tree = inner.open_tree(&channel, root);
                inner.tree = Some(tree);
                return Err(integrity(e));
            }
        };
        inner.committed = RecordsRoot {
            root: committed.root.map(|id| id.0),
            ..inner.current
        };
        let tree = inner.open_tree(&channel, committed.root.map(|id| id.0));
        inner.tree = Some(tree);
        let update = StateUpdate {
            new_root: committed.root.map(|id| id.0),
            new_nodes: committed
                .new_nodes
                .into_iter()
                .map(|(id, blob)| (id.0, blob))
                .collect(),
            released_nodes: committed.released.into_iter().map(|id| id.0).collect(),
        };
        Ok((inner.committed, update))
    }
}

impl Inner {
    fn open_tree(
        &mut self,
        channel: &Arc<dyn OcallChannel>,
        root: Option<Hash>,
    ) -> VerifiedState<OcallNodeSource> {
        self.opened += 1;
        self.journal.clear();
        let binding = [RECORDS_BINDING, &self.genesis_hash].concat();
        VerifiedState::open(
            OcallNodeSource::new(channel.clone(), RECORDS_TREE),
            NodeCipher::new(self.key, &binding),
            root.map(NodeId),
        )
        .with_cache_limit(NODE_CACHE_BYTES)
    }

    fn tree(&mut self) -> EnclaveResult<&mut VerifiedState<OcallNodeSource>> {
        self.tree
            .as_mut()
            .ok_or_else(|| fail(ErrorKind::NotInitialized, "enclave is not initialized"))
    }

    fn read(&mut self, key: Vec<u8>) -> EnclaveResult<Option<Vec<u8>>> {
        if let Some(value) = self.cache.get(&key) {
            return Ok(value.clone());
        }
        let value = self.tree()?.get(&key).map_err(integrity)?;
        self.cache.put(key, value.clone());
        Ok(value)
    }

    fn write(&mut self, key: Vec<u8>, value: Vec<u8>) -> EnclaveResult<()> {
        let before = self.read(key.clone())?;
        self.tree()?.set(&key, &value).map_err(integrity)?;
        self.journal.push((key.clone(), before));
        self.cache.put(key, Some(value));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use veil_enclave_abi::{decode, encode, Ocall, OcallResponse};

    /// The host's node store in memory; `withhold` makes it answer every fetch with none.
    #[derive(Default)]
    struct Host {
        nodes: Mutex<HashMap<Hash, Vec<u8>>>,
        withhold: AtomicBool,
    }

    impl OcallChannel for Host {
        fn ocall(&self, request: Vec<u8>) -> Result<Vec<u8>, String> {
            let Ocall::FetchNode { id, .. } = decode::<Ocall>(&request).unwrap() else {
                return Err("only nodes are fetched".into());
            };
            let withheld = self.withhold.load(SeqCst);
            let node = (!withheld).then(|| self.nodes.lock().unwrap().get(&id).cloned());
            Ok(encode(&OcallResponse::Node(node.flatten())))
        }
    }

    fn checkpoint(host: &Host, records: &Records) -> RecordsRoot {
        let (root, update) = records.checkpoint().unwrap();
        host.nodes.lock().unwrap().extend(update.new_nodes);
        root
    }

    fn contract(creator: &str) -> TrustedContract {
        TrustedContract {
            root: None,
            code_hash: [1; 32],
            init_code_hash: [1; 32],
            creator: creator.into(),
            admin: None,
            query_policy: QueryPolicy::public(),
        }
    }

    fn code() -> CodeRecord {
        CodeRecord {
            code_hash: [2; 32],
            default_query_policy: QueryPolicy::public(),
        }
    }

    #[test]
    fn a_rollback_undoes_every_write_since_the_savepoint_and_nothing_before() {
        let host = Arc::new(Host::default());
        let records = Records::open(host.clone(), [7; 32], [9; 32], RecordsRoot::default());
        records.set_next_sequence("alice", 1).unwrap();
        records.set_contract("c1", &contract("alice")).unwrap();
        let before = checkpoint(&host, &records);
        records.set_next_sequence("alice", 2).unwrap();

        let savepoint = records.savepoint();
        records.set_next_sequence("alice", 3).unwrap();
        records.set_next_sequence("alice", 4).unwrap();
        records.set_next_sequence("bob", 1).unwrap();
        records.set_contract("c1", &contract("mallory")).unwrap();
        records.set_contract("c2", &contract("bob")).unwrap();
        assert_eq!(records.push_code(&code()).unwrap(), 1);
        records.rollback(savepoint);

        // As the savepoint left them, through the cache and through the tree alike.
        let check = |records: &Records| {
            assert_eq!(records.next_sequence("alice").unwrap(), 2);
            assert_eq!(records.next_sequence("bob").unwrap(), 0);
            assert_eq!(records.contract("c1").unwrap(), Some(contract("alice")));
            assert!(!records.has_contract("c2").unwrap());
            assert_eq!(records.code(1).unwrap(), None);
            assert_eq!(records.contract_count(), 1);
        };
        check(&records);
        let after = checkpoint(&host, &records);
        assert_eq!((after.contracts, after.codes), (1, 0));
        check(&Records::open(host.clone(), [7; 32], [9; 32], after));
        // Only alice's 2 changed since the first checkpoint.
        assert_ne!(after.root, before.root);

        // A savepoint from before a checkpoint has nothing left to undo.
        let stale = records.savepoint();
        records.set_next_sequence("alice", 5).unwrap();
        checkpoint(&host, &records);
        records.rollback(stale);
        assert_eq!(records.next_sequence("alice").unwrap(), 5);
    }

    #[test]
    fn a_write_whose_record_the_host_withholds_fails_and_the_rollback_keeps_the_rest_out() {
        let host = Arc::new(Host::default());
        let records = Records::open(host.clone(), [7; 32], [9; 32], RecordsRoot::default());
        records.set_contract("c1", &contract("alice")).unwrap();
        // Enough records for more than one node, so reading alice's fetches only some.
        for i in 0..2_000 {
            records.set_next_sequence(&format!("sender{i}"), 1).unwrap();
        }
        let at = checkpoint(&host, &records);
        assert!(host.nodes.lock().unwrap().len() > 3);
        // A fresh enclave over the same records: nothing is cached yet.
        let records = Records::open(host.clone(), [7; 32], [9; 32], at);
        assert_eq!(records.next_sequence("alice").unwrap(), 0);

        let savepoint = records.savepoint();
        records.set_next_sequence("alice", 1).unwrap();
        // c2 sits beside c1 and alice, in the node that reading alice fetched; zoe sorts
        // after every sender, in a node not fetched yet.
        host.withhold.store(true, SeqCst);
        records.set_contract("c2", &contract("bob")).unwrap();
        assert_eq!(records.contract_count(), 2);
        let e = records.set_next_sequence("zoe", 1).unwrap_err();
        assert_eq!(e.kind, ErrorKind::StateIntegrity, "{e:?}");
        records.rollback(savepoint);
        host.withhold.store(false, SeqCst);

        assert_eq!(records.next_sequence("alice").unwrap(), 0);
        assert!(!records.has_contract("c2").unwrap());
        assert_eq!(records.contract_count(), 1);
        let (root, update) = records.checkpoint().unwrap();
        assert_eq!(root, at, "nothing changed");
        assert!(update.new_nodes.is_empty());
    }
}
