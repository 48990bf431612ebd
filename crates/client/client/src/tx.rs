//! Building, signing and sending transactions, with contract messages encrypted to the
//! network key and results decrypted for the sender.

use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use veil_crypto::{encrypt_input, OsRng, OutputKind, TxKey, ENVELOPE_HEADER_LEN};
use veil_types::{required_fee, Hash, Msg, PermitBody, QueryPermit, Tx, TxBody, DENOM};

use crate::keys::KeyPair;
use crate::rpc::{Client, ClientError, CommittedTx, Status};

/// How much gas a transaction may use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Gas {
    /// Simulate first and add a margin (`gas used × multiplier`).
    Auto {
        multiplier: f64,
    },
    Limit(u64),
}

impl Default for Gas {
    fn default() -> Self {
        Gas::Auto { multiplier: 1.3 }
    }
}

impl std::str::FromStr for Gas {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        if text == "auto" {
            return Ok(Gas::default());
        }
        text.parse::<u64>()
            .map(Gas::Limit)
            .map_err(|_| format!("{text:?} is neither `auto` nor a gas amount"))
    }
}

#[derive(Debug, Clone)]
pub struct TxOptions {
    pub gas: Gas,
    /// Fee in uveil; default: the minimum for the gas limit.
    pub fee: Option<u128>,
    pub memo: String,
    /// How long to wait for inclusion.
    pub timeout: Duration,
}

impl Default for TxOptions {
    fn default() -> Self {
        Self {
            gas: Gas::default(),
            fee: None,
            memo: String::new(),
            timeout: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WalletError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("encryption: {0}")]
    Crypto(String),
    /// The transaction failed: in a block (`tx_hash` set), or already in the simulation
    /// that estimates its gas, or a query failed (`tx_hash` empty: nothing was sent).
    #[error("{}", failed_message(.kind, .message, .gas_used, .gas_limit, .contract_error))]
    Failed {
        tx_hash: String,
        kind: String,
        message: String,
        gas_used: u64,
        gas_limit: u64,
        /// The contract's own error message, decrypted.
        contract_error: Option<String>,
    },
    #[error("the contract at {address} runs code {actual}, not the expected {expected}")]
    CodeHashMismatch {
        address: String,
        expected: String,
        actual: String,
    },
    #[error("{0}")]
    Other(String),
}

fn failed_message(
    kind: &str,
    message: &str,
    gas_used: &u64,
    gas_limit: &u64,
    contract_error: &Option<String>,
) -> String {
    match (kind, contract_error) {
        ("out_of_gas", _) => {
            let mut text = format!("out of gas: used {gas_used} of the gas limit {gas_limit}");
            // The node may know how much the transaction needed.
            if let Some(needs) = message
                .strip_prefix("out of gas: ")
                .filter(|m| m.contains("needs"))
            {
                text.push_str(&format!(" ({needs})"));
            }
            text
        }
        // The enclave's message may already say so.
        (_, Some(error)) if error.starts_with("contract error") => error.clone(),
        (_, Some(error)) => format!("contract error: {error}"),
        _ => format!("transaction failed ({kind}): {message}"),
    }
}

/// The outcome of a successful transaction.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub committed: CommittedTx,
    /// The decrypted result of a contract call.
    pub result: Option<Value>,
}

/// A key acting on one node.
pub struct Wallet<'a> {
    client: &'a Client,
    key: &'a KeyPair,
    status: Status,
    network_key: [u8; 32],
}

impl<'a> Wallet<'a> {
    /// Connects: learns the chain id, fee price and the network key.
    pub fn connect(client: &'a Client, key: &'a KeyPair) -> Result<Self, WalletError> {
        let status = client.status()?;
        let (network_key, _) = client.network_key()?;
        Ok(Self {
            client,
            key,
            status,
            network_key,
        })
    }

    pub fn key(&self) -> &KeyPair {
        self.key
    }

    pub fn client(&self) -> &Client {
        self.client
    }

    pub fn chain_id(&self) -> &str {
        &self.status.chain_id
    }

    fn fee_per_million_gas(&self) -> u64 {
        self.status.params["fee_per_million_gas"]
            .as_u64()
            .unwrap_or(0)
    }

