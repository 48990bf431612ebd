//! kitchen-sink: a CosmWasm contract that exercises every import cosmwasm-std
//! offers (storage + iterators, addresses, crypto, chain queries, debug,
//! abort) and every non-IBC entry point (instantiate, execute, query, migrate,
//! sudo, reply), plus "bombs" for robustness tests (infinite loop, deep
//! recursion, memory growth, panic, contract error).
//!
//! All byte inputs/outputs of the crypto messages are hex strings (`HexBinary`).

#[cfg(not(feature = "library"))]
use cosmwasm_std::entry_point;
use cosmwasm_std::{
    to_json_binary, to_json_vec, Addr, Binary, ContractResult, CosmosMsg, Deps,
    DepsMut, Empty, Env, HashFunction, HexBinary, MessageInfo, Order, QueryRequest, Reply,
    ReplyOn, Response, StdError, StdResult, SubMsg, SubMsgResult, SystemResult, Uint128,
    WasmQuery,
};
use cw_storage_plus::{Bound, Item, Map, PrefixBound};
use serde::{Deserialize, Serialize};

/// cw20 tokens received (`receive`), per token contract.
pub const RECEIVED: Map<&str, Uint128> = Map::new("received");
/// Composite-key map used by `map_set`, `map_page` and `map_prefix_range`.
pub const MAP: Map<(&str, &str), String> = Map::new("map");
/// Written by the `reply` entry point.
pub const LAST_REPLY: Item<LastReply> = Item::new("last_reply");

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct InstantiateMsg {}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct MigrateMsg {}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SudoMsg {
    /// Echoes `msg` back in the attribute `("sudo", msg)` and as data.
    Echo { msg: String },
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "snake_case")]
pub enum ExecuteMsg {
    // --- storage (db_write / db_remove) ---
    Set { key: String, value: String },
    Remove { key: String },
    MapSet { owner: String, key: String, value: String },
    /// The cw20 receiver hook (what a cw20 `send` calls): adds `amount` to the total
    /// received from the calling token contract.
    Receive {
        sender: String,
        amount: Uint128,
        msg: Binary,
    },
    // --- debug import ---
    Debug { msg: String },
    /// Returns `MessageInfo` (sender, funds) as JSON data.
    EchoInfo {},
    /// Dispatches `msg` as a sub-message so `reply` gets called.
    SubMessage {
        id: u64,
        msg: CosmosMsg,
        reply_on: ReplyOn,
        #[serde(default)]
        payload: Option<Binary>,
        #[serde(default)]
        gas_limit: Option<u64>,
    },
    /// Runs any query inside an execute; the query's JSON result becomes the data.
    ExecQuery { query: QueryMsg },
    // --- bombs / error paths ---
    /// `panic!("kitchen-sink panic")` -> `abort` import.
    Panic {},
    /// Infinite loop (volatile writes, cannot be optimized away).
    Loop {},
    /// Infinite loop writing to storage (db_write in every iteration).
    StorageLoop {},
    /// Non-tail recursion `depth` levels deep.
    Recurse { depth: u32 },
    /// Allocates and touches `pages` * 64 KiB.
    GrowMemory { pages: u32 },
    /// Returns `Err(StdError::generic_err(msg))`.
    Err { msg: String },
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum QueryMsg {
    // --- storage (db_read / db_scan / db_next / db_next_key / db_next_value) ---
    Get { key: String },
    /// `deps.storage.range(start, end, order)`; start inclusive, end exclusive.
    Range {
        #[serde(default)]
        start: Option<String>,
        #[serde(default)]
        end: Option<String>,
        #[serde(default)]
        descending: bool,
        #[serde(default)]
        limit: Option<u32>,
    },
    /// `deps.storage.range_keys` (db_next_key).
    RangeKeys {
        #[serde(default)]
        start: Option<String>,
        #[serde(default)]
        end: Option<String>,
        #[serde(default)]
        descending: bool,
        #[serde(default)]
        limit: Option<u32>,
    },
    /// `deps.storage.range_values` (db_next_value).
    RangeValues {
        #[serde(default)]
        start: Option<String>,
        #[serde(default)]
        end: Option<String>,
        #[serde(default)]
        descending: bool,
        #[serde(default)]
        limit: Option<u32>,
    },
    /// cw-storage-plus pagination: `MAP.prefix(owner).range(start_after.., ascending).take(limit)`.
    MapPage {
        owner: String,
        #[serde(default)]
        start_after: Option<String>,
        #[serde(default)]
        limit: Option<u32>,
    },
    /// cw-storage-plus `MAP.prefix_range(min_owner..=max_owner)` (inclusive bounds).
    MapPrefixRange {
        #[serde(default)]
        min_owner: Option<String>,
        #[serde(default)]
        max_owner: Option<String>,
        #[serde(default)]
        descending: bool,
        #[serde(default)]
        limit: Option<u32>,
    },
    // --- addresses ---
    ValidateAddr { addr: String },
    CanonicalizeAddr { addr: String },
    HumanizeAddr { hex: HexBinary },
    // --- crypto ---
    Secp256k1Verify { hash: HexBinary, sig: HexBinary, pubkey: HexBinary },
    Secp256k1Recover { hash: HexBinary, sig: HexBinary, recovery_param: u8 },
    Secp256r1Verify { hash: HexBinary, sig: HexBinary, pubkey: HexBinary },
    Secp256r1Recover { hash: HexBinary, sig: HexBinary, recovery_param: u8 },
    Ed25519Verify { msg: HexBinary, sig: HexBinary, pubkey: HexBinary },
    Ed25519BatchVerify { msgs: Vec<HexBinary>, sigs: Vec<HexBinary>, pubkeys: Vec<HexBinary> },
    /// `points`: concatenated 48-byte compressed G1 points.
    Bls12381AggregateG1 { points: HexBinary },
    /// `points`: concatenated 96-byte compressed G2 points.
    Bls12381AggregateG2 { points: HexBinary },
    /// Uses `HashFunction::Sha256`.
    Bls12381HashToG1 { msg: HexBinary, dst: HexBinary },
    /// Uses `HashFunction::Sha256`.
    Bls12381HashToG2 { msg: HexBinary, dst: HexBinary },
    /// `ps`: concatenated G1 points, `qs`: concatenated G2 points, `r`: G1, `s`: G2.
    Bls12381PairingEquality { ps: HexBinary, qs: HexBinary, r: HexBinary, s: HexBinary },
    // --- query_chain ---
    QueryBalance { address: String, denom: String },
    /// `WasmQuery::Smart` via `raw_query`; errors are returned, not raised.
    WasmSmart { contract_addr: String, msg: Binary },
    /// Passes `request` bytes unchanged to `query_chain`; errors are returned, not raised.
    RawQuery { request: Binary },
    // --- misc ---
    /// Returns `Env` as JSON.
    Env {},
    LastReply {},
    Debug { msg: String },
    Panic {},
    Loop {},
    Err { msg: String },
}

// ---------------------------------------------------------------------------
// Responses
// ---------------------------------------------------------------------------

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ValueResponse {
    pub value: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct EntriesResponse {
    pub entries: Vec<Entry>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct KeysResponse {
    pub keys: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ValuesResponse {
    pub values: Vec<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct MapEntry {
    pub owner: String,
    pub key: String,
    pub value: String,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct MapEntriesResponse {
    pub entries: Vec<MapEntry>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct AddrResponse {
    pub addr: Addr,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct HexResponse {
    pub hex: HexBinary,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct VerifyResponse {
    pub valid: bool,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PubkeyResponse {
    pub pubkey: HexBinary,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct PointResponse {
    pub point: HexBinary,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct BalanceResponse {
    pub amount: Uint128,
}

/// Outcome of a chain query whose failure is reported instead of raised.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct QueryOutcome {
    /// The query's response bytes on success.
    pub ok: Option<Binary>,
    /// `"system: <SystemError>"` or `"contract: <message>"` on failure.
    pub error: Option<String>,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LastReply {
    pub id: u64,
    pub ok: bool,
    pub error: Option<String>,
    pub payload: Binary,
    pub gas_used: u64,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LastReplyResponse {
    pub reply: Option<LastReply>,
}

// ---------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn instantiate(
    _deps: DepsMut,
    _env: Env,
    info: MessageInfo,
    _msg: InstantiateMsg,
) -> StdResult<Response> {
    Ok(Response::new()
        .add_attribute("action", "instantiate")
        .add_attribute("sender", info.sender.as_str()))
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn execute(deps: DepsMut, env: Env, info: MessageInfo, msg: ExecuteMsg) -> StdResult<Response> {
    let resp = Response::new();
    match msg {
        ExecuteMsg::Set { key, value } => {
            deps.storage.set(key.as_bytes(), value.as_bytes());
            Ok(resp.add_attribute("action", "set").add_attribute("key", key))
        }
        ExecuteMsg::Remove { key } => {
            deps.storage.remove(key.as_bytes());
            Ok(resp.add_attribute("action", "remove").add_attribute("key", key))
        }
        ExecuteMsg::MapSet { owner, key, value } => {
            MAP.save(deps.storage, (&owner, &key), &value)?;
            Ok(resp.add_attribute("action", "map_set"))
        }
        ExecuteMsg::Receive { sender, amount, .. } => {
            let token = info.sender.as_str();
            let total = RECEIVED.may_load(deps.storage, token)?.unwrap_or_default() + amount;
            RECEIVED.save(deps.storage, token, &total)?;
            Ok(resp
                .add_attribute("action", "receive")
                .add_attribute("from", sender)
                .add_attribute("amount", amount))
        }
        ExecuteMsg::Debug { msg } => {
            deps.api.debug(&msg);
            Ok(resp.add_attribute("action", "debug"))
        }
        ExecuteMsg::EchoInfo {} => Ok(resp
            .add_attribute("action", "echo_info")
            .add_attribute("sender", info.sender.as_str())
            .set_data(to_json_binary(&info)?)),
        ExecuteMsg::SubMessage {
            id,
            msg,
            reply_on,
            payload,
            gas_limit,
        } => {
            let sub = SubMsg {
                id,
                payload: payload.unwrap_or_default(),
                msg,
                gas_limit,
                reply_on,
            };
            Ok(resp
                .add_attribute("action", "sub_message")
                .add_submessage(sub))
        }
        ExecuteMsg::ExecQuery { query: q } => {
            let data = query(deps.as_ref(), env, q)?;
            Ok(resp.add_attribute("action", "exec_query").set_data(data))
        }
        ExecuteMsg::Panic {} => panic!("kitchen-sink panic"),
        ExecuteMsg::Loop {} => infinite_loop(),
        ExecuteMsg::StorageLoop {} => {
            let mut i: u64 = 0;
            loop {
                deps.storage.set(b"storage_loop", &i.to_be_bytes());
                i = i.wrapping_add(1);
            }
        }
        ExecuteMsg::Recurse { depth } => {
            let seed = [depth as u8; 32];
            let r = recurse(depth, &seed);
            Ok(resp
                .add_attribute("action", "recurse")
                .add_attribute("depth", depth.to_string())
                .add_attribute("result", r.to_string()))
        }
        ExecuteMsg::GrowMemory { pages } => {
            let bytes = (pages as usize)
                .checked_mul(65536)
                .ok_or_else(|| StdError::generic_err("too many pages"))?;
            let sum = grow_memory(bytes);
            Ok(resp
                .add_attribute("action", "grow_memory")
                .add_attribute("bytes", bytes.to_string())
                .add_attribute("checksum", sum.to_string()))
        }
        ExecuteMsg::Err { msg } => Err(StdError::generic_err(msg)),
    }
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn query(deps: Deps, env: Env, msg: QueryMsg) -> StdResult<Binary> {
    match msg {
        QueryMsg::Get { key } => to_json_binary(&ValueResponse {
            value: deps.storage.get(key.as_bytes()).map(lossy),
        }),
        QueryMsg::Range {
            start,
            end,
            descending,
            limit,
        } => {
            let entries = deps
                .storage
                .range(bytes(&start), bytes(&end), order(descending))
                .take(limit_of(limit))
                .map(|(k, v)| Entry {
                    key: lossy(k),
                    value: lossy(v),
                })
                .collect();
            to_json_binary(&EntriesResponse { entries })
        }
        QueryMsg::RangeKeys {
            start,
            end,
            descending,
            limit,
        } => {
            let keys = deps
                .storage
                .range_keys(bytes(&start), bytes(&end), order(descending))
                .take(limit_of(limit))
                .map(lossy)
                .collect();
            to_json_binary(&KeysResponse { keys })
        }
        QueryMsg::RangeValues {
            start,
            end,
            descending,
            limit,
        } => {
            let values = deps
                .storage
                .range_values(bytes(&start), bytes(&end), order(descending))
                .take(limit_of(limit))
                .map(lossy)
                .collect();
            to_json_binary(&ValuesResponse { values })
        }
        QueryMsg::MapPage {
            owner,
            start_after,
            limit,
        } => {
            let min = start_after.as_deref().map(Bound::exclusive);
            let entries = MAP
                .prefix(&owner)
                .range(deps.storage, min, None, Order::Ascending)
                .take(limit_of(limit))
                .map(|r| {
                    r.map(|(key, value)| MapEntry {
                        owner: owner.clone(),
                        key,
                        value,
                    })
                })
                .collect::<StdResult<Vec<_>>>()?;
            to_json_binary(&MapEntriesResponse { entries })
        }
        QueryMsg::MapPrefixRange {
            min_owner,
            max_owner,
            descending,
            limit,
        } => {
            let min = min_owner.as_deref().map(PrefixBound::inclusive);
            let max = max_owner.as_deref().map(PrefixBound::inclusive);
            let entries = MAP
                .prefix_range(deps.storage, min, max, order(descending))
                .take(limit_of(limit))
                .map(|r| r.map(|((owner, key), value)| MapEntry { owner, key, value }))
                .collect::<StdResult<Vec<_>>>()?;
            to_json_binary(&MapEntriesResponse { entries })
        }
        QueryMsg::ValidateAddr { addr } => to_json_binary(&AddrResponse {
            addr: deps.api.addr_validate(&addr)?,
        }),
        QueryMsg::CanonicalizeAddr { addr } => to_json_binary(&HexResponse {
            hex: HexBinary::from(deps.api.addr_canonicalize(&addr)?.as_slice()),
        }),
        QueryMsg::HumanizeAddr { hex } => to_json_binary(&AddrResponse {
            addr: deps.api.addr_humanize(&hex.to_vec().into())?,
        }),
        QueryMsg::Secp256k1Verify { hash, sig, pubkey } => to_json_binary(&VerifyResponse {
            valid: deps.api.secp256k1_verify(&hash, &sig, &pubkey)?,
        }),
        QueryMsg::Secp256k1Recover {
            hash,
            sig,
            recovery_param,
        } => to_json_binary(&PubkeyResponse {
            pubkey: deps
                .api
                .secp256k1_recover_pubkey(&hash, &sig, recovery_param)?
                .into(),
        }),
        QueryMsg::Secp256r1Verify { hash, sig, pubkey } => to_json_binary(&VerifyResponse {
            valid: deps.api.secp256r1_verify(&hash, &sig, &pubkey)?,
        }),
        QueryMsg::Secp256r1Recover {
            hash,
            sig,
            recovery_param,
        } => to_json_binary(&PubkeyResponse {
            pubkey: deps
                .api
                .secp256r1_recover_pubkey(&hash, &sig, recovery_param)?
                .into(),
        }),
        QueryMsg::Ed25519Verify { msg, sig, pubkey } => to_json_binary(&VerifyResponse {
            valid: deps.api.ed25519_verify(&msg, &sig, &pubkey)?,
        }),
        QueryMsg::Ed25519BatchVerify {
            msgs,
            sigs,
            pubkeys,
        } => {
            let msgs: Vec<&[u8]> = msgs.iter().map(|m| m.as_slice()).collect();
            let sigs: Vec<&[u8]> = sigs.iter().map(|m| m.as_slice()).collect();
            let pubkeys: Vec<&[u8]> = pubkeys.iter().map(|m| m.as_slice()).collect();
            to_json_binary(&VerifyResponse {
                valid: deps.api.ed25519_batch_verify(&msgs, &sigs, &pubkeys)?,
            })
        }
        QueryMsg::Bls12381AggregateG1 { points } => to_json_binary(&PointResponse {
            point: HexBinary::from(deps.api.bls12_381_aggregate_g1(&points)?.as_slice()),
        }),
        QueryMsg::Bls12381AggregateG2 { points } => to_json_binary(&PointResponse {
            point: HexBinary::from(deps.api.bls12_381_aggregate_g2(&points)?.as_slice()),
        }),
        QueryMsg::Bls12381HashToG1 { msg, dst } => to_json_binary(&PointResponse {
            point: HexBinary::from(
                deps.api
                    .bls12_381_hash_to_g1(HashFunction::Sha256, &msg, &dst)?
                    .as_slice(),
            ),
        }),
        QueryMsg::Bls12381HashToG2 { msg, dst } => to_json_binary(&PointResponse {
            point: HexBinary::from(
                deps.api
                    .bls12_381_hash_to_g2(HashFunction::Sha256, &msg, &dst)?
                    .as_slice(),
            ),
        }),
        QueryMsg::Bls12381PairingEquality { ps, qs, r, s } => to_json_binary(&VerifyResponse {
            valid: deps.api.bls12_381_pairing_equality(&ps, &qs, &r, &s)?,
        }),
        QueryMsg::QueryBalance { address, denom } => to_json_binary(&BalanceResponse {
            amount: deps.querier.query_balance(address, denom)?.amount,
        }),
        QueryMsg::WasmSmart { contract_addr, msg } => {
            let request: QueryRequest<Empty> =
                QueryRequest::Wasm(WasmQuery::Smart { contract_addr, msg });
            to_json_binary(&raw_query(deps, &to_json_vec(&request)?))
        }
        QueryMsg::RawQuery { request } => to_json_binary(&raw_query(deps, &request)),
        QueryMsg::Env {} => to_json_binary(&env),
        QueryMsg::LastReply {} => to_json_binary(&LastReplyResponse {
            reply: LAST_REPLY.may_load(deps.storage)?,
        }),
        QueryMsg::Debug { msg } => {
            deps.api.debug(&msg);
            to_json_binary(&msg)
        }
        QueryMsg::Panic {} => panic!("kitchen-sink panic"),
        QueryMsg::Loop {} => infinite_loop(),
        QueryMsg::Err { msg } => Err(StdError::generic_err(msg)),
    }
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn migrate(_deps: DepsMut, _env: Env, _msg: MigrateMsg) -> StdResult<Response> {
    Ok(Response::new().add_attribute("migrated", "yes"))
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn sudo(_deps: DepsMut, _env: Env, msg: SudoMsg) -> StdResult<Response> {
    match msg {
        SudoMsg::Echo { msg } => Ok(Response::new()
            .add_attribute("sudo", msg.clone())
            .set_data(msg.into_bytes())),
    }
}

#[cfg_attr(not(feature = "library"), entry_point)]
pub fn reply(deps: DepsMut, _env: Env, reply: Reply) -> StdResult<Response> {
    let (ok, error) = match &reply.result {
        SubMsgResult::Ok(_) => (true, None),
        SubMsgResult::Err(e) => (false, Some(e.clone())),
    };
    LAST_REPLY.save(
        deps.storage,
        &LastReply {
            id: reply.id,
            ok,
            error,
            payload: reply.payload.clone(),
            gas_used: reply.gas_used,
        },
    )?;
    Ok(Response::new()
        .add_attribute("action", "reply")
        .add_attribute("reply_id", reply.id.to_string())
        .add_attribute("reply_ok", ok.to_string()))
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

fn lossy(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn bytes(s: &Option<String>) -> Option<&[u8]> {
    s.as_deref().map(str::as_bytes)
}

fn order(descending: bool) -> Order {
    if descending {
        Order::Descending
    } else {
        Order::Ascending
    }
}

fn limit_of(limit: Option<u32>) -> usize {
    limit.map(|l| l as usize).unwrap_or(usize::MAX)
}

fn raw_query(deps: Deps, request: &[u8]) -> QueryOutcome {
    match deps.querier.raw_query(request) {
        SystemResult::Ok(ContractResult::Ok(bin)) => QueryOutcome {
            ok: Some(bin),
            error: None,
        },
        SystemResult::Ok(ContractResult::Err(e)) => QueryOutcome {
            ok: None,
            error: Some(format!("contract: {e}")),
        },
        SystemResult::Err(e) => QueryOutcome {
            ok: None,
            error: Some(format!("system: {e}")),
        },
    }
}

static mut SINK: u64 = 0;

/// Never returns; the volatile write keeps the optimizer from removing the loop.
#[inline(never)]
fn infinite_loop() -> ! {
    let mut x: u64 = core::hint::black_box(1);
    loop {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        // SAFETY: single-threaded wasm; SINK is only ever written here.
        unsafe { core::ptr::write_volatile(&raw mut SINK, x) };
    }
}

/// Deep non-tail recursion: every frame passes a pointer to its own stack
/// buffer to the callee and mixes the callee's result non-associatively, so
/// it cannot be turned into a loop.
#[inline(never)]
fn recurse(depth: u32, parent: &[u8; 32]) -> u64 {
    if depth == 0 {
        return core::hint::black_box(parent[0] as u64);
    }
    let mut frame = *parent;
    frame[(depth % 32) as usize] ^= depth as u8;
    let frame = core::hint::black_box(frame);
    let below = recurse(core::hint::black_box(depth - 1), &frame);
    below.rotate_left(5) ^ (frame[(depth % 31) as usize] as u64)
}

/// Allocates `bytes` and touches every 4 KiB so the memory really grows.
#[inline(never)]
fn grow_memory(bytes: usize) -> u64 {
    // alloc_zeroed on fresh memory may not touch the pages; the loop below does.
    let mut v: Vec<u8> = vec![0u8; bytes];
    let mut i = 0;
    while i < bytes {
        v[i] = (i / 4096) as u8;
        i += 4096;
    }
    let v = core::hint::black_box(v);
    let mut sum: u64 = 0;
    let mut i = 0;
    while i < bytes {
        sum = sum.wrapping_add(v[i] as u64);
        i += 4096;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;
    use cosmwasm_std::from_json;

    #[test]
    fn json_names() {
        let m: QueryMsg = from_json(br#"{"bls12381_aggregate_g1":{"points":"00"}}"#).unwrap();
        assert!(matches!(m, QueryMsg::Bls12381AggregateG1 { .. }));
        let m: ExecuteMsg = from_json(br#"{"grow_memory":{"pages":1}}"#).unwrap();
        assert_eq!(m, ExecuteMsg::GrowMemory { pages: 1 });
    }
}
