//! Veil's contract engine (trusted): CosmWasm contracts, unchanged, on the wasmi
//! interpreter, with deterministic gas.
//!
//! The engine knows nothing of chains, keys or disks: storage, addresses and chain
//! queries come from a [`Backend`] the caller supplies (the enclave supplies an
//! encrypted, verified one).

pub mod backend;
pub mod cache;
mod engine;
mod error;
pub mod gas;
mod imports;
pub mod memory;
pub mod validate;

pub use backend::{
    Api, Backend, BackendError, BankQuerier, Bech32Api, KeyRange, MemoryStorage, Order, Querier,
    Storage,
};
pub use cache::COMPILED_BYTES_PER_WASM_BYTE;
pub use engine::{
    Call, CallError, CallReport, Checksum, Engine, EngineConfig, Entry, Output,
    DEFAULT_CAPABILITIES,
};
pub use error::VmError;
pub use imports::DebugHandler;
pub use validate::{ModuleInfo, WasmLimits};

/// Bech32 prefix of Veil addresses.
pub const DEFAULT_ADDRESS_PREFIX: &str = "veil";

/// cosmwasm-std's types, re-exported so callers build `Env`/`MessageInfo` the same way.
pub use cosmwasm_std;

/// Where and when a call happens: the parts of `Env` a host chooses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockContext {
    pub height: u64,
    pub time_nanos: u64,
    pub chain_id: String,
    /// Index of the transaction in its block; `None` for queries.
    pub tx_index: Option<u32>,
}

/// The `Env` a contract at `contract_address` sees in `block`.
pub fn build_env(block: &BlockContext, contract_address: &str) -> cosmwasm_std::Env {
    use cosmwasm_std::{Addr, BlockInfo, ContractInfo, Env, Timestamp, TransactionInfo};
    Env {
        block: BlockInfo {
            height: block.height,
            time: Timestamp::from_nanos(block.time_nanos),
            chain_id: block.chain_id.clone(),
        },
        transaction: block
            .tx_index
            .map(|index| TransactionInfo::new(index, Default::default())),
        contract: ContractInfo {
            address: Addr::unchecked(contract_address),
        },
    }
}
