//! Certified blocks: the enclave executes signed transactions only inside a block whose
//! commit certificate it verified itself, against the validator set of its own genesis.
//!
//! A host can therefore not run a transaction the network never decided, run one out of
//! its block's order, at another height or time, drop one that takes the enclave (it must
//! run or be left out for a reason the enclave verifies, `left_out.rs`), or feed its
//! enclave a second block at a height it has executed (an offline fork).

use serde::{Deserialize, Serialize};
use veil_types::consensus::{verify_commit_certificate, CommitCertificate, ValidatorSet};
use veil_types::BlockHeader;

use super::*;

/// The last block this enclave executed (sealed with its state).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ExecutedBlock {
    pub(crate) height: u64,
    pub(crate) hash: Hash,
    pub(crate) time_nanos: u64,
}

/// The block being executed, between `BeginBlock` and `EndBlock`.
#[derive(Debug, Clone)]
pub(crate) struct OpenBlock {
    height: u64,
    hash: Hash,
    time_nanos: u64,
    txs: Vec<BlockTx>,
    /// Index of the transaction that ran (or was left out) last: a later call may be for
    /// it or a later one.
    cursor: usize,
}

/// A transaction of the open block.
#[derive(Debug, Clone)]
struct BlockTx {
    hash: Hash,
    bytes: Vec<u8>,
    /// It takes the enclave (all but bank sends, `Msg::runs_in_enclave`).
    needs_enclave: bool,
    /// It ran here or was left out for a verified reason.
    settled: bool,
}

/// The enclave's view of the chain it executes.
#[derive(Debug, Default)]
pub(crate) struct ChainCursor {
    /// From the genesis; none in a genesis without validators (then no block opens).
    pub(crate) validators: Option<ValidatorSet>,
    pub(crate) last: Option<ExecutedBlock>,
    pub(crate) open: Option<OpenBlock>,
}

fn refuse(message: impl Into<String>) -> EnclaveError {
    fail(ErrorKind::Block, message)
}

impl Enclave {
    /// Verifies and opens the next block (see `Ecall::BeginBlock`).
    pub(crate) fn begin_block(
        &mut self,
        header: &[u8],
        txs: Vec<Vec<u8>>,
        certificate: &[u8],
    ) -> EnclaveResult<()> {
        let genesis = &self.identity()?.genesis;
        let chain = &self.chain;
        if let Some(open) = &chain.open {
            return Err(refuse(format!(
                "block {} is still open: end it before the next",
                open.height
            )));
        }
        let header: BlockHeader = veil_types::decode_exact(header)
            .map_err(|e| refuse(format!("block header does not decode: {e}")))?;
        let certificate: CommitCertificate = veil_types::decode_exact(certificate)
            .map_err(|e| refuse(format!("commit certificate does not decode: {e}")))?;
        let validators = chain.validators.as_ref().ok_or_else(|| {
            refuse("the genesis names no validators: this enclave executes no blocks")
        })?;
        if header.chain_id != genesis.chain_id {
            return Err(refuse(format!(
                "block is for chain {:?}, this enclave's is {:?}",
                header.chain_id, genesis.chain_id
            )));
        }
        let (expected, min_time) = match &chain.last {
            Some(last) => {
                // A block at the largest time has no successor (found by fuzzing: the
                // sum overflowed, and without overflow checks wrapped to 0).
                let min_time = last.time_nanos.checked_add(1).ok_or_else(|| {
                    refuse(format!(
                        "block {} has the largest time: no block can follow it",
                        last.height
                    ))
                })?;
                (last.height + 1, min_time)
            }
            None => (1, genesis.genesis_time_nanos),
        };
        if header.height != expected {
            return Err(refuse(format!(
                "block {} is not the next block: this enclave executed up to height {} and never executes a height twice",
                header.height,
                expected - 1
            )));
        }
        if let Some(last) = &chain.last {
            if header.prev_block_hash != last.hash {
                return Err(refuse(format!(
                    "block {} does not follow block {} this enclave executed",
                    header.height, last.height
                )));
            }
        }
        if header.time_nanos < min_time {
            return Err(refuse(format!(
                "block {} has time {} ns, before its predecessor's",
                header.height, header.time_nanos
            )));
        }
        let txs: Vec<BlockTx> = txs
            .into_iter()
            .map(|bytes| BlockTx {
                hash: veil_types::tx_hash(&bytes),
                // One that does not decode can never run here (nor anywhere).
                needs_enclave: veil_types::Tx::from_bytes(&bytes)
                    .is_ok_and(|tx| tx.body.msg.runs_in_enclave()),
                bytes,
                settled: false,
            })
            .collect();
        let tx_hashes: Vec<Hash> = txs.iter().map(|tx| tx.hash).collect();
        if veil_types::txs_hash(&tx_hashes) != header.txs_hash {
            return Err(refuse(format!(
                "the transaction list does not match block {}'s header",
                header.height
            )));
        }
        let hash = header.hash();
        verify_commit_certificate(
            &certificate,
            validators,
            &genesis.chain_id,
            header.height,
            &hash,
        )
        .map_err(|e| {
            refuse(format!(
                "block {} has no valid commit certificate: {e}",
                header.height
            ))
        })?;
        self.chain.open = Some(OpenBlock {
            height: header.height,
            hash,
            time_nanos: header.time_nanos,
            txs,
            cursor: 0,
        });
        Ok(())
    }

