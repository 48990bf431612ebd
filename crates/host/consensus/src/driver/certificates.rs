//! Commit certificates between Malachite's type and the shared one the enclave verifies.

use super::*;

/// Malachite's certificate as the shared one (what the enclave verifies).
pub fn to_shared_certificate(cert: &MCommitCertificate<VeilContext>) -> CommitCertificate {
    CommitCertificate {
        height: cert.height.0,
        // Decisions are always in a defined round.
        round: cert.round.as_u32().unwrap_or(u32::MAX),
        block_hash: cert.value_id.0,
        signatures: cert
            .commit_signatures
            .iter()
            .map(|s| shared::CommitSignature {
                validator: s.address.0,
                signature: s.signature.to_bytes(),
            })
            .collect(),
    }
}

/// The shared certificate as Malachite's (to serve value sync).
pub fn to_malachite_certificate(
    cert: &CommitCertificate,
) -> ExtendedCommitCertificate<VeilContext> {
    let commit = MCommitCertificate {
        height: Height(cert.height),
        round: Round::new(cert.round),
        value_id: BlockHash(cert.block_hash),
        commit_signatures: cert
            .signatures
            .iter()
            .map(|s| {
                MCommitSignature::new(Address(s.validator), Signature::from_bytes(s.signature))
            })
            .collect(),
    };
    ExtendedCommitCertificate::from_commit_certificate_and_extensions(commit, Default::default())
}
