//! Enclave identity and attestation for Veil (trusted).
//!
//! An enclave proves what it is by an [`Attestation`] whose 64 bytes of report data bind
//! its registration key to one network, one operator and, for a validator, one consensus
//! key ([`report_data`]). Every node checks it with [`verify`] against the network's
//! [`Policy`] (from the genesis file) at the block's time, and on success learns the
//! enclave's identity ([`VerifiedEnclave`]).
//!
//! Two kinds behind the one interface:
//! - [`Attestation::Dcap`]: an SGX DCAP quote and Intel's collateral, verified with
//!   dcap-qvl up to Intel's pinned root CA;
//! - [`Attestation::Simulated`]: a labelled [`SimulatedQuote`] signed by a key anyone can
//!   derive. **A network whose policy allows simulated attestation gives its seed to
//!   anyone who asks.**
//!
//! Nothing here reads a clock, a file or the network: the time is an argument, and the
//! host fetches quotes and collateral.

mod dcap;
mod error;
mod hex_serde;
mod policy;
mod report_data;
mod simulated;

pub use dcap::{
    verify_dcap_quote, Collateral, MAX_COLLATERAL_BYTES, MAX_QUOTE_BYTES, SGX_FLAGS_DEBUG,
};
pub use error::AttestationError;
pub use policy::{
    check_policy, check_report_data, AttestationKind, MrEnclaveRule, MrSignerRule, Policy,
    TcbStatus, VerifiedEnclave, VerifiedQuote,
};
pub use report_data::{
    bootstrap_report_data, report_data, BOOTSTRAP_REPORT_DATA_DOMAIN, REPORT_DATA_DOMAIN,
};
pub use simulated::{
    simulated_platform_public_key, simulated_platform_signing_key, SimulatedQuote, SIMULATED_KIND,
    SIMULATED_PLATFORM_KEY_LABEL, SIMULATED_SIGNATURE_DOMAIN,
};

use serde::{Deserialize, Serialize};

/// Largest encoded [`Attestation`] accepted by [`Attestation::from_bytes`].
pub const MAX_ATTESTATION_BYTES: usize = MAX_QUOTE_BYTES + MAX_COLLATERAL_BYTES + 4096;

/// An enclave's attestation, as it rides in a transaction or the genesis file.
///
/// Binary form ([`to_bytes`](Attestation::to_bytes)): postcard — a varint variant index
/// (0 = `Dcap`, 1 = `Simulated`; new kinds are only ever appended) followed by the
/// variant's fields in declaration order: strings and byte fields (fixed arrays included)
/// as a varint length and the bytes, integers as varints, `Option` as 0, or 1 and the
/// value. The tests check this layout byte for byte. JSON form: `{"dcap": {"quote":
/// "<hex>", "collateral": {…}}}` or `{"simulated": {…}}`, byte fields as hex.
// The two variants differ in size, but an attestation is decoded once and verified.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Attestation {
    /// An SGX DCAP quote (as Gramine's `/dev/attestation/quote` gives it) and the
    /// collateral it is verified against.
    Dcap {
        #[serde(with = "hex_serde::vec")]
        quote: Vec<u8>,
        collateral: Collateral,
    },
    /// A simulated attestation: anyone can forge one.
    Simulated(SimulatedQuote),
}

impl Attestation {
    pub fn kind(&self) -> AttestationKind {
        match self {
            Attestation::Dcap { .. } => AttestationKind::Dcap,
            Attestation::Simulated(_) => AttestationKind::Simulated,
        }
    }

    /// The stable binary encoding (see the type's documentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        // Infallible: every field is a fixed array, an integer, a string or a byte vector.
        postcard::to_allocvec(self).expect("postcard encodes an Attestation")
    }

    /// Decodes [`to_bytes`](Attestation::to_bytes)'s form; any other input, trailing
    /// bytes included, is an error.
    pub fn from_bytes(bytes: &[u8]) -> Result<Attestation, AttestationError> {
        if bytes.len() > MAX_ATTESTATION_BYTES {
            return Err(AttestationError::TooLarge {
                what: "encoded attestation",
                len: bytes.len(),
                max: MAX_ATTESTATION_BYTES,
            });
        }
        let (attestation, rest) = postcard::take_from_bytes::<Attestation>(bytes)
            .map_err(|e| AttestationError::Decode(e.to_string()))?;
        if !rest.is_empty() {
            return Err(AttestationError::Decode(format!(
                "{} trailing bytes",
                rest.len()
            )));
        }
        Ok(attestation)
    }

    /// Parses the JSON form.
    pub fn from_json(json: &str) -> Result<Attestation, AttestationError> {
        serde_json::from_str(json).map_err(|e| AttestationError::Decode(e.to_string()))
    }
}

/// Checks an attestation's signatures only — for DCAP the whole chain up to Intel's root
/// CA at `now_unix_secs` ([`verify_dcap_quote`]), for simulated the simulated platform
/// key ([`SimulatedQuote::verify`]) — and returns what it says about the enclave.
pub fn verify_quote(
    attestation: &Attestation,
    now_unix_secs: u64,
) -> Result<VerifiedQuote, AttestationError> {
    match attestation {
        Attestation::Dcap { quote, collateral } => {
            verify_dcap_quote(quote, collateral, now_unix_secs)
        }
        Attestation::Simulated(quote) => quote.verify(),
    }
}

/// Verifies an attestation for a registration: its signatures ([`verify_quote`]) at
/// `now_unix_secs` — the block's time, never the local clock, so a node replaying the
/// chain decides as the network did — then the policy ([`check_policy`]), then that its
/// report data is `expected_report_data` ([`check_report_data`]).
///
/// A simulated attestation under a policy that does not allow simulation is refused
/// before anything else.
pub fn verify(
    attestation: &Attestation,
    policy: &Policy,
    now_unix_secs: u64,
    expected_report_data: &[u8; 64],
) -> Result<VerifiedEnclave, AttestationError> {
    policy.validate()?;
    if attestation.kind() == AttestationKind::Simulated && !policy.allow_simulated {
        return Err(AttestationError::SimulatedNotAllowed);
    }
    let quote = verify_quote(attestation, now_unix_secs)?;
    let enclave = check_policy(&quote, policy)?;
    check_report_data(&quote, expected_report_data)?;
    Ok(enclave)
}
