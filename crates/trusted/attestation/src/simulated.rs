//! Simulated attestation, for machines without SGX: a labelled statement signed by the
//! *simulated platform key*, whose private key is derived from a published constant.
//!
//! **Anyone can forge a simulated attestation** — that is the point: it lets the whole
//! registration path run on any machine. It proves nothing about the code that produced
//! it, so a network whose policy sets `allow_simulated` gives its seed to anyone who asks.

use std::sync::OnceLock;

use ed25519_zebra::{Signature, SigningKey, VerificationKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::AttestationError;
use crate::hex_serde;
use crate::policy::{AttestationKind, VerifiedQuote};

/// The `kind` label of the only simulated format this crate knows.
pub const SIMULATED_KIND: &str = "veil-simulated-v1";

/// The published constant the simulated platform's ed25519 signing key is derived from:
/// `signing key seed = SHA-256(SIMULATED_PLATFORM_KEY_LABEL)`. Public on purpose.
pub const SIMULATED_PLATFORM_KEY_LABEL: &[u8] = b"veil/simulated-platform-key-v1";

/// Domain separation of the signed message.
pub const SIMULATED_SIGNATURE_DOMAIN: &[u8] = b"veil/simulated-quote-v1";

/// The simulated platform's signing key. Public knowledge: see the module documentation.
pub fn simulated_platform_signing_key() -> SigningKey {
    SigningKey::from(<[u8; 32]>::from(Sha256::digest(
        SIMULATED_PLATFORM_KEY_LABEL,
    )))
}

/// The simulated platform's public key (32 bytes), against which signatures verify.
pub fn simulated_platform_public_key() -> [u8; 32] {
    (*verification_key()).into()
}

fn verification_key() -> &'static VerificationKey {
    static KEY: OnceLock<VerificationKey> = OnceLock::new();
    KEY.get_or_init(|| VerificationKey::from(&simulated_platform_signing_key()))
}

/// A simulated attestation: what a simulated enclave says about itself, signed by the
/// (public) simulated platform key. JSON form: byte fields as hex.
///
/// Signed message (ed25519, ZIP-215 verification):
///
/// ```text
/// "veil/simulated-quote-v1" || u64_be(len(kind)) || kind || mrenclave (32)
///   || mrsigner (32) || u16_be(isv_prod_id) || u16_be(isv_svn) || report_data (64)
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatedQuote {
    /// Always [`SIMULATED_KIND`]: says plainly what this is to anyone reading the chain.
    pub kind: String,
    #[serde(with = "hex_serde::array")]
    pub mrenclave: [u8; 32],
    #[serde(with = "hex_serde::array")]
    pub mrsigner: [u8; 32],
    pub isv_prod_id: u16,
    pub isv_svn: u16,
    #[serde(with = "hex_serde::array")]
    pub report_data: [u8; 64],
    #[serde(with = "hex_serde::array")]
    pub signature: [u8; 64],
}

impl SimulatedQuote {
    /// Produces a simulated attestation (what the simulated enclave calls, with the
    /// report data from [`report_data`](crate::report_data)).
    pub fn sign(
        mrenclave: [u8; 32],
        mrsigner: [u8; 32],
        isv_prod_id: u16,
        isv_svn: u16,
        report_data: [u8; 64],
    ) -> SimulatedQuote {
        let mut quote = SimulatedQuote {
            kind: SIMULATED_KIND.to_string(),
            mrenclave,
            mrsigner,
            isv_prod_id,
            isv_svn,
            report_data,
            signature: [0; 64],
        };
        quote.signature = simulated_platform_signing_key()
            .sign(&quote.signed_message())
            .to_bytes();
        quote
    }

    /// The bytes the signature covers (layout above).
    pub fn signed_message(&self) -> Vec<u8> {
        let mut msg =
            Vec::with_capacity(SIMULATED_SIGNATURE_DOMAIN.len() + 8 + self.kind.len() + 132);
        msg.extend_from_slice(SIMULATED_SIGNATURE_DOMAIN);
        msg.extend_from_slice(&(self.kind.len() as u64).to_be_bytes());
        msg.extend_from_slice(self.kind.as_bytes());
        msg.extend_from_slice(&self.mrenclave);
        msg.extend_from_slice(&self.mrsigner);
        msg.extend_from_slice(&self.isv_prod_id.to_be_bytes());
        msg.extend_from_slice(&self.isv_svn.to_be_bytes());
        msg.extend_from_slice(&self.report_data);
        msg
    }

    /// Checks the label and the simulated platform's signature. No policy is applied:
    /// passing this means only that the fields were not altered after signing.
    pub fn verify(&self) -> Result<VerifiedQuote, AttestationError> {
        if self.kind != SIMULATED_KIND {
            return Err(AttestationError::UnknownSimulatedKind(self.kind.clone()));
        }
        verification_key()
            .verify(
                &Signature::from_bytes(&self.signature),
                &self.signed_message(),
            )
            .map_err(|e| {
                AttestationError::QuoteSignature(format!(
                    "simulated platform signature does not verify: {e}"
                ))
            })?;
        Ok(VerifiedQuote {
            kind: AttestationKind::Simulated,
            mrenclave: self.mrenclave,
            mrsigner: self.mrsigner,
            isv_prod_id: self.isv_prod_id,
            isv_svn: self.isv_svn,
            debug: false,
            report_data: self.report_data,
            tcb_status: None,
            advisory_ids: Vec::new(),
        })
    }
}