    /// Encrypts a contract message for code `code_hash` (only that code can open it).
    pub fn encrypt(&self, code_hash: &Hash, msg: &Value) -> Result<(Vec<u8>, TxKey), WalletError> {
        let plain =
            veil_crypto::Zeroizing::new(serde_json::to_vec(msg).expect("JSON values serialize"));
        encrypt_input(
            &mut OsRng,
            self.key.encryption_secret(),
            &self.network_key,
            self.status.key_generation,
            code_hash,
            &plain,
        )
        .map_err(|e| WalletError::Crypto(e.to_string()))
    }

    /// Decrypts what the enclave answered to an envelope this key sent (now or long ago).
    pub fn decrypt(&self, envelope: &[u8], encrypted: &[u8]) -> Result<Value, WalletError> {
        decrypt_result(self.key, &self.network_key, envelope, encrypted)
    }

    /// Signs `msg` with the next sequence, choosing gas and fee per `options`.
    pub fn sign(&self, msg: Msg, options: &TxOptions) -> Result<Tx, WalletError> {
        let account = self.client.account(self.key.address())?;
        let sequence = account.sequence;
        let body = |gas_limit: u64, fee: u128| TxBody {
            chain_id: self.status.chain_id.clone(),
            sequence,
            gas_limit,
            fee,
            memo: options.memo.clone(),
            msg: msg.clone(),
        };
        let gas_limit = match options.gas {
            Gas::Limit(limit) => limit,
            Gas::Auto { multiplier } => {
                let max = self.status.params["max_tx_gas"]
                    .as_u64()
                    .unwrap_or(veil_types::genesis::Params::default().max_tx_gas);
                // Signed for simulation: the real transaction, signed below, is never
                // shown to the node before it is submitted.
                let probe = self.key.sign_simulation(body(max, 0));
                let receipt = self.client.simulate(&probe)?;
                if !receipt.ok {
                    let envelope = envelope_of(&probe);
                    let mut error = self.failure(&receipt, envelope.as_deref());
                    // The probe was never sent: no transaction hash to point at.
                    if let WalletError::Failed { tx_hash, .. } = &mut error {
                        tx_hash.clear();
                    }
                    return Err(error);
                }
                ((receipt.gas_used as f64 * multiplier).ceil() as u64).min(max)
            }
        };
        let fee = options
            .fee
            .unwrap_or_else(|| required_fee(gas_limit, self.fee_per_million_gas()));
        // The simulation runs without a fee, so it cannot see that the amount and the fee
        // together exceed the balance; the chain would charge the fee and fail the rest.
        let spent = match &msg {
            Msg::Send { amount, .. } => *amount,
            Msg::Instantiate { funds, .. } | Msg::Execute { funds, .. } => *funds,
            _ => 0,
        };
        let needed = spent.saturating_add(fee);
        if account.balance < needed {
            return Err(WalletError::Failed {
                tx_hash: String::new(),
                kind: "insufficient_funds".into(),
                message: format!(
                    "insufficient funds: {} has {}{DENOM}, needs {needed}{DENOM} ({spent}{DENOM} plus the fee {fee}{DENOM})",
                    self.key.address(),
                    account.balance
                ),
                gas_used: 0,
                gas_limit,
                contract_error: None,
            });
        }
        Ok(self.key.sign(body(gas_limit, fee)))
    }

    /// Signs, submits and waits for inclusion; a failed transaction is an error.
    pub fn broadcast(
        &self,
        msg: Msg,
        options: &TxOptions,
        progress: impl FnMut(&str),
    ) -> Result<Outcome, WalletError> {
        let tx = self.sign(msg, options)?;
        self.broadcast_signed(&tx, options, progress)
    }

    pub fn broadcast_signed(
        &self,
        tx: &Tx,
        options: &TxOptions,
        mut progress: impl FnMut(&str),
    ) -> Result<Outcome, WalletError> {
        let hash = self.client.submit(tx)?;
        progress(&format!(
            "submitted {}; waiting for a block",
            hex::encode(hash)
        ));
        let mut reported = 0;
        let committed = self.client.wait_for_tx(&hash, options.timeout, |waited| {
            let seconds = waited.as_secs();
            if seconds >= reported + 5 {
                reported = seconds;
                progress(&format!("still waiting for a block ({seconds}s)"));
            }
        })?;
        let envelope = envelope_of(tx);
        let receipt = &committed.receipt;
        if !receipt.ok {
            return Err(self.failure(receipt, envelope.as_deref()));
        }
        let result = match (&envelope, &receipt.encrypted_result) {
            (Some(envelope), Some(encrypted)) => Some(self.decrypt(envelope, encrypted)?),
            _ => None,
        };
        Ok(Outcome { committed, result })
    }

