//! The HTTP JSON API and WebSocket subscriptions (`docs/rpc.md`).

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::broadcast;
use veil_types::{serde_hash, Hash, Tx};

use crate::app::{App, Checker, Rejection};
use crate::mempool::Mempool;
use crate::store::Store;

/// Largest request body: a largest transaction in base64, with room for the JSON.
pub const MAX_BODY_BYTES: usize = veil_types::MAX_TX_BYTES / 3 * 4 + 64 * 1024;

#[derive(Clone)]
pub struct RpcState {
    pub app: Arc<Mutex<App>>,
    pub mempool: Arc<Mempool>,
    pub checker: Checker,
    pub store: Store,
    pub events: broadcast::Sender<Arc<str>>,
    pub network_key: (Hash, u32),
    /// Where transactions clients submit here are passed on.
    /// Transaction gossip (none: submitted transactions stay in this node's mempool).
    pub gossip: Option<Arc<crate::gossip::TxGossip>>,
    /// How this node takes part in the chain.
    pub view: Arc<Mutex<crate::node::ChainView>>,
    /// Whether the enclave inspects (a dev chain started with `--inspect`).
    pub inspecting: bool,
}

pub fn router(state: RpcState) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/network_key", get(network_key))
        .route("/genesis", get(genesis))
        .route("/registrations", get(list_registrations))
        .route("/registrations/{key}", get(get_registration))
        .route("/attestation-policy", get(attestation_policy))
        .route("/evidence", get(list_evidence))
        .route("/txs", post(submit_tx))
        .route("/txs/{hash}", get(get_tx))
        .route("/simulate", post(simulate))
        .route("/blocks/latest", get(latest_block))
        .route("/blocks/{height}", get(get_block))
        .route("/blocks/{height}/receipts", get(block_receipts))
        .route("/blocks/{height}/receipts/{index}", get(receipt_at))
        .route("/accounts/{address}", get(get_account))
        .route("/codes/{id}", get(get_code))
        .route("/contracts/{address}", get(get_contract))
        .route("/contracts/{address}/query", post(query_contract))
        .route("/proofs/attestation-policy", get(prove_attestation_policy))
        .route("/proofs/{kind}/{key}", get(prove_record))
        .route("/inspect/txs/{hash}", get(inspect_tx))
        .route("/inspect/contracts/{address}/state", get(inspect_state))
        .route("/subscribe", get(subscribe))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
        })
        .layer(axum::extract::DefaultBodyLimit::disable())
        .with_state(state)
}

/// An error answer: `{"error": {"kind", "message"}}` with a fitting status code.
pub struct ApiError {
    status: StatusCode,
    kind: String,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            kind: kind.to_string(),
            message: message.into(),
        }
    }

    fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    fn bad_request(kind: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, kind, message)
    }

    fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            message.to_string(),
        )
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> Self {
        let status = match r.kind {
            "too_large" => StatusCode::PAYLOAD_TOO_LARGE,
            "mempool_full" | "busy" => StatusCode::SERVICE_UNAVAILABLE,
            "unknown_contract" | "unknown_code" => StatusCode::NOT_FOUND,
            "not_dev_chain" | "inspect_disabled" | "inspect_refused" => StatusCode::FORBIDDEN,
            "store" | "internal" => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        Self::new(status, r.kind, r.message)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({"error": {"kind": self.kind, "message": self.message}})),
        )
            .into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

fn ok(value: impl Serialize) -> ApiResult {
    Ok(Json(value).into_response())
}

/// Reads a JSON body with a size limit and clear errors.
async fn read_json<T: DeserializeOwned>(body: Body) -> Result<T, ApiError> {
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("request body exceeds {MAX_BODY_BYTES} bytes"),
            )
        })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("malformed_json", format!("request body: {e}")))
}

