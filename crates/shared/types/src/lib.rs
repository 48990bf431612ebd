//! Veil's public chain types, shared by the node and its clients.
//!
//! A transaction is the postcard encoding of [`Tx`]: a [`TxBody`], the signer's compressed
//! secp256k1 public key and a 64-byte ECDSA signature (low-S) over
//! `SHA-256("veil/tx-v1" || postcard(body))` — or, for a transaction that may only be
//! simulated, `"veil/simulate-v1"` ([`SignDomain`]). Its hash is `SHA-256(tx bytes)`. Accounts are
//! Cosmos-style: `bech32("veil", RIPEMD-160(SHA-256(compressed public key)))`. The exact
//! byte layouts and test vectors are in `docs/protocol.md`.
//!
//! JSON (the RPC) shows byte strings as base64, hashes as lowercase hex and token amounts
//! as decimal strings (they are u128).

use k256::ecdsa::SigningKey;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use k256;
/// Attestations and the attestation policy (genesis, `set_attestation_policy`).
pub use veil_attestation;

pub mod consensus;
pub mod gas;
pub mod genesis;
pub mod governance;
pub mod permit;
pub mod query_policy;
pub mod serde_bytes_b64;
pub mod serde_hash;
pub mod state_proof;

pub use governance::{
    AttestationPolicyRecord, RegistrationInfo, RegistrationPage, RegistrationStatus, Revocation,
    MAX_REVOCATION_REASON_BYTES,
};
pub use permit::{PermitBody, PermitError, QueryPermit};
pub use query_policy::QueryPolicy;

/// Bech32 prefix of account and contract addresses.
pub const ADDRESS_PREFIX: &str = "veil";
/// The native token.
pub const DENOM: &str = "uveil";
/// Domain separation of transaction signatures.
pub const TX_SIGN_DOMAIN: &[u8] = b"veil/tx-v1";
/// Domain of a transaction signed only to be simulated (gas estimation): the node and the
/// enclave simulate nothing else, and never run such a transaction for real — so a host
/// cannot rerun a user's real pending transaction against states it chooses.
pub const SIMULATE_SIGN_DOMAIN: &[u8] = b"veil/simulate-v1";

/// What a transaction's signature is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignDomain {
    /// To run, once, in a block (`veil/tx-v1`).
    Tx,
    /// To be simulated, never run (`veil/simulate-v1`).
    Simulate,
}

impl SignDomain {
    pub fn bytes(self) -> &'static [u8] {
        match self {
            SignDomain::Tx => TX_SIGN_DOMAIN,
            SignDomain::Simulate => SIMULATE_SIGN_DOMAIN,
        }
    }

    fn other(self) -> SignDomain {
        match self {
            SignDomain::Tx => SignDomain::Simulate,
            SignDomain::Simulate => SignDomain::Tx,
        }
    }
}
/// Largest transaction a node accepts (a contract upload is the biggest).
pub const MAX_TX_BYTES: usize = 4 * 1024 * 1024;
/// Longest contract label and memo.
pub const MAX_LABEL_BYTES: usize = 128;
pub const MAX_MEMO_BYTES: usize = 256;

pub type Hash = [u8; 32];

