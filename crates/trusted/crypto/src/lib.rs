//! Veil's cryptographic protocol (trusted).
//!
//! Everything a Veil enclave and a Veil client need to agree on, byte for byte:
//!
//! - key derivation from the network master seed ([`MasterSeed`], [`derive_key`], [`KeyLabel`]),
//! - the network IO key ([`IoKeypair`]) and per-contract keys ([`contract_key`]),
//! - the AEAD (AES-256-GCM-SIV, RFC 8452: [`aead_encrypt`], [`aead_decrypt`]),
//! - the transaction envelope users encrypt their messages in ([`encrypt_input`],
//!   [`open_input`]) and the per-transaction key that encrypts results ([`TxKey`], [`OutputKind`]),
//! - sealing to the enclave ([`Sealer`], [`SimulatedSealer`]),
//! - private per-call randomness ([`call_randomness`]),
//! - what an enclave seals to a dev chain's inspecting owner ([`seal_for_owner`], [`open_as_owner`]).
//!
//! The exact byte layouts are published in `docs/protocol.md` together with test vectors; the
//! test `tests/vectors.rs` reads that document and checks every vector against this code.
//!
//! This crate does no I/O. The only source of entropy is a `&mut impl CryptoRngCore` passed in
//! by the caller (normally [`OsRng`]). Secret-holding types zeroize on drop and print as
//! `[REDACTED]`; errors ([`CryptoError`]) never carry plaintext or key material.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod aead;
mod envelope;
mod error;
mod inspect;
mod kdf;
mod seal;
mod seed_share;

// Named in Cargo.toml only to enable their `zeroize` features (AES round keys and POLYVAL
// state are wiped when aes-gcm-siv drops them).
use aes as _;
use polyval as _;

pub use crate::aead::{aead_decrypt, aead_encrypt, AEAD_NONCE_LEN, AEAD_TAG_LEN};
pub use crate::envelope::{
    encrypt_input, encrypt_input_with_nonce, envelope_generation, open_input, open_input_cached,
    OutputKind, SharedSecretCache, TxKey, ENVELOPE_HEADER_LEN, ENVELOPE_MIN_LEN,
    ENVELOPE_NONCE_LEN, ENVELOPE_VERSION, OUTPUT_AAD, TX_KEY_INFO,
};
pub use crate::error::CryptoError;
pub use crate::inspect::{inspect_binding, open_as_owner, seal_for_owner, INSPECT_DOMAIN};
pub use crate::kdf::{
    call_randomness, contract_key, derive_key, IoKeypair, KeyLabel, MasterSeed, KDF_SALT,
};
pub use crate::seal::{
    Sealer, SimulatedSealer, SEAL_VERSION, SIM_MACHINE_SECRET_MIN_LEN, SIM_SEAL_INFO, SIM_SEAL_SALT,
};
pub use crate::seed_share::{
    open_seed_share, seed_exchange_public, share_seed, SEED_SHARE_INFO, SEED_SHARE_LEN,
};

/// Re-exported so callers use the same `rand_core` (0.6) as this crate.
pub use rand_core::{CryptoRngCore, OsRng};
/// Re-exported so clients build [`x25519_dalek::StaticSecret`]s of the version this crate takes.
pub use x25519_dalek;
/// Re-exported: the wrapper [`derive_key`] and friends return.
pub use zeroize::Zeroizing;
