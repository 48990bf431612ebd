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

/// Domain of the bootstrap enclave's report data.
pub const BOOTSTRAP_REPORT_DATA_DOMAIN: &[u8] = b"veil/bootstrap-report-v1";

/// The report data of the enclave that generated a network's master seed: it binds the
/// network key and seed exchange key it published to the genesis it was born for (the
/// genesis without its network section, `core_genesis_hash`, since that section holds
/// this attestation).
///
/// ```text
/// report_data = SHA-256("veil/bootstrap-report-v1" || network_key (32)
///                       || seed_exchange_key (32) || core_genesis_hash (32)) || 32 zero bytes
/// ```
pub fn bootstrap_report_data(
    network_key: &[u8; 32],
    seed_exchange_key: &[u8; 32],
    core_genesis_hash: &[u8; 32],
) -> [u8; 64] {
    let mut hasher = Sha256::new();
    hasher.update(BOOTSTRAP_REPORT_DATA_DOMAIN);
    hasher.update(network_key);
    hasher.update(seed_exchange_key);
    hasher.update(core_genesis_hash);
    let mut out = [0u8; 64];
    out[..32].copy_from_slice(&hasher.finalize());
    out
}

#[cfg(test)]
mod bootstrap_tests {
    use super::*;

    #[test]
    fn bootstrap_report_data_binds_every_field() {
        let base = bootstrap_report_data(&[1; 32], &[2; 32], &[3; 32]);
        assert_eq!(&base[32..], &[0u8; 32]);
        assert_ne!(base, bootstrap_report_data(&[9; 32], &[2; 32], &[3; 32]));
        assert_ne!(base, bootstrap_report_data(&[1; 32], &[9; 32], &[3; 32]));
        assert_ne!(base, bootstrap_report_data(&[1; 32], &[2; 32], &[9; 32]));
        // Never equal to a registration's report data over the same bytes.
        assert_ne!(base, report_data(&[1; 32], &[3; 32], "", None));
    }
}
