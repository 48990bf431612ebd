//! Certified blocks: the enclave executes signed transactions only inside a block whose
//! commit certificate it verified itself, against the validator set of its own genesis.
//!
//! A host can therefore not run a transaction the network never decided, run one out of
//! its block's order, at another height or time, or feed its enclave a second block at a
//! height it has executed (an offline fork).

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
    tx_hashes: Vec<Hash>,
    /// Index of the transaction that ran last: a later call may be for it or a later one.
    cursor: usize,
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
        tx_hashes: Vec<Hash>,
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
            Some(last) => (last.height + 1, last.time_nanos + 1),
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
            tx_hashes,
            cursor: 0,
        });
        Ok(())
    }

    /// Closes the open block and seals the state as of its end.
    pub(crate) fn end_block(&mut self) -> EnclaveResult<SealedCheckpoint> {
        let open = self
            .chain
            .open
            .take()
            .ok_or_else(|| refuse("no block is open"))?;
        self.chain.last = Some(ExecutedBlock {
            height: open.height,
            hash: open.hash,
            time_nanos: open.time_nanos,
        });
        self.checkpoint()
    }

    /// Admits a signed transaction only as part of the open block: at its height and
    /// time, present in it, and not before a transaction that already ran.
    pub(crate) fn bind_to_block(
        &mut self,
        tx: &[u8],
        height: u64,
        time_nanos: u64,
    ) -> EnclaveResult<()> {
        let open = self.chain.open.as_mut().ok_or_else(|| {
            refuse("no certified block is open: a signed transaction runs only inside one")
        })?;
        if height != open.height || time_nanos != open.time_nanos {
            return Err(refuse(format!(
                "the call claims height {height} at {time_nanos} ns; the open block is {} at {} ns",
                open.height, open.time_nanos
            )));
        }
        let hash = veil_types::tx_hash(tx);
        match open.tx_hashes[open.cursor..]
            .iter()
            .position(|h| *h == hash)
        {
            Some(offset) => {
                open.cursor += offset;
                Ok(())
            }
            None if open.tx_hashes[..open.cursor].contains(&hash) => Err(refuse(format!(
                "transaction {} comes after a later transaction of block {}: calls run in the block's order",
                hex::encode(hash),
                open.height
            ))),
            None => Err(refuse(format!(
                "transaction {} is not in certified block {}",
                hex::encode(hash),
                open.height
            ))),
        }
    }

    /// Admits a signed transaction that is not a contract call (it names no height or
    /// time of its own) only as part of the open block.
    pub(crate) fn bind_admin_tx(&mut self, tx: &[u8]) -> EnclaveResult<()> {
        let open = self.chain.open.as_ref().ok_or_else(|| {
            refuse("no certified block is open: a signed transaction runs only inside one")
        })?;
        let (height, time_nanos) = (open.height, open.time_nanos);
        self.bind_to_block(tx, height, time_nanos)
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
