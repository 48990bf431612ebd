//! Veil's BFT consensus on the untrusted host: Malachite (a Tendermint-family engine) with
//! Veil's context, codecs and a driver the node plugs its application into.
//!
//! - [`context`]: heights, validators, the value (a block hash), proposals, parts, votes,
//!   ed25519 signing. Votes are signed over the shared
//!   [`veil_types::consensus::vote_sign_bytes`], so Malachite's commit certificates are
//!   the shared [`veil_types::consensus::CommitCertificate`]s the enclave verifies.
//! - [`codec`]: the wire, WAL and sync encoding.
//! - [`driver`]: [`start`] a validator; the node implements [`Application`].
//!
//! This crate is untrusted: it never sees an enclave's keys or any plaintext, and
//! nothing it reports is trusted by the enclave, which re-verifies every certificate.

pub mod blocks;
pub mod codec;
pub mod context;
pub mod driver;

pub use driver::{
    equivocations, start, to_malachite_certificate, to_shared_certificate, Application, Config,
    Equivocation, EquivocationKind, Node, Peer, Status, Timeouts,
};
pub use veil_types::consensus::{CommitCertificate, ValidatorAddress, ValidatorSet};