/// What a transaction does. Contract messages (`msg`) are encrypted envelopes
/// (`docs/protocol.md`); everything else is public.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Msg {
    /// Move `amount` uveil from the signer to `to`.
    Send {
        to: String,
        #[serde(with = "amount")]
        amount: u128,
    },
    /// Upload contract code; the receipt names its code id.
    StoreCode {
        #[serde(with = "serde_bytes_b64")]
        wasm: Vec<u8>,
        /// The query policy of contracts instantiated from this code without one of their
        /// own (none: `public`).
        query_policy: Option<QueryPolicy>,
    },
    Instantiate {
        code_id: u64,
        label: String,
        /// Who may migrate the contract and change its query policy (none: nobody).
        admin: Option<String>,
        #[serde(with = "serde_bytes_b64")]
        msg: Vec<u8>,
        #[serde(with = "amount")]
        funds: u128,
        /// Who may read what through queries (none: the code's default policy).
        query_policy: Option<QueryPolicy>,
    },
    Execute {
        contract: String,
        #[serde(with = "serde_bytes_b64")]
        msg: Vec<u8>,
        #[serde(with = "amount")]
        funds: u128,
    },
    /// Only the contract's admin may migrate it.
    Migrate {
        contract: String,
        code_id: u64,
        #[serde(with = "serde_bytes_b64")]
        msg: Vec<u8>,
    },
    /// Replaces a contract's query policy; only its admin may.
    SetQueryPolicy {
        contract: String,
        query_policy: QueryPolicy,
    },
    /// Registers an enclave: every node's enclave verifies the attestation (binding the
    /// registration key, the genesis and the signer as operator) and shares the master
    /// seed with it, encrypted to `registration_key`.
    RegisterNode {
        #[serde(with = "serde_hash")]
        registration_key: Hash,
        #[serde(with = "serde_bytes_b64")]
        attestation: Vec<u8>,
    },
    /// Replaces the attestation policy registrations are verified against (to accept a
    /// new enclave build, or drop an old one). Only the genesis authority may; every
    /// node's enclave checks the signer itself.
    SetAttestationPolicy { policy: veil_attestation::Policy },
    /// Revokes a registered enclave: it is given nothing new (no seed share, and none of
    /// a later rotation); it keeps whatever it already holds. Only the genesis authority.
    RevokeNode {
        #[serde(with = "serde_hash")]
        registration_key: Hash,
        /// Why, for the record (at most [`MAX_REVOCATION_REASON_BYTES`]).
        reason: String,
    },
}

impl Msg {
    /// Short public name (receipts, logs).
    pub fn kind(&self) -> &'static str {
        match self {
            Msg::Send { .. } => "send",
            Msg::StoreCode { .. } => "store_code",
            Msg::Instantiate { .. } => "instantiate",
            Msg::Execute { .. } => "execute",
            Msg::Migrate { .. } => "migrate",
            Msg::SetQueryPolicy { .. } => "set_query_policy",
            Msg::RegisterNode { .. } => "register_node",
            Msg::SetAttestationPolicy { .. } => "set_attestation_policy",
            Msg::RevokeNode { .. } => "revoke_node",
        }
    }

    /// Whether executing it takes the enclave (everything but a bank send): in a certified
    /// block the enclave insists on seeing every such transaction (`docs/consensus.md`).
    pub fn runs_in_enclave(&self) -> bool {
        !matches!(self, Msg::Send { .. })
    }

    /// The uveil it moves out of the signer's account besides the fee (a send's amount,
    /// the funds sent with a contract call).
    pub fn moves(&self) -> u128 {
        match self {
            Msg::Send { amount, .. } => *amount,
            Msg::Instantiate { funds, .. } | Msg::Execute { funds, .. } => *funds,
            _ => 0,
        }
    }
}

/// The signed part of a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxBody {
    pub chain_id: String,
    /// The signer's account sequence: each value is accepted once, in order (replay guard).
    pub sequence: u64,
    /// Most gas the transaction may use; the whole fee is charged whatever it uses.
    pub gas_limit: u64,
    #[serde(with = "amount")]
    pub fee: u128,
    pub memo: String,
    pub msg: Msg,
}

impl TxBody {
    /// The bytes a signature covers: `"veil/tx-v1" || postcard(body)`.
    pub fn sign_bytes(&self) -> Vec<u8> {
        self.sign_bytes_for(SignDomain::Tx)
    }

    /// The bytes a signature for `domain` covers: `domain || postcard(body)`.
    pub fn sign_bytes_for(&self, domain: SignDomain) -> Vec<u8> {
        let mut bytes = domain.bytes().to_vec();
        postcard::to_io(self, &mut bytes).expect("writing to a Vec cannot fail");
        bytes
    }

    /// Signs the body with `key`, to run.
    pub fn sign(self, key: &SigningKey) -> Tx {
        self.sign_for(key, SignDomain::Tx)
    }

    /// Signs the body with `key` for simulation only: no node or enclave runs it for real.
    pub fn sign_for_simulation(self, key: &SigningKey) -> Tx {
        self.sign_for(key, SignDomain::Simulate)
    }

