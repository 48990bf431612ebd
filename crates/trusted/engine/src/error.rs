use crate::backend::BackendError;

/// Why a call (or storing code) failed on the engine's side. A contract's own error is
/// not a `VmError`: it comes back as [`crate::CallError::Contract`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VmError {
    #[error("invalid contract code: {0}")]
    StaticValidation(String),
    #[error("contract code could not be compiled: {0}")]
    Compile(String),
    #[error("no compiled code with checksum {0} is loaded; store the code first")]
    CodeNotFound(String),
    #[error("contract instantiation failed: {0}")]
    Instantiation(String),
    #[error("contract does not export entry point \"{0}\"")]
    MissingEntryPoint(String),
    #[error("out of gas")]
    OutOfGas,
    #[error("contract aborted: {0}")]
    Aborted(String),
    #[error("contract trapped: {0}")]
    Trap(String),
    #[error("contract memory limit of {limit_bytes} bytes exceeded")]
    MemoryLimit { limit_bytes: usize },
    #[error("call stack exhausted (recursion too deep)")]
    StackExhausted,
    #[error("bad memory access by contract: {0}")]
    Region(String),
    #[error("{what} is {len} bytes, more than the limit of {limit} bytes")]
    TooLarge {
        what: &'static str,
        len: usize,
        limit: usize,
    },
    #[error("write access to storage is not allowed in a query")]
    WriteAccessDenied,
    #[error("{0}")]
    Backend(#[from] BackendError),
    #[error("contract returned a result that cannot be parsed: {0}")]
    BadResult(String),
    #[error("invalid call input: {0}")]
    BadInput(String),
}

impl VmError {
    /// A short, stable name for logs and metrics (never the message contents).
    pub fn kind(&self) -> &'static str {
        match self {
            VmError::StaticValidation(_) => "static_validation",
            VmError::Compile(_) => "compile",
            VmError::CodeNotFound(_) => "code_not_found",
            VmError::Instantiation(_) => "instantiation",
            VmError::MissingEntryPoint(_) => "missing_entry_point",
            VmError::OutOfGas => "out_of_gas",
            VmError::Aborted(_) => "aborted",
            VmError::Trap(_) => "trap",
            VmError::MemoryLimit { .. } => "memory_limit",
            VmError::StackExhausted => "stack_exhausted",
            VmError::Region(_) => "region",
            VmError::TooLarge { .. } => "too_large",
            VmError::WriteAccessDenied => "write_access_denied",
            VmError::Backend(BackendError::Integrity(_)) => "storage_integrity",
            VmError::Backend(_) => "backend",
            VmError::BadResult(_) => "bad_result",
            VmError::BadInput(_) => "bad_input",
        }
    }
}

/// Carries a [`VmError`] out of a host function through wasmi's trap machinery.
#[derive(Debug)]
pub(crate) struct HostFailure(pub VmError);

impl std::fmt::Display for HostFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl wasmi::errors::HostError for HostFailure {}

impl From<VmError> for wasmi::Error {
    fn from(e: VmError) -> Self {
        wasmi::Error::host(HostFailure(e))
    }
}
