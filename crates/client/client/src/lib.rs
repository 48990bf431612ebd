//! Veil's client library (untrusted: runs on the user's machine, never in the enclave).
//!
//! - [`keys`]: wallet keys — BIP-39 mnemonics, the Cosmos HD path, the X25519 key that
//!   encrypts contract messages, the public development accounts;
//! - [`keyring`]: named keys on disk (`test` and passphrase-encrypted `file` backends);
//! - [`proofs`]: public records proven against a block the genesis validators certified
//!   (a light client's read: the node is not trusted);
//! - [`rpc`]: a blocking client of the node's HTTP API;
//! - [`tx`]: signing and sending transactions, encrypting contract messages to the network
//!   key and decrypting results for the sender.

pub mod keyring;
pub mod keys;
pub mod proofs;
pub mod rpc;
pub mod tx;

pub use keyring::{Backend, KeyInfo, Keyring, KeyringError};
pub use keys::{dev_key, KeyError, KeyPair, Mnemonic};