    fn failure(&self, receipt: &veil_types::Receipt, envelope: Option<&[u8]>) -> WalletError {
        let contract_error = match (envelope, &receipt.encrypted_result) {
            (Some(envelope), Some(encrypted)) => self
                .decrypt(envelope, encrypted)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_string)),
            _ => None,
        };
        WalletError::Failed {
            tx_hash: hex::encode(receipt.tx_hash),
            kind: receipt.error_kind.clone().unwrap_or_default(),
            message: receipt.error.clone().unwrap_or_default(),
            gas_used: receipt.gas_used,
            gas_limit: receipt.gas_limit,
            contract_error,
        }
    }

    /// The code hash a contract runs, checked against `expected` when given.
    pub fn contract_code_hash(
        &self,
        address: &str,
        expected: Option<&Hash>,
    ) -> Result<Hash, WalletError> {
        let info = self.client.contract(address)?;
        if let Some(expected) = expected {
            if *expected != info.code_hash {
                return Err(WalletError::CodeHashMismatch {
                    address: address.to_string(),
                    expected: hex::encode(expected),
                    actual: hex::encode(info.code_hash),
                });
            }
        }
        Ok(info.code_hash)
    }

    /// Signs a query permit for `contracts`, valid for `lifetime` from the latest block's
    /// time (at most [`veil_types::permit::MAX_PERMIT_LIFETIME_NANOS`]). A dApp signs one
    /// per session and sends it with every query ([`Wallet::query_with_permit`]).
    pub fn sign_permit(
        &self,
        contracts: Vec<String>,
        lifetime: Duration,
    ) -> Result<QueryPermit, WalletError> {
        let lifetime = u64::try_from(lifetime.as_nanos()).unwrap_or(u64::MAX);
        if lifetime == 0 || lifetime > veil_types::permit::MAX_PERMIT_LIFETIME_NANOS {
            return Err(WalletError::Other(
                "a permit's lifetime must be more than 0 and at most 30 days".into(),
            ));
        }
        let now = self.client.status()?.latest_block_time_nanos;
        Ok(PermitBody {
            chain_id: self.chain_id().to_string(),
            contracts,
            expires_at_nanos: now.saturating_add(lifetime),
        }
        .sign(self.key.signing_key()))
    }

    /// Queries a contract anonymously; returns its answer (JSON) decrypted.
    pub fn query(
        &self,
        address: &str,
        msg: &Value,
        expected_code_hash: Option<&Hash>,
    ) -> Result<Value, WalletError> {
        self.query_with_permit(address, msg, expected_code_hash, None)
            .map(|answer| answer.data)
    }

    /// Queries a contract, signed by `permit`'s signer when given (the permit travels
    /// encrypted under the query's key: the node never sees who asks).
    pub fn query_with_permit(
        &self,
        address: &str,
        msg: &Value,
        expected_code_hash: Option<&Hash>,
        permit: Option<&QueryPermit>,
    ) -> Result<ContractAnswer, WalletError> {
        let code_hash = self.contract_code_hash(address, expected_code_hash)?;
        let (envelope, tx_key) = self.encrypt(&code_hash, msg)?;
        let encrypted_permit =
            permit.map(|p| tx_key.encrypt_output(0, OutputKind::QueryPermit, &p.to_bytes()));
        let answer = self
            .client
            .query_contract(address, &envelope, encrypted_permit.as_deref())?;
        let body = self.decrypt(&envelope, &answer.encrypted_result)?;
        let height = body["height"].as_u64().unwrap_or(answer.height);
        if !answer.ok {
            let error = body["error"]
                .as_str()
                .unwrap_or("unknown error")
                .to_string();
            return Err(WalletError::Failed {
                tx_hash: String::new(),
                kind: answer.error_kind.unwrap_or_else(|| "contract".into()),
                message: error.clone(),
                gas_used: answer.gas_used,
                gas_limit: 0,
                contract_error: Some(error),
            });
        }
        let data = decode_data(&body)
            .ok_or_else(|| WalletError::Other("the query answered no data".into()))?;
        Ok(ContractAnswer { data, height })
    }
}

/// A contract's decrypted answer and the height it was answered at (as the enclave saw it).
#[derive(Debug, Clone, PartialEq)]
pub struct ContractAnswer {
    pub data: Value,
    pub height: u64,
}

