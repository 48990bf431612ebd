//! Transactions waiting for a block: checked on arrival, bounded, in arrival order.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use veil_types::Hash;

use crate::app::{reject, CheckedTx, Checker, Rejection};

struct Entry {
    tx: CheckedTx,
    bytes: Vec<u8>,
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<Entry>,
    hashes: HashSet<Hash>,
    /// Per sender: transactions waiting and the most they can take (fees and funds).
    senders: HashMap<String, (u64, u128)>,
    bytes: usize,
}

impl Inner {
    fn push(&mut self, tx: CheckedTx, bytes: Vec<u8>) {
        let entry = self.senders.entry(tx.sender.clone()).or_default();
        entry.0 += 1;
        entry.1 = entry.1.saturating_add(tx.debit());
        self.bytes += bytes.len();
        self.hashes.insert(tx.hash);
        self.queue.push_back(Entry { tx, bytes });
    }

    fn rebuild_index(&mut self) {
        self.hashes = self.queue.iter().map(|e| e.tx.hash).collect();
        self.bytes = self.queue.iter().map(|e| e.bytes.len()).sum();
        self.senders.clear();
        for e in &self.queue {
            let s = self.senders.entry(e.tx.sender.clone()).or_default();
            s.0 += 1;
            s.1 = s.1.saturating_add(e.tx.debit());
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
        let (waiting, debits) = inner.senders.get(&tx.sender).copied().unwrap_or_default();
        checker.check_account(&tx, waiting, debits)?;
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

    /// The oldest transactions, up to the block limits (count, bytes, gas), that keep to
    /// the block rule (`BlockBudget`) on the committed state, for the next block (they
    /// stay queued until [`Mempool::commit`]).
    pub fn peek(
        &self,
        max_txs: usize,
        max_bytes: usize,
        max_gas: u64,
        checker: &Checker,
    ) -> Vec<Vec<u8>> {
        let inner = self.lock();
        let mut budget = checker.block_budget();
        let (mut bytes, mut gas) = (0usize, 0u64);
        let mut block = Vec::new();
        for e in &inner.queue {
            if block.len() == max_txs {
                break;
            }
            bytes += e.bytes.len();
            gas = gas.saturating_add(e.tx.gas_limit);
            if bytes > max_bytes || gas > max_gas {
                break;
            }
            if budget.admit(&e.tx).is_ok() {
                block.push(e.bytes.clone());
            } else {
                bytes -= e.bytes.len();
                gas -= e.tx.gas_limit;
            }
        }
        block
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
        inner.queue.retain(|e| !included.contains(&e.tx.hash));
        // Recheck what waits against the new state (another proposer's block may have
        // held the same senders' transactions): each must still keep to the block rule.
        let mut budget = checker.block_budget();
        inner.queue.retain(|e| budget.admit(&e.tx).is_ok());
        inner.rebuild_index();
        Ok(result)
    }
}
