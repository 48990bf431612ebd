//! Joining a network: start this node's enclave on the network's genesis (without the
//! seed), let it attest its registration key, and install the seed share the network's
//! enclaves wrote for it. The operator's side (fetching the genesis from a peer, pinning
//! its hash, submitting `register_node`) is the CLI's (`veil node join`).

use std::sync::Arc;

use veil_enclave_abi::AttestResponse;
use veil_host::{EnclaveClient, HostServices, MemoryNodes};

use crate::app::{open_enclave, AppConfig, AppError};
use crate::genesis::Genesis;
use crate::store::{EnclaveRecord, Store};

/// A node's enclave on its way into a network.
pub struct Joining {
    enclave: EnclaveClient,
    store: Store,
    registration_key: [u8; 32],
    has_seed: bool,
}

impl Joining {
    /// Opens (or resumes) the joining enclave in `config.home`. Its sealed state — the
    /// registration key, later the seed — is kept in the store, so a join interrupted
    /// after the registration resumes with the same key.
    pub fn open(config: &AppConfig, genesis: &Genesis) -> Result<Self, AppError> {
        std::fs::create_dir_all(&config.home)
            .map_err(|e| AppError::State(format!("creating {}: {e}", config.home.display())))?;
        if genesis.network.is_none() {
            return Err(AppError::State(
                "the genesis has no network section: there is no network to join".into(),
            ));
        }
        let store = Store::open(&config.home.join("chain.redb"))?;
        if store.height()?.is_some() {
            return Err(AppError::State(format!(
                "{} already holds a chain: it has joined already (run it with `veil node join` again to follow, or `veil node start`)",
                config.home.display()
            )));
        }
        // Nothing crosses during a join but the enclave's own calls.
        let services = Arc::new(HostServices::new(
            Arc::new(MemoryNodes::default()),
            Box::new(veil_engine::BankQuerier::default()),
            config.log_crossings,
            None,
        ));
        let (enclave, init) = open_enclave(config, &store, genesis, services)?;
        if init.genesis_hash != genesis.hash() {
            return Err(AppError::State(
                "the enclave is bound to another genesis".into(),
            ));
        }
        store.save_enclave_record(&EnclaveRecord {
            sealed_state: init.sealed_state,
            seal_generation: init.seal_generation,
        })?;
        Ok(Self {
            enclave,
            store,
            registration_key: init.registration_key,
            has_seed: init.has_seed,
        })
    }

    pub fn registration_key(&self) -> [u8; 32] {
        self.registration_key
    }

    /// Whether the enclave already holds the seed (a resumed join).
    pub fn has_seed(&self) -> bool {
        self.has_seed
    }

    /// The enclave's registration key and its attestation for `operator`.
    pub fn attest(&self, operator: &str) -> Result<AttestResponse, AppError> {
        Ok(self.enclave.attest(operator)?)
    }

    /// Hands the enclave its seed share; it accepts it only if it derives the genesis
    /// network key, and its sealed state with the seed is kept for the node's start.
    pub fn install(&mut self, seed_share: Vec<u8>) -> Result<(), AppError> {
        let init = self.enclave.install_seed(seed_share)?;
        self.store.save_enclave_record(&EnclaveRecord {
            sealed_state: init.sealed_state,
            seal_generation: init.seal_generation,
        })?;
        self.has_seed = true;
        Ok(())
    }
}
