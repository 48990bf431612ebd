//! A blocking client of the node's HTTP JSON API (`docs/rpc.md`).

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use veil_types::{serde_hash, Account, CodeInfo, ContractInfo, Hash, Receipt, Tx};

/// Where `veil` looks for a node unless told otherwise.
pub const DEFAULT_NODE_URL: &str = "http://127.0.0.1:26657";

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the node at {url}: {message} (is it running? start one with `veil dev`)"
    )]
    Unreachable { url: String, message: String },
    /// The node answered with an error (`kind` is stable, see `docs/rpc.md`).
    #[error("{message}")]
    Api {
        status: u16,
        kind: String,
        message: String,
    },
    #[error("unexpected answer from the node: {0}")]
    Decode(String),
    #[error("transaction {tx_hash} was not included within {waited:?}")]
    Timeout { tx_hash: String, waited: Duration },
    /// A node's proof of a public record did not hold (`proofs`): its answer cannot be
    /// trusted.
    #[error("the node's proof does not hold: {0}")]
    Proof(String),
}

impl ClientError {
    /// The node's error kind, if the node answered with an error.
    pub fn kind(&self) -> Option<&str> {
        match self {
            ClientError::Api { kind, .. } => Some(kind),
            _ => None,
        }
    }
}

/// The node's `/status`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct Status {
    pub chain_id: String,
    pub height: u64,
    pub latest_block_hash: String,
    pub latest_block_time_nanos: u64,
    pub app_hash: String,
    pub network_key: String,
    pub key_generation: u32,
    pub mempool_size: usize,
    /// Encrypted contract state nodes in the node's store (what the contracts' current
    /// roots use).
    pub state_nodes: u64,
    /// Equivocation evidence records the node keeps (`GET /evidence` lists them).
    #[serde(default)]
    pub evidence_count: u64,
    pub params: Value,
    /// What a joining node pins (`veil node join --genesis-hash`).
    #[serde(default)]
    pub genesis_hash: String,
    #[serde(default)]
    pub simulated_attestation_allowed: bool,
    /// Set when the chain gives its seed to any simulated enclave.
    #[serde(default)]
    pub attestation_warning: Option<String>,
    pub node_version: String,
    /// How the node takes part: `role` (`validator`/`follower`), `validator` (its
    /// address), `consensus_height`, `synced_heights`, `catching_up`, `peer_count`,
    /// `peers` (`id`, `validator`, `address`, `direction`, `moniker`).
    #[serde(default)]
    pub consensus: Value,
    /// The genesis validators (`name`, `address`, `public_key`, `power`).
    #[serde(default)]
    pub validators: Vec<Value>,
    /// Transaction gossip: `listen` (its address), `peers` (connected now); null when
    /// the node gossips nothing.
    #[serde(default)]
    pub gossip: Value,
}

/// A transaction as the node reports it.
#[derive(Debug, Clone)]
pub enum TxStatus {
    Pending,
    Committed(Box<CommittedTx>),
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct CommittedTx {
    pub tx_hash: String,
    pub height: u64,
    pub index: u32,
    pub tx: Option<Tx>,
    pub tx_bytes: String,
    pub receipt: Receipt,
}

/// What a contract query returned (the result is encrypted for the querier).
#[derive(Debug, Clone, Deserialize)]
pub struct QueryAnswer {
    pub ok: bool,
    /// The height of the state the answer was computed on.
    #[serde(default)]
    pub height: u64,
    pub gas_used: u64,
    pub error_kind: Option<String>,
    #[serde(with = "veil_types::serde_bytes_b64")]
    pub encrypted_result: Vec<u8>,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize)]
pub struct BlockInfo {
    pub hash: String,
    pub header: veil_types::BlockHeader,
    pub tx_hashes: Vec<String>,
    /// The validators' commit certificate (none for block 0).
    #[serde(default)]
    pub certificate: Option<veil_types::consensus::CommitCertificate>,
}

