//! The 64 bytes of report data an enclave puts in its quote: what the attestation binds.
//!
//! ```text
//! preimage = "veil/attestation-report-v1"        26 bytes, ASCII, no terminator
//!          || registration_key                    32 bytes, X25519 public key
//!          || genesis_hash                        32 bytes
//!          || u64_be(len(operator)) || operator   8 + n bytes: the operator's address,
//!                                                 normalized bech32, as UTF-8
//!          || 0x00                                no consensus key, or
//!          || 0x01 || consensus_key               1 + 32 bytes, ed25519 public key
//! report_data = SHA-256(preimage) || 32 zero bytes
//! ```
//!
//! Every field has a fixed length or a length prefix and the optional key a presence
//! byte, so two different inputs never give the same preimage. The trailing zeros are
//! checked like the hash: `verify` compares all 64 bytes.

use sha2::{Digest, Sha256};

/// Domain separation of the report data hash; `-v1` changes with the layout.
pub const REPORT_DATA_DOMAIN: &[u8] = b"veil/attestation-report-v1";

/// The report data binding an enclave's registration key to one network (its genesis),
/// the operator account that registers it and, for a validator, its consensus key.
pub fn report_data(
    registration_key: &[u8; 32],
    genesis_hash: &[u8; 32],
    operator: &str,
    consensus_key: Option<&[u8; 32]>,
) -> [u8; 64] {
    let mut hasher = Sha256::new();
    hasher.update(REPORT_DATA_DOMAIN);
    hasher.update(registration_key);
    hasher.update(genesis_hash);
    hasher.update((operator.len() as u64).to_be_bytes());
    hasher.update(operator.as_bytes());
    match consensus_key {
        None => hasher.update([0u8]),
        Some(key) => {
            hasher.update([1u8]);
            hasher.update(key);
        }
    }
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&hasher.finalize());
    out
}
