//! The one interface between Veil's untrusted host and its enclave.
//!
//! Calls into the enclave (ecalls) and the host services the enclave may use (ocalls) are
//! typed here and crossed as bytes with one codec: a 2-byte big-endian ABI version followed
//! by the postcard encoding of the message. The same bytes cross whether the enclave is a
//! library in the host process or the separate `veil-enclave` process, where each message
//! travels in a frame ([`write_frame`]/[`read_frame`]).
//!
//! Nothing here may carry plaintext that belongs inside the enclave: contract messages
//! travel as encrypted envelopes, results as ciphertext for the sender, state as encrypted
//! nodes. Error messages from the enclave are written to be public.

use std::io::{Read, Write};

use serde::{de::DeserializeOwned, Deserialize, Serialize};

/// Bumped on any incompatible change to the messages below.
pub const ABI_VERSION: u16 = 11;

/// Largest frame either side accepts (code uploads are the biggest messages).
pub const MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;

pub type Hash = [u8; 32];

/// Calls into the enclave.
// Each call is encoded as soon as it is made: its size in memory does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ecall {
    /// Start the enclave: unseal its state, or generate a new master seed when there is none.
    Init(InitRequest),
    /// The network's public encryption key (what users encrypt to).
    NetworkKey,
    /// Validate and compile contract code; answers its code hash. With the signed
    /// `store_code` transaction (as a chain executes it) the enclave also records the code
    /// under the next code id, with the default query policy the uploader signed.
    StoreCode {
        #[serde(with = "serde_bytes")]
        wasm: Vec<u8>,
        #[serde(with = "serde_bytes")]
        tx: Option<Vec<u8>>,
        chain_id: String,
    },
    /// Replace a contract's query policy: the signed `set_query_policy` transaction, which
    /// the enclave checks is its admin's.
    SetQueryPolicy {
        #[serde(with = "serde_bytes")]
        tx: Vec<u8>,
        chain_id: String,
    },
    /// Decrypt a message, run a contract entry point on verified state, encrypt the result.
    Run(RunRequest),
    /// Open the next block for execution. `header` is the `veil-types` `BlockHeader`
    /// (postcard), `txs` its transactions in order and `certificate` the `veil-types`
    /// `CommitCertificate` (postcard) the validators signed for it. The enclave verifies
    /// the certificate against the validator set of its own genesis and that the block is
    /// the one after the last it executed; from then until `EndBlock` it runs signed
    /// transactions only if they are in this block, in its order, at its height and time —
    /// and every transaction of the block that takes the enclave (all but bank sends) must
    /// either run or be left out with a reason the enclave verifies (`LeaveOut`).
    BeginBlock {
        #[serde(with = "serde_bytes")]
        header: Vec<u8>,
        #[serde(with = "byte_strings")]
        txs: Vec<Vec<u8>>,
        #[serde(with = "serde_bytes")]
        certificate: Vec<u8>,
    },
    /// Transaction `index` of the open block failed before it reached the enclave, for
    /// `reason`; the enclave accepts it only if that is true of the transaction and its
    /// own records (so a host cannot drop a call of a certified block).
    LeaveOut { index: u32, reason: LeftOut },
    /// Close the open block and seal the enclave's state as of its end (the host stores it
    /// with the block, so a restart resumes exactly at a committed block). Refused while a
    /// transaction of the block that takes the enclave has neither run nor been left out.
    EndBlock,
    /// This enclave's registration key and an attestation binding it to the genesis and
    /// `operator` (the account that will sign the `register_node` transaction).
    Attest { operator: String },
    /// Verify a signed `register_node` transaction's attestation against the genesis
    /// policy at the open block's time and answer the master seed encrypted to its key.
    RegisterNode {
        #[serde(with = "serde_bytes")]
        tx: Vec<u8>,
    },
    /// Accept the master seed shared with this enclave (only if it derives the genesis
    /// network key), and seal it.
    InstallSeed {
        #[serde(with = "serde_bytes")]
        seed_share: Vec<u8>,
    },
    /// Execute a signed governance transaction (`set_attestation_policy`, `revoke_node`):
    /// the enclave checks it is the genesis authority's and updates the policy or the
    /// revoked registrations it keeps (sealed) and checks every later registration
    /// against.
    Govern {
        #[serde(with = "serde_bytes")]
        tx: Vec<u8>,
        chain_id: String,
    },
    /// Check a signed transaction's signature (to run, `veil/tx-v1`) as the node admits it
    /// to its mempool, and answer its signer. The enclave remembers the transaction's hash
    /// as verified, so when the transaction runs in a block it need not verify the
    /// signature again. The one ecall that may run beside others (see `TxChecker`).
    CheckTx {
        #[serde(with = "serde_bytes")]
        tx: Vec<u8>,
    },
    /// Dev chains only (`Genesis::dev`): turn on inspection for the owner whose X25519
    /// public key this is. Refused on any other genesis. From then on every contract call
    /// that commits or fails in a block also answers an [`RunResponse::inspection`], and
    /// `InspectState` answers; both are sealed to this key (`docs/protocol.md`, "Dev
    /// inspect"). Kept in memory only: the host enables it again after each start.
    EnableInspect { owner_key: Hash },
    /// Dev chains with inspection on: the committed state of `contract` — the keys that
    /// start with `prefix`, in key order, after `start_after`, at most `limit` of them —
    /// read and verified against the enclave's own root, sealed to the owner key.
    InspectState {
        contract: String,
        #[serde(with = "serde_bytes")]
        prefix: Vec<u8>,
        #[serde(with = "serde_bytes")]
        start_after: Option<Vec<u8>>,
        limit: u32,
    },
}

