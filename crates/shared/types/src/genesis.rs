//! The genesis file: chain id, start time, funded accounts, chain parameters, and the
//! network section that binds the chain to the enclave that generated its master seed.
//!
//! Shared by the node and the enclave: the enclave is handed the genesis bytes, computes
//! [`Genesis::hash`] itself and never runs under another genesis (`docs/protocol.md`,
//! "Genesis").

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use veil_attestation::{Attestation, Policy};

use crate::consensus::ValidatorSet;
use crate::{amount, serde_hash, Hash};

/// Domain of the genesis hash.
pub const GENESIS_HASH_DOMAIN: &[u8] = b"veil/genesis-v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    pub chain_id: String,
    /// Nanoseconds since the Unix epoch.
    pub genesis_time_nanos: u64,
    pub accounts: Vec<GenesisAccount>,
    #[serde(default)]
    pub params: Params,
    /// Which enclaves may register and receive the master seed (none: no node may join).
    #[serde(default)]
    pub attestation_policy: Option<Policy>,
    /// The consensus validators (ed25519 keys and voting power), fixed by genesis. Every
    /// enclave executes a block only with a commit certificate of more than 2/3 of their
    /// power (`docs/consensus.md`).
    #[serde(default)]
    pub validators: Vec<GenesisValidator>,
    /// The account that may change the attestation policy and revoke registered enclaves
    /// (none: the policy is fixed).
    #[serde(default)]
    pub authority: Option<String>,
    /// The network's keys, written by the bootstrap enclave when it generated the master
    /// seed (absent in a genesis file that has not been bootstrapped yet).
    #[serde(default)]
    pub network: Option<NetworkGenesis>,
    /// A development chain (`veil dev`): its owner may turn on inspection, which decrypts
    /// any transaction and any contract's state for them (`docs/threat-model.md`, "Dev
    /// inspect"). Part of the hash like every field, so a chain cannot be made a dev chain
    /// without becoming another chain; `veil testnet` and `veil node` never set it.
    #[serde(default)]
    pub dev: bool,
}

/// One genesis validator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisValidator {
    /// A name for logs and status (not part of consensus).
    pub name: String,
    /// The ed25519 consensus public key.
    #[serde(with = "serde_hash")]
    pub public_key: Hash,
    pub power: u64,
}

/// What the bootstrap enclave publishes about the master seed it generated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkGenesis {
    /// The X25519 key users encrypt to (the IO key of `key_generation`).
    #[serde(with = "serde_hash")]
    pub network_key: Hash,
    pub key_generation: u32,
    /// The X25519 key seed shares are computed with (`docs/protocol.md`, "Seed sharing").
    #[serde(with = "serde_hash")]
    pub seed_exchange_key: Hash,
    /// The bootstrap enclave's attestation: its report data is
    /// `bootstrap_report_data(network_key, seed_exchange_key, core_hash)` — the seed was
    /// born in an enclave the policy accepts, for this genesis.
    pub bootstrap_attestation: Attestation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisAccount {
    pub address: String,
    #[serde(with = "amount")]
    pub balance: u128,
}

/// Chain parameters, fixed at genesis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Params {
    /// Minimum fee: uveil per million gas of the transaction's gas limit.
    pub fee_per_million_gas: u64,
    /// Highest gas limit one transaction may ask for.
    pub max_tx_gas: u64,
    /// Most transactions in one block.
    pub max_block_txs: usize,
    /// Most transaction bytes in one block.
    pub max_block_bytes: usize,
    /// Most gas one block's transactions may ask for (the sum of their gas limits).
    pub max_block_gas: u64,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            fee_per_million_gas: 1_000,
            // 2.8 s of Wasm execution at most; stores code of up to ~1.5 MB.
            max_tx_gas: 20_000_000,
            max_block_txs: 10_000,
            max_block_bytes: 64 * 1024 * 1024,
            // ~9,000 cw20 transfers (docs/gas.md, "Block limits").
            max_block_gas: 1_000_000_000,
        }
    }
}

