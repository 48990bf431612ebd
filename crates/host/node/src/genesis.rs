//! The genesis file: chain id, start time, funded accounts and chain parameters.

use serde::{Deserialize, Serialize};
use veil_types::amount;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    pub chain_id: String,
    /// Nanoseconds since the Unix epoch.
    pub genesis_time_nanos: u64,
    pub accounts: Vec<GenesisAccount>,
    #[serde(default)]
    pub params: Params,
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
}

impl Default for Params {
    fn default() -> Self {
        Self {
            fee_per_million_gas: 1_000,
            max_tx_gas: 100_000_000,
            max_block_txs: 10_000,
            max_block_bytes: 64 * 1024 * 1024,
        }
    }
}

impl Genesis {
    /// Checks what a node needs before it starts a chain from this genesis.
    pub fn validate(&self) -> Result<(), String> {
        if self.chain_id.is_empty() || self.chain_id.len() > 64 {
            return Err("chain_id must be 1 to 64 characters".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for account in &self.accounts {
            veil_types::validate_address(&account.address)
                .map_err(|e| format!("genesis account: {e}"))?;
            if !seen.insert(&account.address) {
                return Err(format!("genesis account {} appears twice", account.address));
            }
        }
        if self.params.max_block_txs == 0 || self.params.max_block_bytes < veil_types::MAX_TX_BYTES
        {
            return Err("params: a block must hold at least one largest transaction".into());
        }
        Ok(())
    }
}