#[derive(Clone)]
pub struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    pub fn new(url: &str) -> Self {
        Self {
            base: url.trim_end_matches('/').to_string(),
            agent: ureq::AgentBuilder::new()
                .timeout_connect(Duration::from_secs(5))
                .timeout(Duration::from_secs(120))
                .build(),
        }
    }

    pub fn url(&self) -> &str {
        &self.base
    }

    fn answer<T: DeserializeOwned>(
        &self,
        result: Result<ureq::Response, ureq::Error>,
    ) -> Result<T, ClientError> {
        match result {
            Ok(response) => response
                .into_json()
                .map_err(|e| ClientError::Decode(e.to_string())),
            Err(ureq::Error::Status(status, response)) => {
                let body: Value = response.into_json().unwrap_or(Value::Null);
                Err(ClientError::Api {
                    status,
                    kind: body["error"]["kind"].as_str().unwrap_or("http").to_string(),
                    message: body["error"]["message"]
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| format!("the node answered HTTP {status}")),
                })
            }
            Err(e) => Err(ClientError::Unreachable {
                url: self.base.clone(),
                message: e.to_string(),
            }),
        }
    }

    pub(crate) fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        self.answer(self.agent.get(&format!("{}{path}", self.base)).call())
    }

    fn post<T: DeserializeOwned>(&self, path: &str, body: Value) -> Result<T, ClientError> {
        self.answer(
            self.agent
                .post(&format!("{}{path}", self.base))
                .send_json(body),
        )
    }

    pub fn status(&self) -> Result<Status, ClientError> {
        self.get("/status")
    }

    /// The network's encryption key and its generation.
    pub fn network_key(&self) -> Result<([u8; 32], u32), ClientError> {
        #[derive(Deserialize)]
        struct Key {
            #[serde(with = "serde_hash")]
            public_key: Hash,
            generation: u32,
        }
        let key: Key = self.get("/network_key")?;
        Ok((key.public_key, key.generation))
    }

    pub fn account(&self, address: &str) -> Result<Account, ClientError> {
        self.get(&format!("/accounts/{address}"))
    }

    pub fn code(&self, code_id: u64) -> Result<CodeInfo, ClientError> {
        self.get(&format!("/codes/{code_id}"))
    }

    pub fn contract(&self, address: &str) -> Result<ContractInfo, ClientError> {
        self.get(&format!("/contracts/{address}"))
    }

    /// A block by height, or the latest.
    pub fn block(&self, height: Option<u64>) -> Result<BlockInfo, ClientError> {
        match height {
            Some(h) => self.get(&format!("/blocks/{h}")),
            None => self.get("/blocks/latest"),
        }
    }

    pub fn block_receipts(&self, height: u64) -> Result<Vec<Receipt>, ClientError> {
        self.get(&format!("/blocks/{height}/receipts"))
    }

    /// Submits raw transaction bytes; the node checks them before queueing.
    pub fn submit_bytes(&self, bytes: &[u8]) -> Result<Hash, ClientError> {
        #[derive(Deserialize)]
        struct Submitted {
            #[serde(with = "serde_hash")]
            tx_hash: Hash,
        }
        let answer: Submitted = self.post(
            "/txs",
            json!({ "tx": base64::engine::general_purpose::STANDARD.encode(bytes) }),
        )?;
        Ok(answer.tx_hash)
    }

    pub fn submit(&self, tx: &Tx) -> Result<Hash, ClientError> {
        self.submit_bytes(&tx.to_bytes())
    }

    /// Runs a transaction signed for simulation (`TxBody::sign_for_simulation`) without
    /// committing it; the receipt says the gas it used.
    pub fn simulate(&self, tx: &Tx) -> Result<Receipt, ClientError> {
        self.post(
            "/simulate",
            json!({ "tx": base64::engine::general_purpose::STANDARD.encode(tx.to_bytes()) }),
        )
    }

    /// The chain's genesis (with its network section) and the hash the node gives for it
    /// (recompute it: the node is not trusted).
    pub fn genesis(&self) -> Result<(veil_types::genesis::Genesis, String), ClientError> {
        let value: Value = self.get("/genesis")?;
        let genesis = serde_json::from_value(value["genesis"].clone())
            .map_err(|e| ClientError::Decode(format!("genesis: {e}")))?;
        Ok((
            genesis,
            value["genesis_hash"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ))
    }

    /// The registration of the enclave with this X25519 key, if any.
    pub fn registration(
        &self,
        key: &Hash,
    ) -> Result<Option<veil_types::Registration>, ClientError> {
        match self.get(&format!("/registrations/{}", hex::encode(key))) {
            Ok(registration) => Ok(Some(registration)),
            Err(ClientError::Api { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// One page of registered enclaves (active and revoked), in key order after `after`.
    pub fn registrations(
        &self,
        after: Option<&Hash>,
        limit: Option<usize>,
    ) -> Result<veil_types::RegistrationPage, ClientError> {
        let mut query = Vec::new();
        if let Some(after) = after {
            query.push(format!("after={}", hex::encode(after)));
        }
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        let path = if query.is_empty() {
            "/registrations".to_string()
        } else {
            format!("/registrations?{}", query.join("&"))
        };
        self.get(&path)
    }

    /// The attestation policy registrations are verified against now.
    pub fn attestation_policy(&self) -> Result<veil_types::AttestationPolicyRecord, ClientError> {
        self.get("/attestation-policy")
    }

    pub fn tx(&self, hash: &Hash) -> Result<Option<TxStatus>, ClientError> {
        let value: Value = match self.get(&format!("/txs/{}", hex::encode(hash))) {
            Ok(value) => value,
            Err(ClientError::Api { status: 404, .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        if value["status"] == "pending" {
            return Ok(Some(TxStatus::Pending));
        }
        serde_json::from_value(value)
            .map(|c| Some(TxStatus::Committed(Box::new(c))))
            .map_err(|e| ClientError::Decode(e.to_string()))
    }

    /// Dev chains with inspection on: a committed transaction's inspection record, sealed
    /// to the owner key (`sealed` is null when it called no contract). JSON as the node
    /// answers it (`docs/rpc.md`).
    pub fn inspect_tx(&self, hash: &Hash) -> Result<Value, ClientError> {
        self.get(&format!("/inspect/txs/{}", hex::encode(hash)))
    }

    /// Dev chains with inspection on: a page of `address`'s state under `prefix`, after
    /// `after`, sealed to the owner key.
    pub fn inspect_state(
        &self,
        address: &str,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Value, ClientError> {
        let mut path = format!(
            "/inspect/contracts/{address}/state?prefix={}&limit={limit}",
            hex::encode(prefix)
        );
        if let Some(after) = after {
            path.push_str(&format!("&after={}", hex::encode(after)));
        }
        self.get(&path)
    }

    /// Waits until the transaction is in a block; `progress` is called on every poll.
    pub fn wait_for_tx(
        &self,
        hash: &Hash,
        timeout: Duration,
        mut progress: impl FnMut(Duration),
    ) -> Result<CommittedTx, ClientError> {
        let started = Instant::now();
        loop {
            if let Some(TxStatus::Committed(tx)) = self.tx(hash)? {
                return Ok(*tx);
            }
            let waited = started.elapsed();
            if waited >= timeout {
                return Err(ClientError::Timeout {
                    tx_hash: hex::encode(hash),
                    waited,
                });
            }
            progress(waited);
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends an encrypted query envelope to a contract, with an encrypted permit for a
    /// signed query.
    pub fn query_contract(
        &self,
        address: &str,
        envelope: &[u8],
        encrypted_permit: Option<&[u8]>,
    ) -> Result<QueryAnswer, ClientError> {
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        let mut body = json!({ "msg": b64(envelope) });
        if let Some(permit) = encrypted_permit {
            body["permit"] = json!(b64(permit));
        }
        self.post(&format!("/contracts/{address}/query"), body)
    }
}