impl Genesis {
    /// The canonical encoding (postcard): what the enclave is given and what is hashed.
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("serializable")
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        crate::decode_exact(bytes)
    }

    /// `SHA-256("veil/genesis-v1" || postcard(genesis))`: what an enclave is bound to —
    /// without the last byte (`dev`, postcard's last field) when it is 0, so a genesis
    /// that is not a dev chain's hashes as it did before the flag existed. (Unambiguous:
    /// a postcard encoding is never a strict prefix of another one of the same type.)
    pub fn hash(&self) -> Hash {
        let mut bytes = self.to_bytes();
        if !self.dev {
            let last = bytes.pop();
            debug_assert_eq!(last, Some(0), "`dev` is the last field");
        }
        let mut hasher = Sha256::new();
        hasher.update(GENESIS_HASH_DOMAIN);
        hasher.update(&bytes);
        hasher.finalize().into()
    }

    /// The hash of this genesis without its network section: what the bootstrap enclave's
    /// attestation binds (the section holds that attestation).
    pub fn core_hash(&self) -> Hash {
        Genesis {
            network: None,
            ..self.clone()
        }
        .hash()
    }

    /// The validator set consensus runs with and every enclave checks certificates against.
    pub fn validator_set(&self) -> Result<ValidatorSet, String> {
        ValidatorSet::new(self.validators.iter().map(|v| (v.public_key, v.power)))
            .map_err(|e| format!("validators: {e}"))
    }

    /// Checks what a node needs before it starts a chain from this genesis.
    pub fn validate(&self) -> Result<(), String> {
        if self.chain_id.is_empty() || self.chain_id.len() > 64 {
            return Err("chain_id must be 1 to 64 characters".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for account in &self.accounts {
            crate::validate_address(&account.address)
                .map_err(|e| format!("genesis account: {e}"))?;
            if !seen.insert(&account.address) {
                return Err(format!("genesis account {} appears twice", account.address));
            }
        }
        // Chainless hosts (tests, tools) run without validators; a chain needs them.
        if !self.validators.is_empty() {
            self.validator_set()?;
        }
        if let Some(authority) = &self.authority {
            crate::validate_address(authority).map_err(|e| format!("authority: {e}"))?;
        }
        if let Some(policy) = &self.attestation_policy {
            policy
                .validate()
                .map_err(|e| format!("attestation_policy: {e}"))?;
        }
        if self.params.max_block_gas < self.params.max_tx_gas {
            return Err("params: a block must hold at least one largest-gas transaction".into());
        }
        if self.params.max_block_txs == 0 || self.params.max_block_bytes < crate::MAX_TX_BYTES {
            return Err("params: a block must hold at least one largest transaction".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn genesis(dev: bool) -> Genesis {
        serde_json::from_value(serde_json::json!({
            "chain_id": "c", "genesis_time_nanos": 7, "accounts": [], "dev": dev,
        }))
        .unwrap()
    }

    /// A dev chain is another chain: its hash differs. A genesis that is not one hashes
    /// as before the flag existed (its encoding without the flag's byte), and a file
    /// without the field is not a dev chain.
    #[test]
    fn the_dev_flag_is_bound_into_the_hash() {
        let plain = genesis(false);
        let dev = genesis(true);
        assert_ne!(plain.hash(), dev.hash());
        assert_eq!(dev.core_hash(), dev.hash(), "no network section yet");
        let bytes = plain.to_bytes();
        assert_eq!(bytes.last(), Some(&0));
        let mut before_the_flag = Sha256::new();
        before_the_flag.update(GENESIS_HASH_DOMAIN);
        before_the_flag.update(&bytes[..bytes.len() - 1]);
        assert_eq!(plain.hash(), <Hash>::from(before_the_flag.finalize()));
        let unmarked: Genesis = serde_json::from_value(serde_json::json!({
            "chain_id": "c", "genesis_time_nanos": 7, "accounts": [],
        }))
        .unwrap();
        assert_eq!(unmarked, plain);
        assert_eq!(Genesis::from_bytes(&dev.to_bytes()).unwrap(), dev);
    }
}