    /// Signs the body with `key` for `domain`.
    pub fn sign_for(self, key: &SigningKey, domain: SignDomain) -> Tx {
        let digest = Sha256::digest(self.sign_bytes_for(domain));
        let (signature, _) = key
            .sign_prehash_recoverable(&digest)
            .expect("a 32-byte digest can always be signed");
        Tx {
            body: self,
            public_key: key.verifying_key().to_sec1_bytes().to_vec(),
            signature: signature.to_bytes().to_vec(),
        }
    }
}

/// A signed transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tx {
    pub body: TxBody,
    /// Compressed SEC1 secp256k1 public key (33 bytes).
    #[serde(with = "serde_bytes_b64")]
    pub public_key: Vec<u8>,
    /// ECDSA signature `r || s` (64 bytes, low-S).
    #[serde(with = "serde_bytes_b64")]
    pub signature: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    #[error("transaction of {0} bytes exceeds the limit of {MAX_TX_BYTES}")]
    TooLarge(usize),
    #[error("transaction does not decode: {0}")]
    Malformed(String),
    #[error("public key is not a compressed secp256k1 key")]
    BadPublicKey,
    #[error("signature does not verify")]
    BadSignature,
    #[error("signature is not in low-S form")]
    HighS,
    #[error("the transaction is signed for simulation (veil/simulate-v1): it never runs for real")]
    SignedForSimulation,
    #[error("a simulation must be signed for simulation (veil/simulate-v1), not to run (veil/tx-v1): a transaction signed to run is never simulated")]
    SignedToRun,
}

impl Tx {
    /// The wire encoding (postcard).
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("serializable")
    }

    /// Decodes a transaction (size limit, exact length); does not verify it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TxError> {
        if bytes.len() > MAX_TX_BYTES {
            return Err(TxError::TooLarge(bytes.len()));
        }
        decode_exact(bytes).map_err(TxError::Malformed)
    }

    /// Checks the signature (to run: `veil/tx-v1`) and returns the signer's address.
    pub fn verify(&self) -> Result<String, TxError> {
        self.verify_for(SignDomain::Tx)
    }

    /// Checks a signature for simulation (`veil/simulate-v1`) and returns the signer.
    pub fn verify_simulation(&self) -> Result<String, TxError> {
        self.verify_for(SignDomain::Simulate)
    }

    /// Checks the signature for `domain` and returns the signer's address. A signature
    /// that verifies for the other domain says so ([`TxError::SignedForSimulation`],
    /// [`TxError::SignedToRun`]).
    pub fn verify_for(&self, domain: SignDomain) -> Result<String, TxError> {
        let digest =
            |d: SignDomain| -> [u8; 32] { Sha256::digest(self.body.sign_bytes_for(d)).into() };
        match verify_secp256k1(&self.public_key, &self.signature, &digest(domain)) {
            Ok(()) => Ok(account_address(&self.public_key)),
            Err(TxError::BadSignature)
                if verify_secp256k1(&self.public_key, &self.signature, &digest(domain.other()))
                    .is_ok() =>
            {
                Err(match domain {
                    SignDomain::Tx => TxError::SignedForSimulation,
                    SignDomain::Simulate => TxError::SignedToRun,
                })
            }
            Err(e) => Err(e),
        }
    }
}

/// Verifies a low-S ECDSA secp256k1 signature `r || s` over a SHA-256 digest by a
/// compressed public key (transactions and query permits).
pub fn verify_secp256k1(
    public_key: &[u8],
    signature: &[u8],
    digest: &[u8; 32],
) -> Result<(), TxError> {
    use secp256k1::{ecdsa, Message, PublicKey, SECP256K1};
    if public_key.len() != 33 {
        return Err(TxError::BadPublicKey);
    }
    let key = PublicKey::from_slice(public_key).map_err(|_| TxError::BadPublicKey)?;
    let signature = ecdsa::Signature::from_compact(signature).map_err(|_| TxError::BadSignature)?;
    let mut normalized = signature;
    normalized.normalize_s();
    if normalized != signature {
        return Err(TxError::HighS);
    }
    SECP256K1
        .verify_ecdsa(Message::from_digest(*digest), &signature, &key)
        .map_err(|_| TxError::BadSignature)
}

