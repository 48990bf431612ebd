//! Transactions waiting for a block: checked on arrival, bounded, in arrival order.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use veil_types::Hash;

use crate::app::{reject, CheckedTx, Checker, Rejection};

struct Entry {
    hash: Hash,
    bytes: Vec<u8>,
    sender: String,
    sequence: u64,
    fee: u128,
    gas_limit: u64,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Entry>,
    hashes: HashSet<Hash>,
    /// Per sender: transactions waiting and their fees.
    senders: HashMap<String, (u64, u128)>,
    bytes: usize,
}

impl Inner {
    fn push(&mut self, tx: CheckedTx, bytes: Vec<u8>) {
        let entry = self.senders.entry(tx.sender.clone()).or_default();
        entry.0 += 1;
        entry.1 += tx.fee;
        self.bytes += bytes.len();
        self.hashes.insert(tx.hash);
        self.queue.push_back(Entry {
            hash: tx.hash,
            bytes,
            sender: tx.sender,
            sequence: tx.sequence,
            fee: tx.fee,
            gas_limit: tx.gas_limit,
        });
    }

    fn rebuild_index(&mut self) {
        self.hashes = self.queue.iter().map(|e| e.hash).collect();
        self.bytes = self.queue.iter().map(|e| e.bytes.len()).sum();
        self.senders.clear();
        for e in &self.queue {
            let s = self.senders.entry(e.sender.clone()).or_default();
            s.0 += 1;
            s.1 += e.fee;
        }
    }
}

pub struct Mempool {
    inner: Mutex<Inner>,
    max_txs: usize,
    max_bytes: usize,
}

impl Mempool {
    pub fn new(max_txs: usize, max_bytes: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            max_txs,
            max_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Checks a transaction and queues it; returns its hash or why it was refused.
    pub fn submit(&self, bytes: Vec<u8>, checker: &Checker) -> Result<Hash, Rejection> {
        // The expensive checks (signature, code validation) run without the lock.
        let tx = checker.check_stateless(&bytes)?;
        let mut inner = self.lock();
        if inner.hashes.contains(&tx.hash) {
            return Err(reject("duplicate", "transaction is already in the mempool"));
        }
        if inner.queue.len() >= self.max_txs || inner.bytes + bytes.len() > self.max_bytes {
            return Err(reject(
                "mempool_full",
                format!(
                    "mempool is full ({} transactions, {} bytes); try again after the next block",
                    inner.queue.len(),
                    inner.bytes
                ),
            ));
        }
        let (waiting, fees) = inner.senders.get(&tx.sender).copied().unwrap_or_default();
        checker.check_account(&tx, waiting, fees)?;
        let hash = tx.hash;
        inner.push(tx, bytes);
        Ok(hash)
    }

    pub fn contains(&self, hash: &Hash) -> bool {
        self.lock().hashes.contains(hash)
    }

    pub fn len(&self) -> usize {
        self.lock().queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The oldest transactions, up to the block limits (count, bytes, gas), for the next
    /// block (they stay queued until [`Mempool::commit`]).
    pub fn peek(&self, max_txs: usize, max_bytes: usize, max_gas: u64) -> Vec<Vec<u8>> {
        let inner = self.lock();
        let (mut bytes, mut gas) = (0usize, 0u64);
        inner
            .queue
            .iter()
            .take(max_txs)
            .take_while(|e| {
                bytes += e.bytes.len();
                gas = gas.saturating_add(e.gas_limit);
                bytes <= max_bytes && gas <= max_gas
            })
            .map(|e| e.bytes.clone())
            .collect()
    }

    /// Runs `commit` (the block's durable write) while no transaction can be checked,
    /// then drops the block's `included` transactions (whoever proposed it) and any that
    /// can no longer apply.
    pub fn commit<T, E>(
        &self,
        included: &[Hash],
        checker: &Checker,
        commit: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let mut inner = self.lock();
        let result = commit()?;
        let included: HashSet<&Hash> = included.iter().collect();
        inner.queue.retain(|e| !included.contains(&e.hash));
        // Recheck sequences: a sender's waiting transactions must continue its sequence.
        let mut next: HashMap<String, u64> = HashMap::new();
        inner.queue.retain(|e| {
            let expected = next
                .entry(e.sender.clone())
                .or_insert_with(|| checker.sequence(&e.sender));
            if e.sequence == *expected {
                *expected += 1;
                true
            } else {
                false
            }
        });
        inner.rebuild_index();
        Ok(result)
    }
}
