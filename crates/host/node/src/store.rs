//! The node's durable store: one redb database under the home directory.
//!
//! A block and everything it changed (accounts, codes, contracts, encrypted state nodes,
//! receipts, the commit certificate, the enclave's sealed checkpoint) are written in one redb write transaction,
//! committed with an fsync: after a crash the store holds either the whole block or none
//! of it. Equivocation evidence consensus reports is kept in tables of its own
//! ([`evidence`](Store::record_evidence)), written apart from blocks.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableTable, ReadableTableMetadata, TableDefinition};
use veil_enclave_abi::SealedCheckpoint;
use veil_types::consensus::CommitCertificate;
use veil_types::{
    decode_exact, Account, AttestationPolicyRecord, Block, CodeInfo, ContractInfo, Hash, Receipt,
    Registration, RegistrationInfo, RegistrationPage,
};

use crate::genesis::Genesis;
use crate::state::tree::{self, NodeSource, Position, TreeError};
use crate::state::StateChanges;

mod evidence;
pub use evidence::{
    Evidence, EvidenceEntry, EvidenceKind, EvidencePage, MAX_EVIDENCE_MESSAGE_BYTES,
    MAX_EVIDENCE_PAGE,
};

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const ACCOUNTS: TableDefinition<&str, &[u8]> = TableDefinition::new("accounts");
const CODES: TableDefinition<u64, &[u8]> = TableDefinition::new("codes");
const WASM: TableDefinition<&[u8], &[u8]> = TableDefinition::new("wasm");
const CONTRACTS: TableDefinition<&str, &[u8]> = TableDefinition::new("contracts");
const NODES: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state_nodes");
/// The public state tree's nodes by position (`state::tree`).
const STATE_TREE: TableDefinition<&[u8], &[u8]> = TableDefinition::new("state_tree");
const REGISTRATIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("registrations");
const BLOCKS: TableDefinition<u64, &[u8]> = TableDefinition::new("blocks");
const TXS: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("txs");
const RECEIPTS: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("receipts");
const TX_INDEX: TableDefinition<&[u8], (u64, u32)> = TableDefinition::new("tx_index");
/// Dev chains with inspection on: each contract call's record, sealed by the enclave to
/// the owner key, by transaction hash.
const INSPECTIONS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("inspections");
/// Each block's commit certificate (none for block 0).
const CERTIFICATES: TableDefinition<u64, &[u8]> = TableDefinition::new("certificates");

const META_HEIGHT: &str = "height";
const META_GENESIS: &str = "genesis";
const META_SEALED: &str = "enclave_sealed";
const META_SEAL_GENERATION: &str = "enclave_seal_generation";
/// The state root after the last committed block (the next header carries it).
const META_STATE_ROOT: &str = "state_root";
/// The attestation policy in force (`AttestationPolicyRecord`, postcard).
const META_ATTESTATION_POLICY: &str = "attestation_policy";
/// The native token in circulation (u128 big-endian), kept with every block.
const META_SUPPLY: &str = "supply";
/// How public state is laid out: [`STATE_FORMAT`] (absent in stores that predate the
/// state tree).
const META_STATE_FORMAT: &str = "state_format";
const STATE_FORMAT: &[u8] = b"tree-v2";
/// The most memory redb keeps as its page cache: with the record cache
/// (`state::CACHED_*`), what bounds the node's memory whatever the chain holds.
pub const STORE_CACHE_BYTES: usize = 256 << 20;
/// Most registrations one listing returns.
pub const MAX_REGISTRATIONS_PAGE: usize = 100;

#[derive(Debug, thiserror::Error)]
#[error("store: {0}")]
pub struct StoreError(pub String);

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    decode_exact(bytes).map_err(|e| StoreError(format!("corrupt {what} record: {e}")))
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("serializable")
}

/// Everything one block writes.
pub struct BlockCommit {
    pub block: Block,
    pub txs: Vec<Vec<u8>>,
    pub receipts: Vec<Receipt>,
    /// The public records the block changed, the state tree's writes and the state root
    /// after the block.
    pub state: StateChanges,
    pub wasm: Vec<(Hash, Vec<u8>)>,
    pub nodes: Vec<(Hash, Vec<u8>)>,
    /// State nodes no contract's new root uses (deleted in the same transaction).
    pub released_nodes: Vec<Hash>,
    pub checkpoint: Option<SealedCheckpoint>,
    /// The certificate the block was executed with (none for block 0).
    pub certificate: Option<CommitCertificate>,
    /// Inspection records of the block's contract calls (dev chains with `--inspect`).
    pub inspections: Vec<(Hash, Vec<u8>)>,
}