/// The encrypted contract message a transaction carries, if any.
pub fn envelope_of(tx: &Tx) -> Option<Vec<u8>> {
    match &tx.body.msg {
        Msg::Instantiate { msg, .. } | Msg::Execute { msg, .. } | Msg::Migrate { msg, .. } => {
            Some(msg.clone())
        }
        _ => None,
    }
}

/// Decrypts a result for the sender of `envelope`, who must be `key`.
pub fn decrypt_result(
    key: &KeyPair,
    network_key: &[u8; 32],
    envelope: &[u8],
    encrypted: &[u8],
) -> Result<Value, WalletError> {
    if envelope.len() < ENVELOPE_HEADER_LEN {
        return Err(WalletError::Crypto("the envelope is truncated".into()));
    }
    let generation = u32::from_be_bytes(envelope[1..5].try_into().expect("4 bytes"));
    if envelope[5..37] != key.encryption_public_key()[..] {
        return Err(WalletError::Crypto(format!(
            "this result is encrypted for another key; {} cannot decrypt it",
            key.address()
        )));
    }
    let nonce: [u8; 32] = envelope[37..69].try_into().expect("32 bytes");
    let tx_key = TxKey::for_client(key.encryption_secret(), network_key, generation, &nonce)
        .map_err(|e| WalletError::Crypto(e.to_string()))?;
    let plain = tx_key
        .decrypt_output(0, OutputKind::Data, encrypted)
        .map_err(|e| WalletError::Crypto(format!("the result does not decrypt: {e}")))?;
    serde_json::from_slice(&plain)
        .map_err(|e| WalletError::Crypto(format!("decrypted result: {e}")))
}

/// Opens an envelope sent from the X25519 key `user_secret` (the sender reading back its own
/// message): `tx_key` from the envelope's header as in `docs/protocol.md`, then the input
/// AEAD (IV zero, the 69-byte header as associated data). Returns the code hash the message
/// is bound to and the message.
pub fn open_own_envelope(
    user_secret: &veil_crypto::x25519_dalek::StaticSecret,
    network_key: &[u8; 32],
    envelope: &[u8],
) -> Result<(Hash, Vec<u8>), WalletError> {
    if envelope.len() < veil_crypto::ENVELOPE_MIN_LEN
        || envelope[0] != veil_crypto::ENVELOPE_VERSION
    {
        return Err(WalletError::Crypto("not a version-1 envelope".into()));
    }
    let own_public = veil_crypto::x25519_dalek::PublicKey::from(user_secret);
    if envelope[5..37] != own_public.as_bytes()[..] {
        return Err(WalletError::Crypto(
            "this message is encrypted from another key: only its sender can decrypt it".into(),
        ));
    }
    let shared =
        user_secret.diffie_hellman(&veil_crypto::x25519_dalek::PublicKey::from(*network_key));
    if !shared.was_contributory() {
        return Err(WalletError::Crypto(
            "the network key is a low-order point".into(),
        ));
    }
    let mut tx_key = veil_crypto::Zeroizing::new([0u8; 32]);
    hkdf::Hkdf::<sha2::Sha256>::new(Some(&envelope[37..69]), shared.as_bytes())
        .expand_multi_info(
            &[veil_crypto::TX_KEY_INFO, &envelope[1..5]],
            &mut tx_key[..],
        )
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    let plain = veil_crypto::aead_decrypt(
        &tx_key,
        &[0; 12],
        &envelope[..ENVELOPE_HEADER_LEN],
        &envelope[ENVELOPE_HEADER_LEN..],
    )
    .map_err(|e| WalletError::Crypto(format!("the message does not decrypt: {e}")))?;
    let code_hash: Hash = plain[..32].try_into().expect("at least 32 bytes");
    Ok((code_hash, plain[32..].to_vec()))
}

/// The contract message `key` sent in `envelope`, decrypted (JSON).
pub fn decrypt_own_message(
    key: &KeyPair,
    network_key: &[u8; 32],
    envelope: &[u8],
) -> Result<Value, WalletError> {
    let (_, message) = open_own_envelope(key.encryption_secret(), network_key, envelope)?;
    serde_json::from_slice(&message)
        .map_err(|e| WalletError::Crypto(format!("decrypted message: {e}")))
}

/// The `data` of a decrypted result, as JSON when it is JSON, else as base64 text.
pub fn decode_data(body: &Value) -> Option<Value> {
    let data = body["data"].as_str()?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(data)
        .ok()?;
    Some(serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(data.to_string())))
}