fn base64_field(value: &str, field: &str) -> Result<Vec<u8>, ApiError> {
    base64::engine::general_purpose::STANDARD
        .decode(value)
        .map_err(|e| ApiError::bad_request("malformed", format!("{field} is not base64: {e}")))
}

/// Runs blocking work that needs the app (and so the enclave) off the async workers.
async fn with_app<T: Send + 'static>(
    state: &RpcState,
    work: impl FnOnce(&mut App) -> T + Send + 'static,
) -> Result<T, ApiError> {
    let app = state.app.clone();
    tokio::task::spawn_blocking(move || {
        let mut app = app.lock().unwrap_or_else(|p| p.into_inner());
        work(&mut app)
    })
    .await
    .map_err(ApiError::internal)
}

async fn status(State(state): State<RpcState>) -> ApiResult {
    let (height, state_root) = state
        .store
        .tip()?
        .ok_or_else(|| ApiError::internal("the chain is not initialized"))?;
    let block = state
        .store
        .block(height)?
        .ok_or_else(|| ApiError::internal("latest block is missing"))?;
    let genesis = state
        .store
        .genesis()?
        .ok_or_else(|| ApiError::internal("the genesis is missing"))?;
    let simulated = genesis
        .attestation_policy
        .as_ref()
        .is_some_and(|p| p.allow_simulated);
    ok(json!({
        "chain_id": state.checker.chain_id,
        "height": height,
        "latest_block_hash": hex::encode(block.header.hash()),
        "latest_block_time_nanos": block.header.time_nanos,
        // The state after the latest block (its header carries the state before it).
        "app_hash": hex::encode(state_root),
        "consensus": state.view.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        "gossip": state.gossip.as_ref().map(|g| json!({
            "listen": g.listen_addr().to_string(),
            "peers": g.peer_count(),
        })),
        "validators": genesis.validators.iter().map(|v| json!({
            "name": v.name,
            "address": veil_types::consensus::ValidatorAddress::from_public_key(&v.public_key).to_string(),
            "public_key": hex::encode(v.public_key),
            "power": v.power,
        })).collect::<Vec<_>>(),
        "network_key": hex::encode(state.network_key.0),
        "key_generation": state.network_key.1,
        "mempool_size": state.mempool.len(),
        "state_nodes": state.store.node_count()?,
        "evidence_count": state.store.evidence_count()?,
        "params": state.checker.params,
        "node_version": env!("CARGO_PKG_VERSION"),
        "genesis_hash": hex::encode(genesis.hash()),
        "simulated_attestation_allowed": simulated,
        "attestation_warning": simulated.then_some(
            "this chain's policy accepts simulated attestations: anyone can forge one, so it gives its master seed to anyone who asks (a development chain)"
        ),
    }))
}

async fn genesis(State(state): State<RpcState>) -> ApiResult {
    let genesis = state
        .store
        .genesis()?
        .ok_or_else(|| ApiError::internal("the genesis is missing"))?;
    ok(json!({ "genesis_hash": hex::encode(genesis.hash()), "genesis": genesis }))
}

async fn get_registration(State(state): State<RpcState>, Path(key): Path<String>) -> ApiResult {
    let key = veil_types::serde_hash::parse_hex(&key).map_err(|e| {
        ApiError::bad_request(
            "malformed",
            format!("{key:?} is not a registration key: {e}"),
        )
    })?;
    ok(state.store.registration(&key)?.ok_or_else(|| {
        ApiError::not_found(format!(
            "no enclave registered with key {}",
            hex::encode(key)
        ))
    })?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistrationsParams {
    /// A registration key (hex): list the ones after it.
    after: Option<String>,
    /// At most this many (1 to 100, default 100).
    limit: Option<String>,
}

/// A list endpoint's `limit`: 1 to `max`, `max` when absent.
fn page_limit(text: Option<&str>, max: usize) -> Result<usize, ApiError> {
    match text {
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "malformed",
                    format!("limit must be 1 to {max}, got {text:?}"),
                )
            }),
        None => Ok(max),
    }
}

