//! Veil's node (untrusted host): the chain state machine, its store, mempool, the
//! validator that runs it on BFT consensus, and the RPC server. It only ever handles
//! public data and ciphertext; everything confidential happens in the enclave behind
//! `veil-host`.

pub mod app;
pub mod gossip;
pub mod inspect;
pub mod join;
pub mod mempool;
pub mod node;
pub mod rpc;
pub mod state;
pub mod store;
pub mod validator;

pub use app::{App, AppConfig, AppError, Rejection};
pub use veil_types::genesis::{self, Genesis, GenesisAccount, NetworkGenesis, Params};
