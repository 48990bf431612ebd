//! Veil's NEAR engine (trusted): stock near-sdk 5 contracts, unchanged, on the wasmi
//! interpreter, with nearcore 0.38's host functions and gas.
//!
//! The engine knows nothing of chains, keys or disks: state comes from a [`NearStorage`]
//! the caller supplies, the call's context from a [`NearContext`] it fills in. Promises
//! are recorded in the outcome, not executed.

mod context;
mod costs;
mod crypto;
mod engine;
mod error;
mod gas;
mod host;
mod imports;
mod outcome;
mod storage;
mod validate;

pub use context::{is_valid_account_id, NearContext, PromiseResult, TERA_GAS};
pub use costs::{
    ActionCost, ExtCost, Fee, Limits, LINEAR_OP_BASE_COST, LINEAR_OP_UNIT_COST, REGULAR_OP_COST,
};
pub use engine::{NearEngine, NearEngineConfig};
pub use error::{FunctionCallError, HostError, NearVmError};
pub use imports::{ValType, IMPORTS};
pub use outcome::{Action, NearOutcome, Receipt, ReturnData, StateChange};
pub use storage::{MemoryStorage, NearStorage, StorageError};
pub use validate::{check_code, near_wasm_features, CodeInfo};
pub use veil_engine::Checksum;