async fn list_registrations(
    State(state): State<RpcState>,
    Query(params): Query<RegistrationsParams>,
) -> ApiResult {
    let after = match &params.after {
        Some(text) => Some(parse_hash(text)?),
        None => None,
    };
    let limit = page_limit(
        params.limit.as_deref(),
        crate::store::MAX_REGISTRATIONS_PAGE,
    )?;
    ok(state.store.registrations(after.as_ref(), limit)?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvidenceParams {
    /// An evidence index: list the records after it.
    after: Option<String>,
    /// At most this many (1 to 100, default 100).
    limit: Option<String>,
}

/// The equivocation evidence this node recorded, in the order it recorded it.
async fn list_evidence(
    State(state): State<RpcState>,
    Query(params): Query<EvidenceParams>,
) -> ApiResult {
    let max = crate::store::MAX_EVIDENCE_PAGE;
    let after = match &params.after {
        Some(text) => Some(text.parse::<u64>().map_err(|_| {
            ApiError::bad_request(
                "malformed",
                format!("after must be an evidence index, got {text:?}"),
            )
        })?),
        None => None,
    };
    let limit = page_limit(params.limit.as_deref(), max)?;
    ok(state.store.evidence(after, limit)?)
}

async fn attestation_policy(State(state): State<RpcState>) -> ApiResult {
    ok(state
        .store
        .attestation_policy()?
        .ok_or_else(|| ApiError::internal("the attestation policy record is missing"))?)
}

async fn network_key(State(state): State<RpcState>) -> ApiResult {
    ok(json!({
        "public_key": hex::encode(state.network_key.0),
        "generation": state.network_key.1,
    }))
}

/// A public record and its proof under the state root after the last block, for light
/// clients (`docs/rpc.md`, "Proofs"): `kind` is `accounts`, `codes`, `contracts` or
/// `registrations`.
async fn prove_record(
    State(state): State<RpcState>,
    Path((kind, key)): Path<(String, String)>,
) -> ApiResult {
    use veil_types::state_proof::leaf_key;
    let leaf_key = match kind.as_str() {
        "accounts" => {
            checked_address(&key)?;
            leaf_key::account(&key)
        }
        "contracts" => {
            checked_address(&key)?;
            leaf_key::contract(&key)
        }
        "codes" => leaf_key::code(key.parse().map_err(|_| {
            ApiError::bad_request("malformed", format!("{key:?} is not a code id"))
        })?),
        "registrations" => leaf_key::registration(&serde_hash::parse_hex(&key).map_err(|e| {
            ApiError::bad_request(
                "malformed",
                format!("{key:?} is not a registration key: {e}"),
            )
        })?),
        _ => {
            return Err(ApiError::not_found(format!(
                "no proofs of {kind:?}: records are accounts, codes, contracts, registrations \
                 and the attestation-policy"
            )))
        }
    };
    proof_answer(&state, &leaf_key)
}

async fn prove_attestation_policy(State(state): State<RpcState>) -> ApiResult {
    proof_answer(
        &state,
        &veil_types::state_proof::leaf_key::attestation_policy(),
    )
}

fn proof_answer(state: &RpcState, leaf_key: &[u8]) -> ApiResult {
    let answer = state.store.state_proof(leaf_key)?;
    ok(json!({
        "height": answer.height,
        "app_hash": hex::encode(answer.state_root),
        "leaf_key": hex::encode(leaf_key),
        "value": answer.value.map(|v| base64::engine::general_purpose::STANDARD.encode(v)),
        "proof": {
            "siblings": answer.proof.siblings.iter().map(hex::encode).collect::<Vec<_>>(),
            "leaf": answer.proof.leaf.map(|(key_hash, value_hash)| json!({
                "key_hash": hex::encode(key_hash),
                "value_hash": hex::encode(value_hash),
            })),
        },
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TxRequest {
    /// The signed transaction's bytes, base64.
    tx: String,
}

async fn submit_tx(State(state): State<RpcState>, body: Body) -> ApiResult {
    let request: TxRequest = read_json(body).await?;
    let bytes = base64_field(&request.tx, "tx")?;
    let mempool = state.mempool.clone();
    let checker = state.checker.clone();
    // Signature checks and code validation are CPU work: keep them off the IO workers.
    let hash = tokio::task::spawn_blocking(move || {
        let copy = state.gossip.as_ref().map(|_| bytes.clone());
        let hash = mempool.submit(bytes, &checker)?;
        if let (Some(gossip), Some(bytes)) = (&state.gossip, copy) {
            gossip.publish(bytes);
        }
        Ok::<_, Rejection>(hash)
    })
    .await
    .map_err(ApiError::internal)??;
    ok(json!({ "tx_hash": hex::encode(hash) }))
}

fn parse_hash(text: &str) -> Result<Hash, ApiError> {
    serde_hash::parse_hex(text).map_err(|e| ApiError::bad_request("malformed", e))
}

async fn get_tx(State(state): State<RpcState>, Path(hash): Path<String>) -> ApiResult {
    let hash = parse_hash(&hash)?;
    // The mempool first: a block is written to the store before its transactions leave
    // the mempool, so a transaction missing from the mempool here is already findable in
    // the store. Reading the store first could miss a block that commits in between and
    // answer "unknown" for a transaction that was never lost.
    if state.mempool.contains(&hash) {
        return ok(json!({
            "status": "pending",
            "tx_hash": hex::encode(hash),
        }));
    }
    match state.store.tx_location(&hash)? {
        Some((height, index)) => tx_at(&state, height, index),
        None => Err(ApiError::not_found(format!(
            "transaction {} is neither in a block nor in the mempool",
            hex::encode(hash)
        ))),
    }
}

fn tx_at(state: &RpcState, height: u64, index: u32) -> ApiResult {
    let receipt = state
        .store
        .receipt(height, index)?
        .ok_or_else(|| ApiError::not_found(format!("no transaction {index} in block {height}")))?;
    let bytes = state
        .store
        .tx(height, index)?
        .ok_or_else(|| ApiError::internal("transaction bytes missing"))?;
    // Transactions that failed to decode are still shown, as bytes.
    let tx = Tx::from_bytes(&bytes)
        .ok()
        .map(|tx| serde_json::to_value(tx).expect("serializable"));
    ok(json!({
        "status": "committed",
        "tx_hash": hex::encode(receipt.tx_hash),
        "height": height,
        "index": index,
        "tx": tx,
        "tx_bytes": base64::engine::general_purpose::STANDARD.encode(&bytes),
        "receipt": receipt,
    }))
}

async fn simulate(State(state): State<RpcState>, body: Body) -> ApiResult {
    let request: TxRequest = read_json(body).await?;
    let bytes = base64_field(&request.tx, "tx")?;
    let receipt = with_app(&state, move |app| app.simulate(&bytes)).await??;
    ok(receipt)
}

async fn latest_block(State(state): State<RpcState>) -> ApiResult {
    let height = state.store.height()?.unwrap_or(0);
    block_json(&state, height)
}

fn parse_height(text: &str) -> Result<u64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::bad_request("malformed", format!("{text:?} is not a block height")))
}

async fn get_block(State(state): State<RpcState>, Path(height): Path<String>) -> ApiResult {
    block_json(&state, parse_height(&height)?)
}

fn block_json(state: &RpcState, height: u64) -> ApiResult {
    let block = state
        .store
        .block(height)?
        .ok_or_else(|| ApiError::not_found(format!("no block at height {height}")))?;
    ok(json!({
        "hash": hex::encode(block.header.hash()),
        "header": block.header,
        "tx_hashes": block.tx_hashes.iter().map(hex::encode).collect::<Vec<_>>(),
        "certificate": state.store.certificate(height)?,
    }))
}

async fn block_receipts(State(state): State<RpcState>, Path(height): Path<String>) -> ApiResult {
    let height = parse_height(&height)?;
    let block = state
        .store
        .block(height)?
        .ok_or_else(|| ApiError::not_found(format!("no block at height {height}")))?;
    let mut receipts = Vec::with_capacity(block.tx_hashes.len());
    for index in 0..block.tx_hashes.len() as u32 {
        receipts.push(
            state
                .store
                .receipt(height, index)?
                .ok_or_else(|| ApiError::internal("receipt missing"))?,
        );
    }
    ok(receipts)
}

async fn receipt_at(
    State(state): State<RpcState>,
    Path((height, index)): Path<(String, String)>,
) -> ApiResult {
    let height = parse_height(&height)?;
    let index: u32 = index
        .parse()
        .map_err(|_| ApiError::bad_request("malformed", format!("{index:?} is not an index")))?;
    tx_at(&state, height, index)
}

fn checked_address(address: &str) -> Result<(), ApiError> {
    veil_types::validate_address(address).map_err(|e| ApiError::bad_request("invalid_address", e))
}

async fn get_account(State(state): State<RpcState>, Path(address): Path<String>) -> ApiResult {
    checked_address(&address)?;
    let account = state
        .store
        .account(&address)?
        .unwrap_or(veil_types::Account {
            address,
            ..Default::default()
        });
    ok(account)
}

async fn get_code(State(state): State<RpcState>, Path(id): Path<String>) -> ApiResult {
    let id: u64 = id
        .parse()
        .map_err(|_| ApiError::bad_request("malformed", format!("{id:?} is not a code id")))?;
    ok(state
        .store
        .code(id)?
        .ok_or_else(|| ApiError::not_found(format!("no code with id {id}")))?)
}

async fn get_contract(State(state): State<RpcState>, Path(address): Path<String>) -> ApiResult {
    checked_address(&address)?;
    ok(state
        .store
        .contract(&address)?
        .ok_or_else(|| ApiError::not_found(format!("no contract at {address}")))?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QueryRequest {
    /// The encrypted query envelope, base64.
    msg: String,
    /// A signed query permit encrypted under the query's key, base64 (none: anonymous).
    #[serde(default)]
    permit: Option<String>,
}

async fn query_contract(
    State(state): State<RpcState>,
    Path(address): Path<String>,
    body: Body,
) -> ApiResult {
    checked_address(&address)?;
    let request: QueryRequest = read_json(body).await?;
    let envelope = base64_field(&request.msg, "msg")?;
    let permit = match &request.permit {
        Some(permit) => Some(base64_field(permit, "permit")?),
        None => None,
    };
    let (response, height) = with_app(&state, move |app| {
        app.query_contract(&address, envelope, permit)
    })
    .await??;
    ok(json!({
        "ok": response.ok,
        "height": height,
        "gas_used": response.gas_used,
        "error_kind": response.error_kind,
        "encrypted_result": base64::engine::general_purpose::STANDARD.encode(&response.encrypted_result),
    }))
}

/// Refuses inspection unless this is a dev chain whose node runs with `--inspect` (the
/// enclave refuses it on its own too).
fn inspection_on(state: &RpcState) -> Result<(), ApiError> {
    let genesis = state
        .store
        .genesis()?
        .ok_or_else(|| ApiError::internal("the genesis is missing"))?;
    if !genesis.dev {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "not_dev_chain",
            format!(
                "chain {:?} is not a dev chain: it cannot be inspected",
                genesis.chain_id
            ),
        ));
    }
    if !state.inspecting {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "inspect_disabled",
            "inspection is not on: start the dev chain with `veil dev --inspect`",
        ));
    }
    Ok(())
}

async fn inspect_tx(State(state): State<RpcState>, Path(hash): Path<String>) -> ApiResult {
    inspection_on(&state)?;
    let hash = parse_hash(&hash)?;
    let Some((height, index)) = state.store.tx_location(&hash)? else {
        return Err(ApiError::not_found(format!(
            "transaction {} is not in a block",
            hex::encode(hash)
        )));
    };
    let sealed = state.store.inspection(&hash)?;
    ok(json!({
        "tx_hash": hex::encode(hash),
        "height": height,
        "index": index,
        // None: the transaction called no contract, or ran before inspection was on.
        "sealed": sealed.map(|s| base64::engine::general_purpose::STANDARD.encode(s)),
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InspectStateParams {
    /// Hex of the key prefix (default: every key).
    #[serde(default)]
    prefix: Option<String>,
    /// Hex of the last key of the previous page.
    #[serde(default)]
    after: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

async fn inspect_state(
    State(state): State<RpcState>,
    Path(address): Path<String>,
    Query(params): Query<InspectStateParams>,
) -> ApiResult {
    inspection_on(&state)?;
    checked_address(&address)?;
    let hex_param = |value: &Option<String>, name: &str| -> Result<Option<Vec<u8>>, ApiError> {
        value
            .as_deref()
            .map(|text| {
                hex::decode(text).map_err(|e| {
                    ApiError::bad_request("malformed", format!("{name} is not hex: {e}"))
                })
            })
            .transpose()
    };
    let prefix = hex_param(&params.prefix, "prefix")?.unwrap_or_default();
    let after = hex_param(&params.after, "after")?;
    let limit = page_limit(
        params.limit.as_deref(),
        veil_enclave_abi::MAX_INSPECT_STATE_ENTRIES as usize,
    )? as u32;
    let sealed = with_app(&state, move |app| {
        app.inspect_state(&address, prefix, after, limit)
    })
    .await??;
    ok(json!({ "sealed": base64::engine::general_purpose::STANDARD.encode(sealed) }))
}

#[derive(Deserialize)]
struct SubscribeParams {
    /// Comma-separated: `blocks`, `txs` (default both).
    events: Option<String>,
}

async fn subscribe(
    State(state): State<RpcState>,
    Query(params): Query<SubscribeParams>,
    upgrade: WebSocketUpgrade,
) -> Response {
    let wanted = params.events.unwrap_or_else(|| "blocks,txs".into());
    let blocks = wanted.split(',').any(|w| w.trim() == "blocks");
    let txs = wanted.split(',').any(|w| w.trim() == "txs");
    let receiver = state.events.subscribe();
    upgrade.on_upgrade(move |socket| forward_events(socket, receiver, blocks, txs))
}

async fn forward_events(
    mut socket: WebSocket,
    mut events: broadcast::Receiver<Arc<str>>,
    blocks: bool,
    txs: bool,
) {
    loop {
        tokio::select! {
            event = events.recv() => {
                let text = match event {
                    Ok(text) => text,
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        json!({"type": "lagged", "missed": missed}).to_string().into()
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                };
                let is_block = text.starts_with("{\"type\":\"new_block\"");
                let is_tx = text.starts_with("{\"type\":\"tx\"");
                if (is_block && !blocks) || (is_tx && !txs) {
                    continue;
                }
                if socket.send(Message::Text(text.to_string().into())).await.is_err() {
                    break;
                }
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                _ => {}
            },
        }
    }
}

/// The events published after a block commits (one per block, one per transaction).
pub fn block_events(block: &veil_types::Block, receipts: &[veil_types::Receipt]) -> Vec<Arc<str>> {
    let mut events = Vec::with_capacity(receipts.len() + 1);
    let header: Value = json!({
        "type": "new_block",
        "hash": hex::encode(block.header.hash()),
        "header": block.header,
        "num_txs": block.tx_hashes.len(),
    });
    events.push(header.to_string().into());
    for receipt in receipts {
        events.push(json!({"type": "tx", "receipt": receipt}).to_string().into());
    }
    events
}
