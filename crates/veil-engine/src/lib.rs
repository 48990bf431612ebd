//! Veil's contract engine (trusted): CosmWasm contracts, unchanged, on the wasmi
//! interpreter, with deterministic gas.
//!
//! The engine knows nothing of chains, keys or disks: storage, addresses and chain
//! queries come from a [`Backend`] the caller supplies (the enclave supplies an
//! encrypted, verified one).

pub mod backend;
mod cache;
mod engine;
mod error;
pub mod gas;
mod imports;
pub mod validate;

pub use backend::{Api, Backend, BackendError, BankQuerier, Bech32Api, KeyRange, MemoryStorage, Order, Querier, Storage};
pub use cache::COMPILED_BYTES_PER_WASM_BYTE;
pub use engine::{Call, CallError, CallReport, Checksum, Engine, EngineConfig, Entry, Output, DEFAULT_CAPABILITIES};
pub use error::VmError;
pub use imports::DebugHandler;
pub use validate::{ModuleInfo, WasmLimits};

/// Bech32 prefix of Veil addresses.
pub const DEFAULT_ADDRESS_PREFIX: &str = "veil";

/// cosmwasm-std's types, re-exported so callers build `Env`/`MessageInfo` the same way.
pub use cosmwasm_std;