    /// Closes the open block and seals the state as of its end — not while a
    /// transaction of it that takes the enclave has neither run nor been left out.
    pub(crate) fn end_block(&mut self) -> EnclaveResult<SealedCheckpoint> {
        let open = self
            .chain
            .open
            .as_ref()
            .ok_or_else(|| refuse("no block is open"))?;
        open.refuse_gap(open.cursor, open.txs.len())?;
        let open = self.chain.open.take().expect("checked above");
        self.chain.last = Some(ExecutedBlock {
            height: open.height,
            hash: open.hash,
            time_nanos: open.time_nanos,
        });
        self.checkpoint()
    }

    /// Admits a signed transaction only as part of the open block: at its height and
    /// time, present in it, not before a transaction that already ran, and not past one
    /// that takes the enclave and neither ran nor was left out.
    pub(crate) fn bind_to_block(
        &mut self,
        tx: &[u8],
        height: u64,
        time_nanos: u64,
    ) -> EnclaveResult<Hash> {
        let open = self.chain.open.as_mut().ok_or_else(|| {
            refuse("no certified block is open: a signed transaction runs only inside one")
        })?;
        if height != open.height || time_nanos != open.time_nanos {
            return Err(refuse(format!(
                "the call claims height {height} at {time_nanos} ns; the open block is {} at {} ns",
                open.height, open.time_nanos
            )));
        }
        let index = open.position(tx)?;
        open.refuse_gap(open.cursor, index)?;
        open.txs[index].settled = true;
        open.cursor = index;
        Ok(open.txs[index].hash)
    }

    /// `Ecall::LeaveOut`: transaction `index` of the open block never reached the enclave
    /// because of `reason`, which the enclave checks against the transaction and its own
    /// records as they are at that point of the block.
    pub(crate) fn leave_out(&mut self, index: u32, reason: LeftOut) -> EnclaveResult<()> {
        let open = self
            .chain
            .open
            .as_ref()
            .ok_or_else(|| refuse("no certified block is open"))?;
        let index = index as usize;
        let Some(tx) = open.txs.get(index) else {
            return Err(refuse(format!(
                "block {} has {} transactions, there is none at index {index}",
                open.height,
                open.txs.len()
            )));
        };
        if !tx.needs_enclave {
            return Err(refuse(format!(
                "transaction {index} of block {} does not take the enclave: there is nothing to leave out",
                open.height
            )));
        }
        if tx.settled || index < open.cursor {
            return Err(refuse(format!(
                "transaction {index} of block {} already ran or comes before one that did",
                open.height
            )));
        }
        open.refuse_gap(open.cursor, index)?;
        let (height, bytes, hash) = (open.height, tx.bytes.clone(), tx.hash);
        self.verify_left_out(&bytes, &hash, reason).map_err(|why| {
            refuse(format!(
                "transaction {index} of block {height} cannot be left out as {reason:?}: {why}"
            ))
        })?;
        let open = self.chain.open.as_mut().expect("checked above");
        open.txs[index].settled = true;
        open.cursor = index;
        Ok(())
    }

    /// Admits a signed transaction that is not a contract call (it names no height or
    /// time of its own) only as part of the open block.
    pub(crate) fn bind_admin_tx(&mut self, tx: &[u8]) -> EnclaveResult<()> {
        let open = self.chain.open.as_ref().ok_or_else(|| {
            refuse("no certified block is open: a signed transaction runs only inside one")
        })?;
        let (height, time_nanos) = (open.height, open.time_nanos);
        self.bind_to_block(tx, height, time_nanos).map(|_| ())
    }

    /// The open block's time (what `register_node` verifies attestations at).
    pub(crate) fn open_block_time(&self) -> EnclaveResult<u64> {
        self.chain
            .open
            .as_ref()
            .map(|open| open.time_nanos)
            .ok_or_else(|| {
                refuse("no certified block is open: a signed transaction runs only inside one")
            })
    }
}

impl OpenBlock {
    /// Where the transaction `bytes` is in the block, at or after the cursor. Found by
    /// its bytes, not its hash: the block's hashes were computed once as it opened, and
    /// the next transaction is almost always at the cursor or just after it.
    fn position(&self, bytes: &[u8]) -> EnclaveResult<usize> {
        match self.txs[self.cursor..]
            .iter()
            .position(|tx| tx.bytes == bytes)
        {
            Some(offset) => Ok(self.cursor + offset),
            None if self.txs[..self.cursor].iter().any(|tx| tx.bytes == bytes) => {
                let hash = veil_types::tx_hash(bytes);
                Err(refuse(format!(
                    "transaction {} comes after a later transaction of block {}: calls run in the block's order",
                    hex::encode(hash),
                    self.height
                )))
            }
            None => Err(refuse(format!(
                "transaction {} is not in certified block {}",
                hex::encode(veil_types::tx_hash(bytes)),
                self.height
            ))),
        }
    }

    /// Refuses to pass over `from..to` if a transaction there takes the enclave and has
    /// neither run nor been left out: the host dropped a call of the certified block.
    fn refuse_gap(&self, from: usize, to: usize) -> EnclaveResult<()> {
        match (from..to).find(|&i| self.txs[i].needs_enclave && !self.txs[i].settled) {
            Some(i) => Err(refuse(format!(
                "transaction {i} ({}) of certified block {} takes the enclave but neither ran nor was left out for a reason: a host may not drop a call of a decided block",
                hex::encode(self.txs[i].hash),
                self.height
            ))),
            None => Ok(()),
        }
    }
}