/// Most entries one [`Ecall::InspectState`] answers.
pub const MAX_INSPECT_STATE_ENTRIES: u32 = 10_000;

/// The answer to [`Ecall::CheckTx`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxCheck {
    /// The signature verifies; the signer's account address.
    Signed { signer: String },
    /// It is signed for simulation (`veil/simulate-v1`), not to run.
    SignedForSimulation,
    /// It does not decode, or its signature or public key is invalid.
    Refused { reason: String },
}

/// Why a transaction of a certified block never reached the enclave: each is a check the
/// node makes before it would call the enclave, and one the enclave can repeat on its own
/// records. (Failures of the ante handler — sequence, fee — and of funds cannot happen in
/// a certified block: validators refuse a proposal in which any could.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LeftOut {
    /// Its gas limit is below the gas charged before the enclave (`veil-types` `gas`).
    OutOfGas,
    /// It names a contract that does not exist.
    UnknownContract,
    /// It names a code id that does not exist.
    UnknownCode,
    /// It instantiates at an address that already holds a contract.
    ContractExists,
    /// Its signer is not the contract's admin (migrate, set_query_policy) or not the
    /// network's authority (governance).
    Unauthorized,
    /// An address, query policy, attestation policy or field of it is invalid.
    InvalidInput,
    /// It registers a key already registered (or revoked), or revokes a key that is not
    /// registered (or already revoked).
    Registration,
}

