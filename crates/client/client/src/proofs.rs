//! Public records read as a light client reads them: the node answers a record with its
//! Merkle proof under the state root after block `h` (`GET /proofs/…`, `docs/rpc.md`),
//! and the client checks the proof, then that block `h + 1`'s header carries that root and
//! that its commit certificate is signed by more than 2/3 of the genesis validators'
//! power. The only thing trusted is the genesis the caller holds; a node that lies about a
//! balance, a contract's code or an enclave's registration is caught.

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;
use veil_types::consensus::verify_commit_certificate;
use veil_types::genesis::Genesis;
use veil_types::state_proof::{leaf_key, verify_record, Proof};
use veil_types::{decode_exact, serde_hash, Account, CodeInfo, ContractInfo, Hash};

use crate::rpc::{Client, ClientError};

/// Which public record to prove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateKey {
    Account(String),
    Code(u64),
    Contract(String),
    Registration(Hash),
    AttestationPolicy,
}

impl StateKey {
    /// The record's key in the state tree (`docs/protocol.md`, "Blocks and the state root").
    pub fn leaf_key(&self) -> Vec<u8> {
        match self {
            StateKey::Account(address) => leaf_key::account(address),
            StateKey::Code(id) => leaf_key::code(*id),
            StateKey::Contract(address) => leaf_key::contract(address),
            StateKey::Registration(key) => leaf_key::registration(key),
            StateKey::AttestationPolicy => leaf_key::attestation_policy(),
        }
    }

    fn path(&self) -> String {
        match self {
            StateKey::Account(address) => format!("/proofs/accounts/{address}"),
            StateKey::Code(id) => format!("/proofs/codes/{id}"),
            StateKey::Contract(address) => format!("/proofs/contracts/{address}"),
            StateKey::Registration(key) => format!("/proofs/registrations/{}", hex::encode(key)),
            StateKey::AttestationPolicy => "/proofs/attestation-policy".into(),
        }
    }
}