impl BlockCommit {
    /// A block with no transactions that changes only public state (genesis, tests,
    /// benches).
    pub fn state_only(block: Block, state: StateChanges) -> Self {
        Self {
            block,
            txs: Vec::new(),
            receipts: Vec::new(),
            state,
            wasm: Vec::new(),
            nodes: Vec::new(),
            released_nodes: Vec::new(),
            checkpoint: None,
            certificate: None,
            inspections: Vec::new(),
        }
    }
}

/// A public record as of the last committed block, with the proof that it — or its
/// absence — is under that block's state root (`docs/protocol.md`, "Proofs").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateProof {
    pub height: u64,
    /// The state root after block `height` (block `height + 1`'s header carries it).
    pub state_root: Hash,
    /// The record's postcard encoding; `None` when there is none.
    pub value: Option<Vec<u8>>,
    pub proof: tree::Proof,
}

/// What the enclave needs to start again where the last block left it.
pub struct EnclaveRecord {
    pub sealed_state: Vec<u8>,
    pub seal_generation: u64,
}

#[derive(Clone)]
pub struct Store {
    db: Arc<Database>,
}

impl Store {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::builder()
            .set_cache_size(STORE_CACHE_BYTES)
            .create(path)
            .map_err(|e| StoreError(format!("opening {}: {e}", path.display())))?;
        let txn = db.begin_write().map_err(err)?;
        {
            txn.open_table(META).map_err(err)?;
            txn.open_table(ACCOUNTS).map_err(err)?;
            txn.open_table(CODES).map_err(err)?;
            txn.open_table(WASM).map_err(err)?;
            txn.open_table(CONTRACTS).map_err(err)?;
            txn.open_table(NODES).map_err(err)?;
            txn.open_table(STATE_TREE).map_err(err)?;
            txn.open_table(REGISTRATIONS).map_err(err)?;
            txn.open_table(BLOCKS).map_err(err)?;
            txn.open_table(TXS).map_err(err)?;
            txn.open_table(RECEIPTS).map_err(err)?;
            txn.open_table(TX_INDEX).map_err(err)?;
            txn.open_table(CERTIFICATES).map_err(err)?;
            txn.open_table(INSPECTIONS).map_err(err)?;
            txn.open_table(evidence::EVIDENCE).map_err(err)?;
            txn.open_table(evidence::EVIDENCE_IDS).map_err(err)?;
        }
        txn.commit().map_err(err)?;
        Ok(Self { db: Arc::new(db) })
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(META).map_err(err)?;
        Ok(table.get(key).map_err(err)?.map(|v| v.value().to_vec()))
    }

    /// The last committed height; `None` before the chain was initialized.
    pub fn height(&self) -> Result<Option<u64>, StoreError> {
        Ok(match self.meta(META_HEIGHT)? {
            Some(bytes) => Some(u64::from_be_bytes(
                bytes
                    .try_into()
                    .map_err(|_| StoreError("corrupt height record".into()))?,
            )),
            None => None,
        })
    }

    pub fn genesis(&self) -> Result<Option<Genesis>, StoreError> {
        match self.meta(META_GENESIS)? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| StoreError(format!("corrupt genesis record: {e}"))),
            None => Ok(None),
        }
    }

    pub fn enclave_record(&self) -> Result<Option<EnclaveRecord>, StoreError> {
        let (Some(sealed_state), Some(generation)) =
            (self.meta(META_SEALED)?, self.meta(META_SEAL_GENERATION)?)
        else {
            return Ok(None);
        };
        let seal_generation = u64::from_be_bytes(
            generation
                .try_into()
                .map_err(|_| StoreError("corrupt seal generation record".into()))?,
        );
        Ok(Some(EnclaveRecord {
            sealed_state,
            seal_generation,
        }))
    }

    pub fn block(&self, height: u64) -> Result<Option<Block>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(BLOCKS).map_err(err)?;
        match table.get(height).map_err(err)? {
            Some(v) => Ok(Some(decode("block", v.value())?)),
            None => Ok(None),
        }
    }

    /// The commit certificate block `height` was executed with.
    pub fn certificate(&self, height: u64) -> Result<Option<CommitCertificate>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(CERTIFICATES).map_err(err)?;
        match table.get(height).map_err(err)? {
            Some(bytes) => CommitCertificate::from_bytes(bytes.value())
                .map(Some)
                .map_err(|e| StoreError(format!("corrupt certificate record: {e}"))),
            None => Ok(None),
        }
    }

    /// The last committed height and the state root after it, read together.
    pub fn tip(&self) -> Result<Option<(u64, Hash)>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(META).map_err(err)?;
        let height = table.get(META_HEIGHT).map_err(err)?;
        let root = table.get(META_STATE_ROOT).map_err(err)?;
        match (height, root) {
            (Some(height), Some(root)) => {
                let height = height
                    .value()
                    .try_into()
                    .map(u64::from_be_bytes)
                    .map_err(|_| StoreError("corrupt height record".into()))?;
                let root = root
                    .value()
                    .try_into()
                    .map_err(|_| StoreError("corrupt state root record".into()))?;
                Ok(Some((height, root)))
            }
            _ => Ok(None),
        }
    }

    /// The state root after the last committed block.
    pub fn state_root(&self) -> Result<Option<Hash>, StoreError> {
        match self.meta(META_STATE_ROOT)? {
            Some(bytes) => bytes
                .try_into()
                .map(Some)
                .map_err(|_| StoreError("corrupt state root record".into())),
            None => Ok(None),
        }
    }

    pub fn receipt(&self, height: u64, index: u32) -> Result<Option<Receipt>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(RECEIPTS).map_err(err)?;
        match table.get((height, index)).map_err(err)? {
            Some(v) => Ok(Some(decode("receipt", v.value())?)),
            None => Ok(None),
        }
    }

    pub fn tx(&self, height: u64, index: u32) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(TXS).map_err(err)?;
        Ok(table
            .get((height, index))
            .map_err(err)?
            .map(|v| v.value().to_vec()))
    }

    /// Where a transaction was included: (height, index).
    pub fn tx_location(&self, hash: &Hash) -> Result<Option<(u64, u32)>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(TX_INDEX).map_err(err)?;
        Ok(table.get(hash.as_slice()).map_err(err)?.map(|v| v.value()))
    }

    /// The inspection record of a transaction (sealed to the dev chain's owner key).
    pub fn inspection(&self, hash: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(INSPECTIONS).map_err(err)?;
        Ok(table
            .get(hash.as_slice())
            .map_err(err)?
            .map(|v| v.value().to_vec()))
    }

    pub fn account(&self, address: &str) -> Result<Option<Account>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(ACCOUNTS).map_err(err)?;
        match table.get(address).map_err(err)? {
            Some(v) => Ok(Some(decode("account", v.value())?)),
            None => Ok(None),
        }
    }

    pub fn code(&self, code_id: u64) -> Result<Option<CodeInfo>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(CODES).map_err(err)?;
        match table.get(code_id).map_err(err)? {
            Some(v) => Ok(Some(decode("code", v.value())?)),
            None => Ok(None),
        }
    }

    pub fn wasm(&self, code_hash: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(WASM).map_err(err)?;
        Ok(table
            .get(code_hash.as_slice())
            .map_err(err)?
            .map(|v| v.value().to_vec()))
    }

    pub fn registration(&self, key: &Hash) -> Result<Option<Registration>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(REGISTRATIONS).map_err(err)?;
        match table.get(key.as_slice()).map_err(err)? {
            Some(v) => decode("registration", v.value()).map(Some),
            None => Ok(None),
        }
    }

    /// Registrations in key order after `after` (exclusive), at most `limit` (capped at
    /// [`MAX_REGISTRATIONS_PAGE`]).
    pub fn registrations(
        &self,
        after: Option<&Hash>,
        limit: usize,
    ) -> Result<RegistrationPage, StoreError> {
        let limit = limit.clamp(1, MAX_REGISTRATIONS_PAGE);
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(REGISTRATIONS).map_err(err)?;
        let range = match after {
            Some(key) => table.range::<&[u8]>((
                std::ops::Bound::Excluded(key.as_slice()),
                std::ops::Bound::Unbounded,
            )),
            None => table.range::<&[u8]>(..),
        }
        .map_err(err)?;
        let mut registrations = Vec::new();
        let mut more = false;
        for entry in range {
            let (_, v) = entry.map_err(err)?;
            if registrations.len() == limit {
                more = true;
                break;
            }
            let registration: Registration = decode("registration", v.value())?;
            registrations.push(RegistrationInfo::from(&registration));
        }
        let next_after = more
            .then(|| registrations.last().map(|r| r.registration_key))
            .flatten();
        Ok(RegistrationPage {
            registrations,
            next_after,
        })
    }

    /// The attestation policy in force.
    pub fn attestation_policy(&self) -> Result<Option<AttestationPolicyRecord>, StoreError> {
        self.meta(META_ATTESTATION_POLICY)?
            .map(|bytes| decode("attestation policy", &bytes))
            .transpose()
    }

    pub fn contract(&self, address: &str) -> Result<Option<ContractInfo>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(CONTRACTS).map_err(err)?;
        match table.get(address).map_err(err)? {
            Some(v) => Ok(Some(decode("contract", v.value())?)),
            None => Ok(None),
        }
    }

    pub fn node(&self, id: &Hash) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(NODES).map_err(err)?;
        Ok(table
            .get(id.as_slice())
            .map_err(err)?
            .map(|v| v.value().to_vec()))
    }

    /// The committed public state tree (one read transaction: a consistent view).
    pub fn tree(&self) -> Result<StateTree, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        Ok(StateTree {
            table: txn.open_table(STATE_TREE).map_err(err)?,
        })
    }

    /// The committed record at `leaf_key` (`state::leaf_key`, its postcard encoding) and
    /// the proof of it — or of its absence — under the state root after the last block.
    pub fn state_proof(&self, leaf_key: &[u8]) -> Result<StateProof, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        // Height and root from the same read as the proof: all three are one block's.
        let (height, state_root) = {
            let table = txn.open_table(META).map_err(err)?;
            let height = table.get(META_HEIGHT).map_err(err)?;
            let root = table.get(META_STATE_ROOT).map_err(err)?;
            match (height, root) {
                (Some(height), Some(root)) => (
                    height
                        .value()
                        .try_into()
                        .map(u64::from_be_bytes)
                        .map_err(|_| StoreError("corrupt height record".into()))?,
                    root.value()
                        .try_into()
                        .map_err(|_| StoreError("corrupt state root record".into()))?,
                ),
                _ => return Err(StoreError("the chain is not initialized".into())),
            }
        };
        let reader = StateTree {
            table: txn.open_table(STATE_TREE).map_err(err)?,
        };
        let proof = tree::prove(&reader, &tree::key_hash(leaf_key)).map_err(err)?;
        use crate::state::leaf_key as key;
        let (tag, rest) = leaf_key
            .split_first()
            .ok_or_else(|| StoreError("an empty state key".into()))?;
        let text = || {
            std::str::from_utf8(rest)
                .map_err(|_| StoreError("a state key that is not UTF-8".into()))
        };
        let get = |table: TableDefinition<&str, &[u8]>, k: &str| -> Result<_, StoreError> {
            let table = txn.open_table(table).map_err(err)?;
            let value = table.get(k).map_err(err)?.map(|v| v.value().to_vec());
            Ok(value)
        };
        let value = match *tag {
            key::ACCOUNT => get(ACCOUNTS, text()?)?,
            key::CONTRACT => get(CONTRACTS, text()?)?,
            key::CODE => {
                let id: [u8; 8] = rest
                    .try_into()
                    .map_err(|_| StoreError("a code key is 8 bytes".into()))?;
                let table = txn.open_table(CODES).map_err(err)?;
                let value = table
                    .get(u64::from_be_bytes(id))
                    .map_err(err)?
                    .map(|v| v.value().to_vec());
                value
            }
            key::REGISTRATION => {
                let table = txn.open_table(REGISTRATIONS).map_err(err)?;
                let value = table.get(rest).map_err(err)?.map(|v| v.value().to_vec());
                value
            }
            key::ATTESTATION_POLICY if rest.is_empty() => {
                let table = txn.open_table(META).map_err(err)?;
                let value = table
                    .get(META_ATTESTATION_POLICY)
                    .map_err(err)?
                    .map(|v| v.value().to_vec());
                value
            }
            _ => return Err(StoreError("no such state key".into())),
        };
        Ok(StateProof {
            height,
            state_root,
            value,
            proof,
        })
    }

    /// Whether the store holds public state as a state tree (every store since it has,
    /// and an empty one).
    pub fn has_state_tree(&self) -> Result<bool, StoreError> {
        Ok(self.height()?.is_none()
            || self.meta(META_STATE_FORMAT)?.as_deref() == Some(STATE_FORMAT))
    }

    /// The native token in circulation after the last block.
    pub fn supply(&self) -> Result<u128, StoreError> {
        match self.meta(META_SUPPLY)? {
            Some(bytes) => bytes
                .try_into()
                .map(u128::from_be_bytes)
                .map_err(|_| StoreError("corrupt supply record".into())),
            None => Ok(0),
        }
    }

    /// The highest code id stored (0: none).
    pub fn last_code_id(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(CODES).map_err(err)?;
        let last = table.last().map_err(err)?.map_or(0, |(k, _)| k.value());
        Ok(last)
    }

    pub fn has_wasm(&self, code_hash: &Hash) -> Result<bool, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(WASM).map_err(err)?;
        Ok(table.get(code_hash.as_slice()).map_err(err)?.is_some())
    }

    /// Number of stored state nodes (for status output).
    pub fn node_count(&self) -> Result<u64, StoreError> {
        let txn = self.db.begin_read().map_err(err)?;
        let table = txn.open_table(NODES).map_err(err)?;
        table.len().map_err(err)
    }

    /// Writes the genesis block (height 0) and state, once.
    /// Keeps the enclave's sealed state of a node that has joined a network but holds no
    /// block yet (the first `init_chain` then starts from it).
    pub fn save_enclave_record(&self, record: &EnclaveRecord) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut meta = txn.open_table(META).map_err(err)?;
            if meta.get(META_HEIGHT).map_err(err)?.is_some() {
                return Err(StoreError("the chain is already initialized".into()));
            }
            meta.insert(META_SEALED, record.sealed_state.as_slice())
                .map_err(err)?;
            meta.insert(
                META_SEAL_GENERATION,
                record.seal_generation.to_be_bytes().as_slice(),
            )
            .map_err(err)?;
        }
        txn.commit().map_err(err)
    }

    pub fn init_chain(&self, genesis: &Genesis, commit: BlockCommit) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(err)?;
        {
            let mut meta = txn.open_table(META).map_err(err)?;
            if meta.get(META_HEIGHT).map_err(err)?.is_some() {
                return Err(StoreError("the chain is already initialized".into()));
            }
            let json = serde_json::to_vec(genesis).expect("serializable");
            meta.insert(META_GENESIS, json.as_slice()).map_err(err)?;
            meta.insert(META_STATE_FORMAT, STATE_FORMAT).map_err(err)?;
        }
        Self::write_block(&txn, commit)?;
        txn.commit().map_err(err)
    }

    /// Commits a block and everything it changed, atomically and durably.
    pub fn commit_block(&self, commit: BlockCommit) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(err)?;
        {
            let meta = txn.open_table(META).map_err(err)?;
            let last = meta
                .get(META_HEIGHT)
                .map_err(err)?
                .map(|v| u64::from_be_bytes(v.value().try_into().unwrap_or([0xff; 8])));
            let height = commit.block.header.height;
            if last.map(|h| h + 1) != Some(height) {
                return Err(StoreError(format!(
                    "block {height} does not follow the last committed block {last:?}"
                )));
            }
        }
        Self::write_block(&txn, commit)?;
        txn.commit().map_err(err)
    }

    fn write_block(txn: &redb::WriteTransaction, commit: BlockCommit) -> Result<(), StoreError> {
        let height = commit.block.header.height;
        let state = &commit.state;
        {
            let mut table = txn.open_table(ACCOUNTS).map_err(err)?;
            for account in &state.accounts {
                table
                    .insert(account.address.as_str(), encode(account).as_slice())
                    .map_err(err)?;
            }
        }
        {
            let mut table = txn.open_table(CODES).map_err(err)?;
            for code in &state.codes {
                table
                    .insert(code.code_id, encode(code).as_slice())
                    .map_err(err)?;
            }
            let mut table = txn.open_table(WASM).map_err(err)?;
            for (hash, wasm) in &commit.wasm {
                table
                    .insert(hash.as_slice(), wasm.as_slice())
                    .map_err(err)?;
            }
        }
        {
            let mut table = txn.open_table(CONTRACTS).map_err(err)?;
            for contract in &state.contracts {
                table
                    .insert(contract.address.as_str(), encode(contract).as_slice())
                    .map_err(err)?;
            }
            let mut table = txn.open_table(REGISTRATIONS).map_err(err)?;
            for registration in &state.registrations {
                table
                    .insert(
                        registration.registration_key.as_slice(),
                        encode(registration).as_slice(),
                    )
                    .map_err(err)?;
            }
            let mut table = txn.open_table(NODES).map_err(err)?;
            for (id, blob) in &commit.nodes {
                table.insert(id.as_slice(), blob.as_slice()).map_err(err)?;
            }
            for id in &commit.released_nodes {
                table.remove(id.as_slice()).map_err(err)?;
            }
            let mut table = txn.open_table(STATE_TREE).map_err(err)?;
            for (at, node) in &state.tree {
                let key = at.encode();
                match node {
                    Some(node) => table
                        .insert(key.as_slice(), node.encode().as_slice())
                        .map_err(err)?,
                    None => table.remove(key.as_slice()).map_err(err)?,
                };
            }
        }
        {
            let mut txs = txn.open_table(TXS).map_err(err)?;
            let mut receipts = txn.open_table(RECEIPTS).map_err(err)?;
            let mut index = txn.open_table(TX_INDEX).map_err(err)?;
            for (i, (tx, receipt)) in commit.txs.iter().zip(&commit.receipts).enumerate() {
                let at = (height, i as u32);
                txs.insert(at, tx.as_slice()).map_err(err)?;
                receipts
                    .insert(at, encode(receipt).as_slice())
                    .map_err(err)?;
                // A transaction hash is indexed once: its first inclusion.
                if index
                    .get(receipt.tx_hash.as_slice())
                    .map_err(err)?
                    .is_none()
                {
                    index.insert(receipt.tx_hash.as_slice(), at).map_err(err)?;
                }
            }
            let mut inspections = txn.open_table(INSPECTIONS).map_err(err)?;
            for (hash, sealed) in &commit.inspections {
                inspections
                    .insert(hash.as_slice(), sealed.as_slice())
                    .map_err(err)?;
            }
            let mut blocks = txn.open_table(BLOCKS).map_err(err)?;
            blocks
                .insert(height, encode(&commit.block).as_slice())
                .map_err(err)?;
        }
        if let Some(certificate) = &commit.certificate {
            let mut table = txn.open_table(CERTIFICATES).map_err(err)?;
            table
                .insert(height, certificate.to_bytes().as_slice())
                .map_err(err)?;
        }
        let mut meta = txn.open_table(META).map_err(err)?;
        meta.insert(META_STATE_ROOT, state.root.as_slice())
            .map_err(err)?;
        meta.insert(META_SUPPLY, state.supply.to_be_bytes().as_slice())
            .map_err(err)?;
        if let Some(record) = &state.attestation_policy {
            meta.insert(META_ATTESTATION_POLICY, encode(record).as_slice())
                .map_err(err)?;
        }
        if let Some(checkpoint) = &commit.checkpoint {
            meta.insert(META_SEALED, checkpoint.sealed_state.as_slice())
                .map_err(err)?;
            meta.insert(
                META_SEAL_GENERATION,
                checkpoint.seal_generation.to_be_bytes().as_slice(),
            )
            .map_err(err)?;
        }
        meta.insert(META_HEIGHT, height.to_be_bytes().as_slice())
            .map_err(err)?;
        Ok(())
    }
}

/// The committed state tree, read in one read transaction.
pub struct StateTree {
    table: redb::ReadOnlyTable<&'static [u8], &'static [u8]>,
}

impl NodeSource for StateTree {
    fn node(&self, at: &Position) -> Result<Option<tree::Node>, TreeError> {
        let key = at.encode();
        match self
            .table
            .get(key.as_slice())
            .map_err(|e| TreeError(e.to_string()))?
        {
            Some(bytes) => tree::Node::decode(bytes.value()).map(Some),
            None => Ok(None),
        }
    }
}
