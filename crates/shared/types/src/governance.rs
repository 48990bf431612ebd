//! Governance of the network's membership: the attestation policy in force and the
//! registered enclaves' status, as chain state shows them (`docs/protocol.md`,
//! "Governance"). The enclaves keep the authoritative copy; these are its public record.

use serde::{Deserialize, Serialize};
use veil_attestation::Policy;

use crate::{serde_hash, Hash, Registration};

/// Longest reason a `revoke_node` transaction may give.
pub const MAX_REVOCATION_REASON_BYTES: usize = 256;

/// The attestation policy registrations are verified against now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestationPolicyRecord {
    /// None: no enclave may register (a genesis without a policy, never changed).
    pub policy: Option<Policy>,
    /// The height of the block whose `set_attestation_policy` set it (0: the genesis').
    pub height: u64,
    /// The authority that signed it (none: the genesis policy).
    pub set_by: Option<String>,
}

/// Why and when a registered enclave was revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revocation {
    pub height: u64,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationStatus {
    Active,
    Revoked,
}

impl RegistrationStatus {
    pub fn name(self) -> &'static str {
        match self {
            RegistrationStatus::Active => "active",
            RegistrationStatus::Revoked => "revoked",
        }
    }
}

/// A registered enclave in a listing (`GET /registrations`): its seed share is left out
/// (`GET /registrations/{key}` has it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationInfo {
    #[serde(with = "serde_hash")]
    pub registration_key: Hash,
    pub operator: String,
    pub height: u64,
    pub enclave: String,
    pub status: RegistrationStatus,
    pub revocation: Option<Revocation>,
}

impl From<&Registration> for RegistrationInfo {
    fn from(r: &Registration) -> Self {
        Self {
            registration_key: r.registration_key,
            operator: r.operator.clone(),
            height: r.height,
            enclave: r.enclave.clone(),
            status: r.status(),
            revocation: r.revocation.clone(),
        }
    }
}

/// One page of registrations, in registration-key order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistrationPage {
    pub registrations: Vec<RegistrationInfo>,
    /// Pass as `after` for the next page (none: this was the last).
    #[serde(with = "serde_hash::option")]
    pub next_after: Option<Hash>,
}
