//! Dev-chain inspection, the node's side (`docs/threat-model.md`, "Dev inspect"): the
//! owner key lives in the dev home, is created only for a chain whose genesis is marked
//! `dev`, and is handed (its public half) to the enclave, which refuses it on any other
//! genesis. The node keeps what the enclave seals to it — one record per contract call,
//! by transaction hash — and passes on what it cannot read.

use std::path::{Path, PathBuf};

use veil_crypto::x25519_dalek::{PublicKey, StaticSecret};
use veil_crypto::OsRng;

use crate::genesis::Genesis;

/// The owner key's file in a node's home (hex of the X25519 secret, mode 0600).
pub const OWNER_KEY_FILE: &str = "inspect-owner.key";

#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("--inspect is refused: chain {0:?} is not a dev chain (its genesis is not marked `dev`); inspection would give up its confidentiality, and only chains started by `veil dev` may do that")]
    NotDevChain(String),
    #[error("{0}")]
    Key(String),
}

pub fn owner_key_path(node_home: &Path) -> PathBuf {
    node_home.join(OWNER_KEY_FILE)
}

/// The owner key of a dev chain's home, created on first use. Refused (and nothing is
/// written) unless `genesis` is a dev chain's.
pub fn owner_key_for(node_home: &Path, genesis: &Genesis) -> Result<StaticSecret, InspectError> {
    if !genesis.dev {
        return Err(InspectError::NotDevChain(genesis.chain_id.clone()));
    }
    if let Some(key) = load_owner_key(node_home)? {
        return Ok(key);
    }
    let path = owner_key_path(node_home);
    let io = |e: std::io::Error| InspectError::Key(format!("writing {}: {e}", path.display()));
    let secret = StaticSecret::random_from_rng(OsRng);
    std::fs::create_dir_all(node_home).map_err(io)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&path).map_err(io)?;
    std::io::Write::write_all(&mut file, hex::encode(secret.to_bytes()).as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok(secret)
}

/// The owner key in `node_home`, if there is one.
pub fn load_owner_key(node_home: &Path) -> Result<Option<StaticSecret>, InspectError> {
    let path = owner_key_path(node_home);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(InspectError::Key(format!(
                "reading {}: {e}",
                path.display()
            )))
        }
    };
    let bytes: [u8; 32] = hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| InspectError::Key(format!("{} is not a 32-byte hex key", path.display())))?;
    Ok(Some(StaticSecret::from(bytes)))
}

/// The public half, what the enclave seals to.
pub fn owner_public(secret: &StaticSecret) -> [u8; 32] {
    PublicKey::from(secret).to_bytes()
}