/// `SHA-256(tx bytes)`.
pub fn tx_hash(tx_bytes: &[u8]) -> Hash {
    Sha256::digest(tx_bytes).into()
}

/// The account address of a compressed secp256k1 public key.
pub fn account_address(compressed_public_key: &[u8]) -> String {
    let sha = Sha256::digest(compressed_public_key);
    let ripe = <ripemd::Ripemd160 as Digest>::digest(sha);
    bech32_address(&ripe)
}

/// The address of the contract `creator` instantiates from `code_hash` with `label`
/// (32 bytes, so it never collides with a 20-byte account address).
pub fn contract_address(code_hash: &Hash, creator: &str, label: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"veil/contract-address");
    hasher.update(code_hash);
    for part in [creator, label] {
        hasher.update((part.len() as u32).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    bech32_address(&hasher.finalize())
}

/// Bech32 prefix of validator operator addresses (as in the Cosmos SDK: `<prefix>valoper`).
pub const VALIDATOR_OPERATOR_PREFIX: &str = "veilvaloper";

/// The operator address staking queries give a validator: its consensus address (the
/// first 20 bytes of SHA-256 of its ed25519 key) in bech32 with `veilvaloper`.
pub fn validator_operator_address(public_key: &Hash) -> String {
    let address = consensus::ValidatorAddress::from_public_key(public_key);
    let hrp = bech32::Hrp::parse(VALIDATOR_OPERATOR_PREFIX).expect("valid prefix");
    bech32::encode::<bech32::Bech32>(hrp, &address.0).expect("short data encodes")
}

fn bech32_address(bytes: &[u8]) -> String {
    let hrp = bech32::Hrp::parse(ADDRESS_PREFIX).expect("valid prefix");
    bech32::encode::<bech32::Bech32>(hrp, bytes).expect("short data encodes")
}

/// Checks that `address` is a normalized `veil` bech32 address of 20 or 32 bytes.
pub fn validate_address(address: &str) -> Result<(), String> {
    let (hrp, data) =
        bech32::decode(address).map_err(|e| format!("{address:?} is not bech32: {e}"))?;
    if hrp.as_str() != ADDRESS_PREFIX {
        return Err(format!(
            "{address:?} has prefix {:?}, expected {ADDRESS_PREFIX:?}",
            hrp.as_str()
        ));
    }
    if data.len() != 20 && data.len() != 32 {
        return Err(format!(
            "{address:?} holds {} bytes, expected 20 or 32",
            data.len()
        ));
    }
    if bech32_address(&data) != address {
        return Err(format!("{address:?} is not in normalized (lowercase) form"));
    }
    Ok(())
}

/// The fee a gas limit needs at a price of `fee_per_million_gas` uveil per million gas.
pub fn required_fee(gas_limit: u64, fee_per_million_gas: u64) -> u128 {
    (gas_limit as u128 * fee_per_million_gas as u128).div_ceil(1_000_000)
}

/// Decodes postcard bytes that must be consumed exactly.
pub fn decode_exact<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let (value, rest) = postcard::take_from_bytes(bytes).map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        return Err(format!("{} trailing bytes", rest.len()));
    }
    Ok(value)
}

/// A block: its header and the hashes of its transactions, in execution order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub header: BlockHeader,
    #[serde(with = "serde_hash::list")]
    pub tx_hashes: Vec<Hash>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    pub chain_id: String,
    pub height: u64,
    /// Nanoseconds since the Unix epoch.
    pub time_nanos: u64,
    #[serde(with = "serde_hash")]
    pub prev_block_hash: Hash,
    /// Commits the transactions: SHA-256 over their hashes in order.
    #[serde(with = "serde_hash")]
    pub txs_hash: Hash,
    /// The state root after this block's transactions (see `docs/protocol.md`).
    #[serde(with = "serde_hash")]
    pub app_hash: Hash,
}

impl BlockHeader {
    /// The canonical encoding (postcard), as it crosses into the enclave.
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_stdvec(self).expect("serializable")
    }

    /// `SHA-256("veil/block-v1" || postcard(header))`.
    pub fn hash(&self) -> Hash {
        let mut hasher = Sha256::new();
        hasher.update(b"veil/block-v1");
        hasher.update(postcard::to_stdvec(self).expect("serializable"));
        hasher.finalize().into()
    }
}