/// The node's answer to `GET /proofs/…`, as sent (nothing in it is checked yet).
#[derive(Debug, Clone, Deserialize)]
pub struct ProofAnswer {
    pub height: u64,
    #[serde(with = "serde_hash")]
    pub app_hash: Hash,
    pub leaf_key: String,
    pub value: Option<String>,
    pub proof: ProofJson,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProofJson {
    pub siblings: Vec<String>,
    pub leaf: Option<LeafJson>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LeafJson {
    #[serde(with = "serde_hash")]
    pub key_hash: Hash,
    #[serde(with = "serde_hash")]
    pub value_hash: Hash,
}

/// A record proven under a certified state root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvenRecord {
    /// The record is as of the state after this block.
    pub height: u64,
    /// That state's root, carried by block `height + 1`'s certified header.
    pub app_hash: Hash,
    /// The record's postcard encoding (`None`: proven absent).
    pub value: Option<Vec<u8>>,
}

impl ProofAnswer {
    /// Checks the proof against the root the node stated (not yet against a certified
    /// header: [`Client::prove`] does both).
    pub fn verify(&self, key: &StateKey) -> Result<Option<Vec<u8>>, ClientError> {
        let bad = |what: String| ClientError::Proof(what);
        let expected = key.leaf_key();
        if self.leaf_key != hex::encode(&expected) {
            return Err(bad(format!(
                "it answers for the key {}, not {}",
                self.leaf_key,
                hex::encode(&expected)
            )));
        }
        let value = match &self.value {
            Some(text) => Some(
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| bad(format!("the value is not base64: {e}")))?,
            ),
            None => None,
        };
        let siblings = self
            .proof
            .siblings
            .iter()
            .map(|s| serde_hash::parse_hex(s).map_err(|e| bad(format!("a sibling: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let proof = Proof {
            siblings,
            leaf: self.proof.leaf.as_ref().map(|l| (l.key_hash, l.value_hash)),
        };
        if !verify_record(&self.app_hash, &expected, value.as_deref(), &proof) {
            return Err(bad(format!(
                "the record it sent is not under the state root {} it stated",
                hex::encode(self.app_hash)
            )));
        }
        Ok(value)
    }
}

impl Client {
    /// The node's answer to a proof request, unchecked.
    pub fn state_proof(&self, key: &StateKey) -> Result<ProofAnswer, ClientError> {
        self.get(&key.path())
    }

    /// A public record proven against `genesis` (the one thing trusted): the node's proof,
    /// block `height + 1`'s header carrying its root, that block's commit certificate.
    /// Waits up to `timeout` for block `height + 1` when it is not yet committed.
    pub fn prove(
        &self,
        key: &StateKey,
        genesis: &Genesis,
        timeout: Duration,
    ) -> Result<ProvenRecord, ClientError> {
        let answer = self.state_proof(key)?;
        let value = answer.verify(key)?;
        let next = answer
            .height
            .checked_add(1)
            .ok_or_else(|| ClientError::Proof("a height with no next block".into()))?;
        let started = Instant::now();
        let block = loop {
            match self.block(Some(next)) {
                Ok(block) => break block,
                Err(ClientError::Api { status: 404, .. }) if started.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(ClientError::Api { status: 404, .. }) => {
                    return Err(ClientError::Proof(format!(
                        "block {next}, which certifies the root, did not come within {timeout:?}"
                    )))
                }
                Err(e) => return Err(e),
            }
        };
        let header = &block.header;
        if header.chain_id != genesis.chain_id || header.height != next {
            return Err(ClientError::Proof(format!(
                "the node sent block {} of chain {:?} for block {next} of {:?}",
                header.height, header.chain_id, genesis.chain_id
            )));
        }
        if header.app_hash != answer.app_hash {
            return Err(ClientError::Proof(format!(
                "block {next}'s header carries the state root {}, not the proof's {}",
                hex::encode(header.app_hash),
                hex::encode(answer.app_hash)
            )));
        }
        let certificate = block
            .certificate
            .as_ref()
            .ok_or_else(|| ClientError::Proof(format!("block {next} has no certificate")))?;
        let validators = genesis
            .validator_set()
            .map_err(|e| ClientError::Proof(format!("the trusted genesis: {e}")))?;
        verify_commit_certificate(
            certificate,
            &validators,
            &genesis.chain_id,
            next,
            &header.hash(),
        )
        .map_err(|e| ClientError::Proof(format!("block {next}'s certificate: {e}")))?;
        Ok(ProvenRecord {
            height: answer.height,
            app_hash: answer.app_hash,
            value,
        })
    }

    /// An account proven against `genesis` (an account that was never funded is proven
    /// absent and answered as empty).
    pub fn proven_account(
        &self,
        address: &str,
        genesis: &Genesis,
        timeout: Duration,
    ) -> Result<(u64, Account), ClientError> {
        let record = self.prove(&StateKey::Account(address.into()), genesis, timeout)?;
        let account = match record.value {
            Some(bytes) => decoded(&bytes)?,
            None => Account {
                address: address.into(),
                ..Default::default()
            },
        };
        Ok((record.height, account))
    }

    /// A contract's public record (code, admin, state root, query policy) proven against
    /// `genesis`; `None`: proven absent.
    pub fn proven_contract(
        &self,
        address: &str,
        genesis: &Genesis,
        timeout: Duration,
    ) -> Result<(u64, Option<ContractInfo>), ClientError> {
        let record = self.prove(&StateKey::Contract(address.into()), genesis, timeout)?;
        Ok((
            record.height,
            record.value.as_deref().map(decoded).transpose()?,
        ))
    }

    /// A code's public record proven against `genesis`; `None`: proven absent.
    pub fn proven_code(
        &self,
        code_id: u64,
        genesis: &Genesis,
        timeout: Duration,
    ) -> Result<(u64, Option<CodeInfo>), ClientError> {
        let record = self.prove(&StateKey::Code(code_id), genesis, timeout)?;
        Ok((
            record.height,
            record.value.as_deref().map(decoded).transpose()?,
        ))
    }
}

fn decoded<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ClientError> {
    decode_exact(bytes).map_err(|e| ClientError::Proof(format!("a proven record: {e}")))
}