impl LeftOut {
    /// The failure kind the node reports for it in the receipt.
    pub fn from_failure_kind(kind: &str) -> Option<Self> {
        Some(match kind {
            "out_of_gas" => LeftOut::OutOfGas,
            "unknown_contract" => LeftOut::UnknownContract,
            "unknown_code" => LeftOut::UnknownCode,
            "contract_exists" => LeftOut::ContractExists,
            "unauthorized" => LeftOut::Unauthorized,
            "invalid_address"
            | "invalid_query_policy"
            | "invalid_attestation_policy"
            | "attestation"
            | "malformed" => LeftOut::InvalidInput,
            "already_registered" | "revoked" | "unknown_registration" | "already_revoked" => {
                LeftOut::Registration
            }
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitRequest {
    /// Simulation only: the per-machine secret that stands in for the CPU's sealing key.
    #[serde(with = "serde_bytes")]
    pub machine_secret: Vec<u8>,
    /// The sealed enclave state from a previous run, if any.
    #[serde(with = "serde_bytes")]
    pub sealed_state: Option<Vec<u8>>,
    /// The lowest seal generation the enclave may accept (recorded by the chain), so an
    /// older sealed file cannot be restored.
    pub min_seal_generation: u64,
    /// The chain's genesis (`veil-types` `Genesis::to_bytes`). An enclave is bound to the
    /// first genesis it starts with: it seals its hash and refuses any other. Without a
    /// network section the enclave bootstraps the network (generates the master seed);
    /// with one, it starts without the seed until one is shared with it.
    #[serde(with = "serde_bytes")]
    pub genesis: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum EntryPoint {
    Instantiate,
    Execute,
    Query,
    Migrate,
}

/// Which contract a call is for. The enclave binds state and messages to all three fields:
/// a host that lies about any of them gets an integrity error, not another contract's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractRef {
    pub address: String,
    pub code_hash: Hash,
    pub creator: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockRef {
    pub height: u64,
    pub time_nanos: u64,
    pub chain_id: String,
    pub tx_index: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequest {
    pub entry: EntryPoint,
    pub contract: ContractRef,
    pub block: BlockRef,
    /// The (public) signer of the transaction; empty for queries.
    pub sender: String,
    /// (denom, amount) sent with the call.
    pub funds: Vec<(String, u128)>,
    /// The user's encrypted message (see docs/protocol.md).
    #[serde(with = "serde_bytes")]
    pub envelope: Vec<u8>,
    /// The contract's current state root, as the host claims it.
    pub state_root: Option<Hash>,
    pub gas_limit: u64,
    /// The signed transaction (`veil-types` bytes) that asked for this call; required for
    /// every call but queries. The enclave verifies it itself: the sender is who signed,
    /// the call is what was signed (contract, envelope, funds), and each sequence runs once.
    /// Instantiate takes the contract's admin from it; migrate must be signed by that admin.
    #[serde(with = "serde_bytes")]
    pub tx: Option<Vec<u8>>,
    /// Run and report gas, but commit nothing (for gas estimation).
    pub simulate: bool,
    /// Queries only: the querier's signed permit (`veil-types` `QueryPermit` bytes),
    /// encrypted under the query's transaction key (`OutputKind::QueryPermit`, index 0), so
    /// the host never sees who asks. None: an anonymous query.
    #[serde(with = "serde_bytes")]
    pub encrypted_permit: Option<Vec<u8>>,
}

/// Answers to ecalls, in the same order as [`Ecall`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum EcallResponse {
    Init(InitResponse),
    NetworkKey {
        public_key: Hash,
        generation: u32,
    },
    /// `code_id`: the id the enclave recorded the code under (when a transaction came).
    CodeStored {
        code_hash: Hash,
        code_id: Option<u64>,
    },
    QueryPolicySet,
    Ran(RunResponse),
    BlockBegun,
    /// The enclave accepted that the transaction never reached it.
    LeftOut,
    /// The open block is closed; the sealed state as of its end.
    BlockEnded(SealedCheckpoint),
    Attested(AttestResponse),
    /// The master seed encrypted to the registered key (the same bytes on every node), and
    /// a public summary of the enclave that was accepted.
    NodeRegistered {
        #[serde(with = "serde_bytes")]
        seed_share: Vec<u8>,
        enclave: String,
    },
    /// The seed was accepted; the sealed state to keep now.
    SeedInstalled(InitResponse),
    /// The governance transaction took effect in the enclave.
    Governed,
    TxChecked(TxCheck),
    InspectEnabled,
    /// The answer to `InspectState`, sealed to the owner key.
    InspectedState {
        #[serde(with = "serde_bytes")]
        sealed: Vec<u8>,
    },
    Error(EnclaveError),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitResponse {
    pub public_key: Hash,
    pub generation: u32,
    /// The state to keep for the next start (host stores it as is).
    #[serde(with = "serde_bytes")]
    pub sealed_state: Vec<u8>,
    pub seal_generation: u64,
    /// The hash of the genesis this enclave is bound to (with its network section).
    pub genesis_hash: Hash,
    /// Set when this start bootstrapped the network: the genesis' network section (network
    /// key, seed exchange key, bootstrap attestation), `veil-types` `NetworkGenesis`
    /// postcard bytes, which the host adds to its genesis.
    #[serde(with = "serde_bytes")]
    pub network: Option<Vec<u8>>,
    /// This enclave's X25519 registration key (its secret never leaves).
    pub registration_key: Hash,
    /// Whether the enclave holds the master seed (a joining node's does not, until
    /// `InstallSeed`).
    pub has_seed: bool,
}

/// What `Attest` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttestResponse {
    pub registration_key: Hash,
    /// `veil-attestation` `Attestation` bytes.
    #[serde(with = "serde_bytes")]
    pub attestation: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunResponse {
    /// Whether the call succeeded; state changes are in `state` only when it did.
    pub ok: bool,
    pub gas_used: u64,
    /// Public failure class when `ok` is false (`contract`, `out_of_gas`, …).
    pub error_kind: Option<String>,
    /// The result for the sender: AES-GCM-SIV under the call's transaction key.
    #[serde(with = "serde_bytes")]
    pub encrypted_result: Vec<u8>,
    /// Attributes the contract chose to publish (`public.` key prefix, stripped).
    pub public_attributes: Vec<(String, String)>,
    pub state: Option<StateUpdate>,
    /// Native-token transfers the call's messages made — bank sends, and funds sent with
    /// contract executions (balances are public chain state): the host applies them, in
    /// order, with the call. The enclave checked each against the balances the host
    /// reported.
    pub transfers: Vec<Transfer>,
    /// Contracts the call's messages executed, in order.
    pub sub_calls: Vec<SubCall>,
    /// The new state of every other contract those executions changed.
    pub other_states: Vec<(String, StateUpdate)>,
    /// Contracts the call's messages instantiated, migrated or gave a new admin, in order
    /// (public records, as wasmd's are): the host applies them with the call, before
    /// `other_states` (which holds the new contracts' first state).
    pub contract_changes: Vec<ContractChange>,
    /// Native tokens the call's messages burned (`BankMsg::Burn`): the host takes them
    /// from the balances and the supply after `transfers` (the enclave checked them in
    /// the order they happened, so they fit).
    pub burns: Vec<Burn>,
    /// Dev chains with inspection on (`Ecall::EnableInspect`), calls of a block only: the
    /// decrypted message, result and state changes of this call, sealed to the owner key.
    /// Always `None` otherwise.
    #[serde(with = "serde_bytes")]
    pub inspection: Option<Vec<u8>>,
}

/// A change of a contract's public record made by a contract's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ContractChange {
    /// `WasmMsg::Instantiate` / `Instantiate2`: `creator` is the instantiating contract.
    Instantiated {
        address: String,
        code_id: u64,
        code_hash: Hash,
        creator: String,
        admin: Option<String>,
        label: String,
    },
    /// `WasmMsg::Migrate`: the contract runs `code_id` now.
    Migrated {
        address: String,
        code_id: u64,
        code_hash: Hash,
    },
    /// `WasmMsg::UpdateAdmin` (`Some`) or `ClearAdmin` (`None`).
    AdminChanged {
        address: String,
        admin: Option<String>,
    },
}

impl ContractChange {
    pub fn address(&self) -> &str {
        match self {
            ContractChange::Instantiated { address, .. }
            | ContractChange::Migrated { address, .. }
            | ContractChange::AdminChanged { address, .. } => address,
        }
    }
}

/// Native tokens taken out of circulation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Burn {
    pub from: String,
    pub amount: u128,
}

/// A movement of the chain's native token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub from: String,
    pub to: String,
    pub amount: u128,
}

/// A contract execution a message of the call asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubCall {
    pub contract: String,
    /// The entry point the message ran (execute, instantiate or migrate).
    pub entry: EntryPoint,
    /// Attributes it chose to publish (`public.` key prefix, stripped).
    pub public_attributes: Vec<(String, String)>,
}

/// A committed change of one contract's state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateUpdate {
    pub new_root: Option<Hash>,
    /// New encrypted nodes, sorted by id: the order says nothing about keys.
    #[serde(with = "byte_strings::keyed")]
    pub new_nodes: Vec<(Hash, Vec<u8>)>,
    /// Nodes of the previous root the new one no longer uses, sorted by id: the host may
    /// delete them when it commits the new root (nothing reads an older root).
    pub released_nodes: Vec<Hash>,
}

/// The enclave's sealed state at a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedCheckpoint {
    #[serde(with = "serde_bytes")]
    pub sealed_state: Vec<u8>,
    /// Grows by one per checkpoint; the host records it beside the sealed state and passes
    /// it back at init, so an older sealed state is refused.
    pub seal_generation: u64,
    /// The enclave's records tree (contracts, sender sequences, codes; encrypted like
    /// contract state): the nodes this checkpoint wrote and those it no longer uses. The
    /// host stores them with the block, in the same write as the sealed state, and serves
    /// them by id like any state node.
    pub records: StateUpdate,
}