/// SHA-256 over the transaction hashes of a block, in order.
pub fn txs_hash(tx_hashes: &[Hash]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update(b"veil/txs-v1");
    for hash in tx_hashes {
        hasher.update(hash);
    }
    hasher.finalize().into()
}

/// A public event (`kind` plus attributes), as CometBFT events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub kind: String,
    pub attributes: Vec<(String, String)>,
}

/// The outcome of one transaction. Everything here is public; what a contract said to the
/// sender is in `encrypted_result`, readable only with the sender's transaction key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    #[serde(with = "serde_hash")]
    pub tx_hash: Hash,
    pub height: u64,
    /// Position in the block ("outcome by call index").
    pub index: u32,
    pub sender: String,
    pub msg_kind: String,
    pub ok: bool,
    /// Public failure class: `insufficient_funds`, `out_of_gas`, `contract`, … (None if ok).
    pub error_kind: Option<String>,
    /// Public failure reason (never a contract's own message; that one is encrypted).
    pub error: Option<String>,
    pub gas_limit: u64,
    pub gas_used: u64,
    #[serde(with = "amount")]
    pub fee: u128,
    #[serde(with = "serde_bytes_b64::option")]
    pub encrypted_result: Option<Vec<u8>>,
    pub events: Vec<Event>,
    /// Set by a successful store_code.
    pub code_id: Option<u64>,
    /// Set by instantiate (also by a failed one: the address it would have had).
    pub contract_address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Account {
    pub address: String,
    #[serde(with = "amount")]
    pub balance: u128,
    /// The sequence the account's next transaction must carry.
    pub sequence: u64,
    #[serde(with = "serde_bytes_b64::option")]
    pub public_key: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeInfo {
    pub code_id: u64,
    #[serde(with = "serde_hash")]
    pub code_hash: Hash,
    pub creator: String,
    pub size: u64,
    /// The policy of contracts instantiated from this code without their own.
    pub default_query_policy: QueryPolicy,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractInfo {
    pub address: String,
    pub code_id: u64,
    /// The code the contract runs now (what its messages are encrypted for).
    #[serde(with = "serde_hash")]
    pub code_hash: Hash,
    /// The code it was instantiated from: its state key stays bound to it across migrations.
    #[serde(with = "serde_hash")]
    pub init_code_hash: Hash,
    pub creator: String,
    pub admin: Option<String>,
    pub label: String,
    /// Root of the contract's encrypted state tree (none while empty).
    #[serde(with = "serde_hash::option")]
    pub state_root: Option<Hash>,
    /// Who may read what through queries (the enclave holds the authoritative copy).
    pub query_policy: QueryPolicy,
}

/// A registered enclave: the master seed encrypted to its registration key (the same bytes
/// on every node, `docs/protocol.md` "Seed sharing").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    #[serde(with = "serde_hash")]
    pub registration_key: Hash,
    /// The account that signed the registration (bound into the attestation).
    pub operator: String,
    pub height: u64,
    /// What the attestation said (kind, measurement, TCB status).
    pub enclave: String,
    #[serde(with = "serde_bytes_b64")]
    pub seed_share: Vec<u8>,
    /// Set once the genesis authority revoked it.
    #[serde(default)]
    pub revocation: Option<Revocation>,
}

impl Registration {
    pub fn status(&self) -> RegistrationStatus {
        match self.revocation {
            Some(_) => RegistrationStatus::Revoked,
            None => RegistrationStatus::Active,
        }
    }
}

/// u128 token amounts: decimal strings in JSON, varints in postcard.
pub mod amount {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &u128, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&value.to_string())
        } else {
            s.serialize_u128(*value)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        if d.is_human_readable() {
            let text = String::deserialize(d)?;
            text.parse()
                .map_err(|_| serde::de::Error::custom(format!("{text:?} is not an amount")))
        } else {
            u128::deserialize(d)
        }
    }
}

#[cfg(test)]
mod tests;
