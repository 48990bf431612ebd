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
            inner.tree = Some(inner.open_tree(&channel, at.root));
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
                inner.tree = Some(inner.open_tree(&channel, inner.committed.root));
                return Err(integrity(e));
            }
        };
        inner.committed = RecordsRoot {
            root: committed.root.map(|id| id.0),
            ..inner.current
        };
        inner.tree = Some(inner.open_tree(&channel, committed.root.map(|id| id.0)));
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
        &self,
        channel: &Arc<dyn OcallChannel>,
        root: Option<Hash>,
    ) -> VerifiedState<OcallNodeSource> {
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
        self.tree()?.set(&key, &value).map_err(integrity)?;
        self.cache.put(key, Some(value));
        Ok(())
    }
}