/// A failure the enclave reports. `message` is public: it never holds plaintext.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("enclave error ({kind:?}): {message}")]
pub struct EnclaveError {
    pub kind: ErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ErrorKind {
    NotInitialized,
    BadRequest,
    Sealing,
    StaleSealedState,
    Envelope,
    CodeNotLoaded,
    InvalidCode,
    StateIntegrity,
    StaleStateRoot,
    /// A signed transaction the enclave has already run.
    Replay,
    /// The query policy refuses this querier (nothing of the state was read), or a
    /// transaction's signer may not do what it asks (not the admin, not the authority).
    Unauthorized,
    /// An attestation the network's policy refuses, or a seed that does not match the
    /// genesis network key.
    Attestation,
    /// The enclave belongs to another genesis, or has no seed yet.
    Genesis,
    /// A block the enclave refuses (uncertified, not the next one), or a signed
    /// transaction outside the open certified block or out of its order.
    Block,
    /// Inspection refused: the genesis is not a dev chain, or inspection is not on.
    Inspect,
    Host,
    Abi,
}

/// Host services the enclave calls while it handles an ecall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ocall {
    /// An encrypted state node by id (its SHA-256).
    FetchNode { contract: String, id: Hash },
    /// A chain query about public state (`QueryRequest` JSON: bank balances, contract and
    /// code info). Queries to contracts never leave the enclave.
    QueryChain {
        #[serde(with = "serde_bytes")]
        request: Vec<u8>,
    },
    /// The Wasm code with this SHA-256, for a contract a call reaches whose code the
    /// enclave has not compiled (after a restart); the enclave checks the hash.
    LoadCode { code_hash: Hash },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OcallResponse {
    Node(#[serde(with = "serde_bytes")] Option<Vec<u8>>),
    /// `SystemResult<ContractResult<Binary>>` JSON.
    QueryResult(#[serde(with = "serde_bytes")] Vec<u8>),
    Code(#[serde(with = "serde_bytes")] Option<Vec<u8>>),
    Error(String),
}

impl Ecall {
    /// Name for the host's crossing log.
    pub fn name(&self) -> &'static str {
        match self {
            Ecall::Init(_) => "init",
            Ecall::NetworkKey => "network_key",
            Ecall::BeginBlock { .. } => "begin_block",
            Ecall::LeaveOut { .. } => "leave_out",
            Ecall::EndBlock => "end_block",
            Ecall::StoreCode { .. } => "store_code",
            Ecall::SetQueryPolicy { .. } => "set_query_policy",
            Ecall::Attest { .. } => "attest",
            Ecall::RegisterNode { .. } => "register_node",
            Ecall::InstallSeed { .. } => "install_seed",
            Ecall::Govern { .. } => "govern",
            Ecall::CheckTx { .. } => "check_tx",
            Ecall::EnableInspect { .. } => "enable_inspect",
            Ecall::InspectState { .. } => "inspect_state",
            Ecall::Run(r) => match r.entry {
                EntryPoint::Instantiate => "instantiate",
                EntryPoint::Execute => "execute",
                EntryPoint::Query => "query",
                EntryPoint::Migrate => "migrate",
            },
        }
    }
}

impl Ocall {
    pub fn name(&self) -> &'static str {
        match self {
            Ocall::FetchNode { .. } => "fetch_node",
            Ocall::QueryChain { .. } => "query_chain",
            Ocall::LoadCode { .. } => "load_code",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AbiError {
    #[error("message of {0} bytes is too short for the ABI header")]
    Truncated(usize),
    #[error("ABI version {got} is not supported (this side speaks {ABI_VERSION})")]
    Version { got: u16 },
    #[error("malformed message: {0}")]
    Malformed(String),
    #[error("frame of {0} bytes exceeds the limit of {MAX_FRAME_BYTES}")]
    FrameTooLarge(usize),
    #[error("unknown frame kind {0}")]
    FrameKind(u8),
    #[error("channel: {0}")]
    Io(#[from] std::io::Error),
}

/// Encodes a message: ABI version (u16 BE) || postcard body.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    let mut out = ABI_VERSION.to_be_bytes().to_vec();
    postcard::to_io(message, &mut out).expect("writing to a Vec cannot fail");
    out
}

/// Decodes a message encoded by [`encode`], checking the ABI version.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, AbiError> {
    let (version, body) = bytes
        .split_first_chunk::<2>()
        .ok_or(AbiError::Truncated(bytes.len()))?;
    let got = u16::from_be_bytes(*version);
    if got != ABI_VERSION {
        return Err(AbiError::Version { got });
    }
    let (message, rest) =
        postcard::take_from_bytes(body).map_err(|e| AbiError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(AbiError::Malformed(format!(
            "{} trailing bytes",
            rest.len()
        )));
    }
    Ok(message)
}

/// What a frame on the process channel carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    Ecall = 1,
    EcallResponse = 2,
    Ocall = 3,
    OcallResponse = 4,
}

/// Writes `kind (u8) || length (u32 BE) || payload`.
pub fn write_frame(out: &mut impl Write, kind: FrameKind, payload: &[u8]) -> Result<(), AbiError> {
    if payload.len() > MAX_FRAME_BYTES {
        return Err(AbiError::FrameTooLarge(payload.len()));
    }
    out.write_all(&[kind as u8])?;
    out.write_all(&(payload.len() as u32).to_be_bytes())?;
    out.write_all(payload)?;
    out.flush()?;
    Ok(())
}

/// Reads one frame; `Ok(None)` at a clean end of stream.
pub fn read_frame(input: &mut impl Read) -> Result<Option<(FrameKind, Vec<u8>)>, AbiError> {
    let mut header = [0u8; 5];
    match input.read_exact(&mut header[..1]) {
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    }
    input.read_exact(&mut header[1..])?;
    let kind = match header[0] {
        1 => FrameKind::Ecall,
        2 => FrameKind::EcallResponse,
        3 => FrameKind::Ocall,
        4 => FrameKind::OcallResponse,
        other => return Err(AbiError::FrameKind(other)),
    };
    let len = u32::from_be_bytes(header[1..5].try_into().expect("4 bytes")) as usize;
    if len > MAX_FRAME_BYTES {
        return Err(AbiError::FrameTooLarge(len));
    }
    let mut payload = vec![0u8; len];
    input.read_exact(&mut payload)?;
    Ok(Some((kind, payload)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Byte strings are encoded as bytes: exactly what postcard writes for `Vec<u8>` (and
    /// lists of them), so the wire format did not change when they stopped being visited
    /// byte by byte.
    #[test]
    fn byte_strings_encode_as_plain_byte_vectors() {
        #[derive(Serialize)]
        struct Plain {
            one: Vec<u8>,
            maybe: Option<Vec<u8>>,
            none: Option<Vec<u8>>,
            list: Vec<Vec<u8>>,
            keyed: Vec<(Hash, Vec<u8>)>,
        }
        #[derive(Serialize, Deserialize, Debug, PartialEq)]
        struct Annotated {
            #[serde(with = "serde_bytes")]
            one: Vec<u8>,
            #[serde(with = "serde_bytes")]
            maybe: Option<Vec<u8>>,
            #[serde(with = "serde_bytes")]
            none: Option<Vec<u8>>,
            #[serde(with = "byte_strings")]
            list: Vec<Vec<u8>>,
            #[serde(with = "byte_strings::keyed")]
            keyed: Vec<(Hash, Vec<u8>)>,
        }
        let long: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
        let plain = Plain {
            one: long.clone(),
            maybe: Some(vec![7; 130]),
            none: None,
            list: vec![vec![], vec![1, 2, 3], long.clone()],
            keyed: vec![([9; 32], long.clone()), ([0; 32], vec![])],
        };
        let annotated = Annotated {
            one: plain.one.clone(),
            maybe: plain.maybe.clone(),
            none: None,
            list: plain.list.clone(),
            keyed: plain.keyed.clone(),
        };
        let bytes = postcard::to_stdvec(&plain).unwrap();
        assert_eq!(postcard::to_stdvec(&annotated).unwrap(), bytes);
        assert_eq!(
            postcard::from_bytes::<Annotated>(&bytes).unwrap(),
            annotated
        );
        // A message through the real codec: the version, the variant, then the bytes.
        let call = Ecall::CheckTx { tx: long.clone() };
        let encoded = encode(&call);
        assert_eq!(&encoded[..2], &ABI_VERSION.to_be_bytes());
        assert!(encoded.ends_with(&long));
        assert_eq!(decode::<Ecall>(&encoded).unwrap(), call);
    }

    #[test]
    fn round_trip_and_version_check() {
        let call = Ecall::StoreCode {
            wasm: vec![0, 97, 115, 109],
            tx: None,
            chain_id: "veil-dev".into(),
        };
        let bytes = encode(&call);
        assert_eq!(&bytes[..2], &ABI_VERSION.to_be_bytes());
        assert_eq!(decode::<Ecall>(&bytes).unwrap(), call);
        let mut wrong = bytes.clone();
        wrong[1] ^= 0xff;
        assert!(matches!(
            decode::<Ecall>(&wrong),
            Err(AbiError::Version { .. })
        ));
        assert!(matches!(
            decode::<Ecall>(&bytes[..1]),
            Err(AbiError::Truncated(1))
        ));
        assert!(matches!(
            decode::<Ecall>(&bytes[..bytes.len() - 1]),
            Err(AbiError::Malformed(_))
        ));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(matches!(
            decode::<Ecall>(&trailing),
            Err(AbiError::Malformed(_))
        ));
    }

    #[test]
    fn frames_round_trip() {
        let mut pipe = Vec::new();
        write_frame(&mut pipe, FrameKind::Ocall, b"abc").unwrap();
        write_frame(&mut pipe, FrameKind::EcallResponse, b"").unwrap();
        let mut reader = pipe.as_slice();
        assert_eq!(
            read_frame(&mut reader).unwrap(),
            Some((FrameKind::Ocall, b"abc".to_vec()))
        );
        assert_eq!(
            read_frame(&mut reader).unwrap(),
            Some((FrameKind::EcallResponse, vec![]))
        );
        assert_eq!(read_frame(&mut reader).unwrap(), None);
        let mut bad: &[u8] = &[9, 0, 0, 0, 0];
        assert!(matches!(read_frame(&mut bad), Err(AbiError::FrameKind(9))));
        let mut huge: &[u8] = &[1, 0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            read_frame(&mut huge),
            Err(AbiError::FrameTooLarge(_))
        ));
    }
}

/// Lists of byte strings encoded as lists of bytes (`serde_bytes` covers single ones): the
/// same postcard encoding as `Vec<Vec<u8>>`, without visiting each byte.
mod byte_strings {
    use serde::{Deserialize, Deserializer, Serializer};
    use serde_bytes::{ByteBuf, Bytes};

    pub fn serialize<S: Serializer>(items: &[Vec<u8>], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(items.iter().map(|item| Bytes::new(item)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<u8>>, D::Error> {
        let items = Vec::<ByteBuf>::deserialize(d)?;
        Ok(items.into_iter().map(ByteBuf::into_vec).collect())
    }

    /// `(key, bytes)` pairs.
    pub mod keyed {
        use super::*;
        use crate::Hash;

        pub fn serialize<S: Serializer>(
            items: &[(Hash, Vec<u8>)],
            s: S,
        ) -> Result<S::Ok, S::Error> {
            s.collect_seq(items.iter().map(|(key, item)| (key, Bytes::new(item))))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Vec<(Hash, Vec<u8>)>, D::Error> {
            let items = Vec::<(Hash, ByteBuf)>::deserialize(d)?;
            Ok(items
                .into_iter()
                .map(|(key, item)| (key, item.into_vec()))
                .collect())
        }
    }
}
