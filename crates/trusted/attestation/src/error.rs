//! The one error type of this crate. Every message is public: it becomes the reason of a
//! refused `register_node` transaction, so it names measurements, statuses and times,
//! never a secret (there is none here: attestations and policies are public data).

use crate::policy::TcbStatus;

/// Why an attestation, or a policy, was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestationError {
    /// The policy itself is unusable (bad JSON, bad hex, accepts nothing, …).
    #[error("invalid attestation policy: {0}")]
    InvalidPolicy(String),

    /// The bytes or JSON of an [`Attestation`](crate::Attestation) do not decode.
    #[error("attestation could not be decoded: {0}")]
    Decode(String),

    /// A quote, collateral or encoded attestation larger than this crate accepts.
    #[error("{what} is {len} bytes, more than the {max} accepted")]
    TooLarge {
        what: &'static str,
        len: usize,
        max: usize,
    },

    #[error("simulated attestation not allowed by this network's policy")]
    SimulatedNotAllowed,

    /// A simulated attestation whose `kind` is not the one this crate knows.
    #[error("unknown simulated attestation kind {0:?} (expected \"veil-simulated-v1\")")]
    UnknownSimulatedKind(String),

    /// Neither an MRENCLAVE rule nor an MRSIGNER rule of the policy names this enclave.
    #[error(
        "MRENCLAVE {mrenclave} / MRSIGNER {mrsigner} (ISV prod id {isv_prod_id}) not accepted \
         by this network's policy"
    )]
    MeasurementNotAccepted {
        mrenclave: String,
        mrsigner: String,
        isv_prod_id: u16,
    },

    /// A rule names this enclave but asks for a higher ISV SVN (an older, possibly
    /// vulnerable build of the right code).
    #[error("ISV SVN {isv_svn} of this enclave is below the minimum {min_isv_svn} the policy accepts for it")]
    SvnTooLow { isv_svn: u16, min_isv_svn: u16 },

    #[error("TCB status {0} not accepted by this network's policy")]
    TcbStatusNotAccepted(TcbStatus),

    /// dcap-qvl reported a TCB status this crate does not know.
    #[error("unknown TCB status {0:?}")]
    UnknownTcbStatus(String),

    #[error("TCB status Revoked: the platform's attestation keys are compromised")]
    Revoked,

    /// Intel's CRL revokes a certificate of the quote's chain (PCK or an intermediate).
    #[error("a certificate of the quote's chain is revoked by Intel: {0}")]
    CertificateRevoked(String),

    #[error("debug enclave refused: the host can read a debug enclave's memory")]
    DebugEnclave,

    #[error("only SGX enclave quotes are accepted (this quote is of another TEE type)")]
    NotSgx,

    #[error("report data does not bind this registration")]
    ReportDataMismatch,

    /// A signature in the chain from Intel's root CA to the enclave report does not
    /// verify: the quote, its QE report or a certificate was altered or is not Intel's.
    #[error("quote signature invalid: {0}")]
    QuoteSignature(String),

    /// The collateral (TCB info, QE identity, CRLs, certificates) is not valid at the
    /// time given (the block's time).
    #[error("collateral expired or not yet valid at {at} (unix seconds): {detail}")]
    CollateralTime { at: u64, detail: String },

    /// Any other refusal of dcap-qvl (malformed quote or collateral, unsupported
    /// version, no matching TCB level, …).
    #[error("DCAP quote verification failed: {0}")]
    Dcap(String),
}
