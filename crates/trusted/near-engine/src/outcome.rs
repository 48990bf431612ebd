//! What a call produced: nearcore's `VMOutcome` plus the receipts its promises created.

use serde::Serialize;

use crate::error::FunctionCallError;

/// What the method returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReturnData {
    /// Nothing (`value_return` was not called).
    None,
    /// The bytes given to `value_return` (JSON for near-sdk's default serializer).
    Value(Vec<u8>),
    /// `promise_return`: the call's result is that of this receipt (index in `receipts`).
    ReceiptIndex(u64),
}

/// An action of a receipt, as recorded (Veil executes none of them yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    CreateAccount,
    DeployContract {
        /// SHA-256 of the code (the code itself is not repeated in the outcome).
        code_hash: [u8; 32],
        code_len: u64,
    },
    FunctionCall {
        method_name: String,
        args: Vec<u8>,
        /// yoctoNEAR.
        deposit: u128,
        gas: u64,
        gas_weight: u64,
    },
    Transfer {
        /// yoctoNEAR.
        deposit: u128,
    },
}

/// A receipt a promise created: actions for `receiver_id`, run after the receipts it
/// depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Receipt {
    pub receiver_id: String,
    /// Indices (in the outcome's `receipts`) whose results this receipt waits for.
    pub depends_on: Vec<u64>,
    pub actions: Vec<Action>,
    /// Set by `promise_set_refund_to`.
    pub refund_to: Option<String>,
}

/// One written or removed key (`value: None`) of the contract's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateChange {
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
}

/// Everything a call produced. On failure, logs and gas are still reported (as on
/// NEAR); state changes and receipts are empty and nothing was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NearOutcome {
    pub result: Result<ReturnData, FunctionCallError>,
    pub logs: Vec<String>,
    /// Gas burnt by this call (instructions and host functions, fees of receipts sent).
    pub burnt_gas: u64,
    /// Burnt plus the gas handed on to the receipts created.
    pub used_gas: u64,
    /// The part of `burnt_gas` spent on Wasm instructions (the rest: host functions,
    /// contract loading, receipt fees).
    pub instruction_gas: u64,
    /// Final value of every key the call changed, in key order.
    pub state_changes: Vec<StateChange>,
    pub receipts: Vec<Receipt>,
    /// The account's balance after the call (attached deposits of promises taken off).
    pub balance: u128,
    /// The account's storage usage after the call.
    pub storage_usage: u64,
}

impl NearOutcome {
    pub(crate) fn failed(error: FunctionCallError, balance: u128, storage_usage: u64) -> Self {
        Self {
            result: Err(error),
            logs: Vec::new(),
            burnt_gas: 0,
            used_gas: 0,
            instruction_gas: 0,
            state_changes: Vec::new(),
            receipts: Vec::new(),
            balance,
            storage_usage,
        }
    }
}
