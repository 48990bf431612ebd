//! Errors: [`HostError`] is nearcore's error of a host function (same variants, same
//! messages, so a contract's failure reads as on NEAR); [`FunctionCallError`] is why a
//! call failed; [`NearVmError`] is why code could not be stored.

/// A host function failed; the call aborts with it (nearcore's `HostError`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("String encoding is bad UTF-8 sequence.")]
    BadUTF8,
    #[error("String encoding is bad UTF-16 sequence.")]
    BadUTF16,
    #[error("Exceeded the prepaid gas.")]
    GasExceeded,
    #[error("Exceeded the maximum amount of gas allowed to burn per contract.")]
    GasLimitExceeded,
    #[error("Exceeded the account balance.")]
    BalanceExceeded,
    #[error("Tried to call an empty method name.")]
    EmptyMethodName,
    #[error("Smart contract panicked: {panic_msg}")]
    GuestPanic { panic_msg: String },
    #[error("Integer overflow.")]
    IntegerOverflow,
    #[error("{promise_idx:?} does not correspond to existing promises")]
    InvalidPromiseIndex { promise_idx: u64 },
    #[error("Actions can only be appended to non-joint promise.")]
    CannotAppendActionToJointPromise,
    #[error("Returning joint promise is currently prohibited.")]
    CannotReturnJointPromise,
    #[error("Setting refund_to on a joint promise is prohibited.")]
    CannotSetRefundToOnJointPromise,
    #[error("Accessed invalid promise result index: {result_idx:?}")]
    InvalidPromiseResultIndex { result_idx: u64 },
    #[error("Accessed invalid register id: {register_id:?}")]
    InvalidRegisterId { register_id: u64 },
    #[error("Accessed memory outside the bounds.")]
    MemoryAccessViolation,
    #[error("VM Logic returned an invalid account id")]
    InvalidAccountId,
    #[error("{method_name} is not allowed in view calls")]
    ProhibitedInView { method_name: String },
    #[error("The number of logs will exceed the limit {limit}")]
    NumberOfLogsExceeded { limit: u64 },
    #[error("The length of a storage key {length} exceeds the limit {limit}")]
    KeyLengthExceeded { length: u64, limit: u64 },
    #[error("The length of a storage value {length} exceeds the limit {limit}")]
    ValueLengthExceeded { length: u64, limit: u64 },
    #[error("The length of a log message {length} exceeds the limit {limit}")]
    TotalLogLengthExceeded { length: u64, limit: u64 },
    #[error("The number of promises within a FunctionCall {number_of_promises} exceeds the limit {limit}")]
    NumberPromisesExceeded { number_of_promises: u64, limit: u64 },
    #[error("The number of input data dependencies {number_of_input_data_dependencies} exceeds the limit {limit}")]
    NumberInputDataDependenciesExceeded {
        number_of_input_data_dependencies: u64,
        limit: u64,
    },
    #[error("The length of a returned value {length} exceeds the limit {limit}")]
    ReturnedValueLengthExceeded { length: u64, limit: u64 },
    #[error(
        "The size of a contract code in DeployContract action {size} exceeds the limit {limit}"
    )]
    ContractSizeExceeded { size: u64, limit: u64 },
    #[error("Attempted to call deprecated host function {method_name}")]
    Deprecated { method_name: String },
    #[error("ECDSA recover error: {msg}")]
    ECRecoverError { msg: String },
    #[error("ED25519 signature verification error: {msg}")]
    Ed25519VerifyInvalidInput { msg: String },
    /// Veil's own: a host function NEAR has and Veil cannot honour (staking, access keys,
    /// global contracts, yield/resume, …). It is linked, so contracts that merely import it
    /// run; calling it fails the call.
    #[error("unsupported: {0} is not available on Veil")]
    Unsupported(&'static str),
    /// Veil's own: the storage behind the engine failed (I/O, failed verification). Not
    /// the contract's fault; the caller must not treat it as a contract failure.
    #[error("storage backend failed: {0}")]
    Storage(String),
}

/// Why a function call failed (nearcore's `FunctionCallError`, in the shape Veil needs).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FunctionCallError {
    /// The code failed static validation or compilation.
    #[error("contract code is invalid: {0}")]
    CompilationError(String),
    #[error("no loaded code with checksum {0}; store the code first")]
    CodeNotFound(String),
    #[error("contract has no exported method \"{0}\"")]
    MethodNotFound(String),
    #[error("method name is empty")]
    MethodEmptyName,
    /// The exported method takes parameters or returns results (NEAR methods take none).
    #[error("exported method \"{0}\" must take no parameters and return nothing")]
    MethodInvalidSignature(String),
    #[error("Wasm trap: {0}")]
    WasmTrap(String),
    #[error("{0}")]
    HostError(HostError),
}

/// Code could not be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NearVmError {
    #[error("invalid contract code: {0}")]
    Validation(String),
    #[error("contract code could not be compiled: {0}")]
    Compile(String),
}

/// Carries a [`HostError`] out of a host function through wasmi's trap machinery.
#[derive(Debug)]
pub(crate) struct HostTrap(pub HostError);

impl std::fmt::Display for HostTrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl wasmi::errors::HostError for HostTrap {}

impl From<HostError> for wasmi::Error {
    fn from(e: HostError) -> Self {
        wasmi::Error::host(HostTrap(e))
    }
}
