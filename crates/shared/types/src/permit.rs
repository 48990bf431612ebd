//! Query permits: a querier's signature that lets the enclave know who asks.
//!
//! A permit is signed once by the account key (the key that signs transactions, under its
//! own domain, so a permit can never pass for a transaction) and serves every query to the
//! contracts it names until it expires — a dApp asks its user to sign once per session.
//! The client encrypts it with the query's transaction key (`docs/protocol.md`, "Signed
//! queries"): the host sees neither the signer nor the permit.
//!
//! Signature: ECDSA secp256k1 (low-S) over `SHA-256("veil/query-permit-v1" || postcard(body))`.

use k256::ecdsa::SigningKey;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{account_address, decode_exact, serde_bytes_b64};

/// Domain separation of permit signatures ("veil/tx-v1" signs transactions).
pub const PERMIT_SIGN_DOMAIN: &[u8] = b"veil/query-permit-v1";
/// Longest lifetime a permit may have left when it is used (its expiry minus the block
/// time): a permit leaked or replayed by a host is good for at most this long.
pub const MAX_PERMIT_LIFETIME_NANOS: u64 = 30 * 24 * 3600 * 1_000_000_000;
/// Most contracts one permit may name.
pub const MAX_PERMIT_CONTRACTS: usize = 64;
/// Largest encoded permit accepted.
pub const MAX_PERMIT_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermitBody {
    pub chain_id: String,
    /// The contracts the permit may query (at least one).
    pub contracts: Vec<String>,
    /// Block time (ns since the Unix epoch) from which the permit is refused.
    pub expires_at_nanos: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryPermit {
    pub body: PermitBody,
    /// Compressed SEC1 secp256k1 public key (33 bytes).
    #[serde(with = "serde_bytes_b64")]
    pub public_key: Vec<u8>,
    /// ECDSA signature `r || s` (64 bytes, low-S).
    #[serde(with = "serde_bytes_b64")]
    pub signature: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermitError {
    #[error("permit does not decode: {0}")]
    Malformed(String),
    #[error("permit signature: {0}")]
    Signature(String),
    #[error("permit is for chain {0:?}")]
    WrongChain(String),
    #[error("permit does not name contract {0}")]
    WrongContract(String),
    #[error("permit expired at {expires_at_nanos} (block time {block_time_nanos})")]
    Expired {
        expires_at_nanos: u64,
        block_time_nanos: u64,
    },
    #[error("permit expires too far in the future (more than 30 days after the block time)")]
    TooLong,
}

impl PermitBody {
    /// `"veil/query-permit-v1" || postcard(body)`.
    pub fn sign_bytes(&self) -> Vec<u8> {
        let mut bytes = PERMIT_SIGN_DOMAIN.to_vec();
        postcard::to_io(self, &mut bytes).expect("writing to a Vec cannot fail");
        bytes
    }

    pub fn sign(self, key: &SigningKey) -> QueryPermit {
        let digest = Sha256::digest(self.sign_bytes());
        let (signature, _) = key
            .sign_prehash_recoverable(&digest)
            .expect("a 32-byte digest can always be signed");
        QueryPermit {
            body: self,
            public_key: key.verifying_key().to_sec1_bytes().to_vec(),
            signature: signature.to_bytes().to_vec(),
        }
    }
}

impl QueryPermit {
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("serializable")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PermitError> {
        if bytes.len() > MAX_PERMIT_BYTES {
            return Err(PermitError::Malformed(format!(
                "{} bytes exceeds the limit of {MAX_PERMIT_BYTES}",
                bytes.len()
            )));
        }
        decode_exact(bytes).map_err(PermitError::Malformed)
    }

    /// Checks the permit for a query of `contract` on `chain_id` at `block_time_nanos` and
    /// returns the querier's address.
    pub fn verify(
        &self,
        chain_id: &str,
        contract: &str,
        block_time_nanos: u64,
    ) -> Result<String, PermitError> {
        let body = &self.body;
        if body.contracts.is_empty() || body.contracts.len() > MAX_PERMIT_CONTRACTS {
            return Err(PermitError::Malformed(format!(
                "a permit names 1 to {MAX_PERMIT_CONTRACTS} contracts"
            )));
        }
        let digest: [u8; 32] = Sha256::digest(body.sign_bytes()).into();
        crate::verify_secp256k1(&self.public_key, &self.signature, &digest)
            .map_err(|e| PermitError::Signature(e.to_string()))?;
        if body.chain_id != chain_id {
            return Err(PermitError::WrongChain(body.chain_id.clone()));
        }
        if !body.contracts.iter().any(|c| c == contract) {
            return Err(PermitError::WrongContract(contract.to_string()));
        }
        if block_time_nanos >= body.expires_at_nanos {
            return Err(PermitError::Expired {
                expires_at_nanos: body.expires_at_nanos,
                block_time_nanos,
            });
        }
        if body.expires_at_nanos - block_time_nanos > MAX_PERMIT_LIFETIME_NANOS {
            return Err(PermitError::TooLong);
        }
        Ok(account_address(&self.public_key))
    }
}
