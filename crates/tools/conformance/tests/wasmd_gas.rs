//! What the transactions of `docs/gas.md`'s "Compared with wasmd" table cost on a wasmd
//! chain, computed from wasmd's published parameters: the contract code runs on
//! cosmwasm-vm 3 (the VM wasmd embeds) and every storage access it makes is priced with
//! the Cosmos SDK's KV gas, as wasmd's KV store would; wasmd's gas register
//! (`x/wasm/types/gas_register.go`) adds the instance, event and compile costs, and the
//! SDK's ante handler the transaction's own costs (itemised in `docs/gas.md`).
//!
//! The test fails if the table's wasmd column disagrees with this computation. The Veil
//! column is measured on a real `veil dev` chain by `crates/client/cli/tests/gas_table.rs`,
//! which also checks the ratios.
//!
//! Run: `cargo test --manifest-path crates/tools/conformance/Cargo.toml --test wasmd_gas -- --nocapture`

#[path = "common/gas_comparison.rs"]
mod gas_comparison;
#[path = "common/vm.rs"]
mod vm;

use serde_json::{json, Value};
use veil_conformance::{account, contract, Outcome, StorageOp};
use veil_contract_build::{build_contract, build_published, BuildOptions};
use veil_engine::cosmwasm_std::{CosmosMsg, Response, WasmMsg};
use veil_engine::Entry;
use vm::VmRunner;

// Cosmos SDK KV gas (`store/types/gas.go`, `KVGasConfig`).
const READ_FLAT: u64 = 1_000;
const READ_PER_BYTE: u64 = 3;
const WRITE_FLAT: u64 = 2_000;
const WRITE_PER_BYTE: u64 = 30;
const HAS: u64 = 1_000;
const DELETE: u64 = 1_000;
const ITER_NEXT_FLAT: u64 = 30;
// The SDK's auth parameters.
const TX_SIZE_PER_BYTE: u64 = 10;
const SECP256K1_VERIFY: u64 = 1_000;
// wasmd's gas register.
const GAS_MULTIPLIER: u64 = 140_000;
const INSTANCE_COST: u64 = 60_000;
const COMPILE_COST_PER_BYTE: u64 = 3;
const PER_ATTRIBUTE: u64 = 10;
const PER_ATTRIBUTE_BYTE: u64 = 1;
const ATTRIBUTE_FREE_BYTES: u64 = 100;
const PER_CUSTOM_EVENT: u64 = 20;

/// wasmd keeps a contract's storage under `0x03 ‖ address` (32 bytes): every key the
/// contract uses is 33 bytes longer in the KV store, and priced so.
const CONTRACT_STORE_PREFIX: usize = 33;

fn read(key: usize, value: usize) -> u64 {
    READ_FLAT + READ_PER_BYTE * (key + value) as u64
}

fn write(key: usize, value: usize) -> u64 {
    WRITE_FLAT + WRITE_PER_BYTE * (key + value) as u64
}

// Sizes of the module records the model reads and writes (protobuf, 20-byte accounts and
// 32-byte contracts with a four-letter bech32 prefix).
/// `BaseAccount` with its secp256k1 key, in an `Any`: key `0x01 ‖ address`.
const ACCOUNT: (usize, usize) = (21, 160);
/// A module account (the fee collector).
const MODULE_ACCOUNT: (usize, usize) = (21, 140);
/// One balance: key `0x02 ‖ len ‖ address ‖ denom`, value the amount.
const BALANCE: (usize, usize) = (27, 10);
/// The auth module's parameters.
const AUTH_PARAMS: (usize, usize) = (1, 15);
/// `ContractInfo`: key `0x02 ‖ address`; code id, creator, admin, label, created.
const CONTRACT_INFO: (usize, usize) = (33, 122);
/// `CodeInfo`: key `0x01 ‖ code id`; checksum, creator, instantiate permission.
const CODE_INFO: (usize, usize) = (9, 85);
/// The code-id sequence.
const SEQUENCE: (usize, usize) = (11, 8);
/// wasm module parameters (upload and instantiate access).
const WASM_PARAMS: (usize, usize) = (1, 20);

/// The SDK ante handler for one secp256k1 signer whose public key is on chain, paying a
/// fee in one denomination, except the per-byte size cost.
fn ante_fixed() -> u64 {
    let account_read = read(ACCOUNT.0, ACCOUNT.1);
    // ValidateMemo, ConsumeTxSize, ValidateSigCount, SigGasConsume read the parameters.
    let params = 4 * read(AUTH_PARAMS.0, AUTH_PARAMS.1);
    // DeductFee: the payer and the fee collector, the vesting check on the payer, and a
    // bank transfer (two balances read and written, the recipient's existence).
    let deduct_fee = account_read
        + read(MODULE_ACCOUNT.0, MODULE_ACCOUNT.1)
        + account_read
        + 2 * (read(BALANCE.0, BALANCE.1) + write(BALANCE.0, BALANCE.1))
        + HAS;
    // SetPubKey, SigGasConsume (plus the verification price), SigVerification.
    let signatures = 3 * account_read + SECP256K1_VERIFY;
    // IncrementSequence.
    let sequence = account_read + write(ACCOUNT.0, ACCOUNT.1);
    params + deduct_fee + signatures + sequence
}

// --- Transaction sizes (protobuf) ---

fn varint_len(mut n: u64) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

/// A length-delimited field (field numbers below 16: one key byte).
fn field(len: usize) -> usize {
    1 + varint_len(len as u64) + len
}

fn any(type_url: &str, value: usize) -> usize {
    field(type_url.len()) + field(value)
}

/// A signed `TxRaw` carrying one message (`Any`) of `message` bytes: one secp256k1 signer,
/// sign mode direct, a small sequence, one fee coin (`5000uwasm`) and a gas limit of
/// `gas_limit`.
fn tx_bytes(message: usize, gas_limit: u64) -> usize {
    let body = field(message);
    let public_key = any("/cosmos.crypto.secp256k1.PubKey", field(33));
    let mode_info = field(field(2));
    let signer_info = field(public_key) + field(mode_info) + 2;
    let coin = field(5) + field(4);
    let fee = field(coin) + 1 + varint_len(gas_limit);
    let auth_info = field(signer_info) + field(fee);
    field(body) + field(auth_info) + field(64)
}

fn execute_tx_bytes(sender: &str, contract: &str, msg: &[u8]) -> usize {
    let message = field(sender.len()) + field(contract.len()) + field(msg.len());
    tx_bytes(
        any("/cosmwasm.wasm.v1.MsgExecuteContract", message),
        200_000,
    )
}

fn store_tx_bytes(sender: &str, wasm: usize) -> usize {
    let message = field(sender.len()) + field(wasm);
    tx_bytes(any("/cosmwasm.wasm.v1.MsgStoreCode", message), 5_000_000)
}

// --- Contract calls ---

/// wasmd's `EventCosts` for a response's attributes and custom events.
fn event_costs(response: &Response) -> u64 {
    let mut free = ATTRIBUTE_FREE_BYTES;
    let mut attributes = |attrs: &[veil_engine::cosmwasm_std::Attribute]| -> u64 {
        if attrs.is_empty() {
            return 0;
        }
        let bytes: u64 = attrs
            .iter()
            .map(|a| (a.key.len() + a.value.len()) as u64)
            .sum();
        let charged = bytes.saturating_sub(free);
        free = free.saturating_sub(bytes);
        PER_ATTRIBUTE_BYTE * charged + PER_ATTRIBUTE * attrs.len() as u64
    };
    let mut gas = attributes(&response.attributes);
    for event in &response.events {
        gas += PER_CUSTOM_EVENT
            + PER_ATTRIBUTE_BYTE * event.ty.len() as u64
            + attributes(&event.attributes);
    }
    gas
}

/// The SDK KV gas of the storage accesses a contract made, with wasmd's key prefix.
fn kv_gas(ops: &[StorageOp]) -> u64 {
    let p = CONTRACT_STORE_PREFIX;
    ops.iter()
        .map(|op| match op {
            StorageOp::Get { key, value } => {
                read(p + key.len(), value.as_ref().map_or(0, Vec::len))
            }
            StorageOp::Set { key, value } => write(p + key.len(), value.len()),
            StorageOp::Remove { .. } => DELETE,
            // The SDK's gas iterator charges a step on opening and on every advance.
            StorageOp::Scan { .. } => ITER_NEXT_FLAT,
            StorageOp::Next { item, .. } => {
                ITER_NEXT_FLAT
                    + READ_PER_BYTE
                        * item
                            .as_ref()
                            .map_or(0, |(k, v)| (p + k.len() + v.len()) as u64)
            }
        })
        .sum()
}

/// What wasmd charges for one execution of the contract in `runner` (not pinned): the
/// instance cost, loading its contract and code info and the pinned flag, the VM's own
/// gas, its storage in KV gas and its events. Returns the gas and the response.
fn execute(runner: &mut VmRunner, sender: &str, msg: &Value) -> (u64, Response) {
    let (step, report) = runner.call(Entry::Execute, Some(sender), msg.to_string().as_bytes());
    let Outcome::Response(response) = step.outcome else {
        panic!("{msg} failed on cosmwasm-vm: {:?}", step.outcome);
    };
    let setup = INSTANCE_COST
        + read(CONTRACT_INFO.0, CONTRACT_INFO.1)
        + read(CODE_INFO.0, CODE_INFO.1)
        + HAS;
    let gas = setup
        + report.used_internally / GAS_MULTIPLIER
        + kv_gas(&step.ops)
        + event_costs(&response);
    (gas, response)
}

fn instantiate(runner: &mut VmRunner, sender: &str, msg: Value) {
    let (step, _) = runner.call(Entry::Instantiate, Some(sender), msg.to_string().as_bytes());
    assert!(step.outcome.is_ok(), "instantiate: {:?}", step.outcome);
}

fn options() -> BuildOptions {
    BuildOptions {
        mvp: true,
        out_dir: None,
        quiet: true,
        near: false,
    }
}

fn published(name: &str, version: &str) -> Vec<u8> {
    let path = build_published(name, version, &options())
        .unwrap_or_else(|e| panic!("{name} {version} builds: {e}"));
    std::fs::read(path).unwrap()
}

fn kitchen_sink() -> Vec<u8> {
    let dir =
        gas_comparison::repository_root(env!("CARGO_MANIFEST_DIR")).join("contracts/kitchen-sink");
    let path = build_contract(&dir, &options()).expect("kitchen-sink builds");
    std::fs::read(path).unwrap()
}

/// The rows of the table: (transaction, wasmd's SDK gas).
fn wasmd_rows() -> Vec<(String, u64)> {
    let (alice, bob) = (account("alice"), account("bob"));
    let mut rows = Vec::new();

    let cw20 = published("cw20-base", "2.0.0");
    let store = ante_fixed()
        + TX_SIZE_PER_BYTE * store_tx_bytes(&alice, cw20.len()) as u64
        + COMPILE_COST_PER_BYTE * cw20.len() as u64
        + read(WASM_PARAMS.0, WASM_PARAMS.1)
        + read(SEQUENCE.0, SEQUENCE.1)
        + write(SEQUENCE.0, SEQUENCE.1)
        + write(CODE_INFO.0, CODE_INFO.1);
    rows.push(("store cw20-base 2.0.0".to_string(), store));

    let token_addr = contract("token");
    let mut token = VmRunner::new(&cw20, &token_addr);
    instantiate(
        &mut token,
        &alice,
        json!({"name": "Veil Token", "symbol": "VEIL", "decimals": 6,
               "initial_balances": [{"address": alice, "amount": "1000000"}], "mint": null}),
    );
    let transfer = json!({"transfer": {"recipient": bob, "amount": "100"}});
    let (call, _) = execute(&mut token, &alice, &transfer);
    let tx = execute_tx_bytes(&alice, &token_addr, transfer.to_string().as_bytes());
    rows.push((
        "cw20 transfer".to_string(),
        ante_fixed() + TX_SIZE_PER_BYTE * tx as u64 + call,
    ));

    let sink_addr = contract("sink");
    let mut sink = VmRunner::new(&kitchen_sink(), &sink_addr);
    instantiate(&mut sink, &alice, json!({}));
    let send = json!({"send": {"contract": sink_addr, "amount": "100", "msg": "e30="}});
    let (call, response) = execute(&mut token, &alice, &send);
    let [sub] = response.messages.as_slice() else {
        panic!("send dispatches one message");
    };
    let CosmosMsg::Wasm(WasmMsg::Execute {
        contract_addr, msg, ..
    }) = &sub.msg
    else {
        panic!("send dispatches an execution");
    };
    assert_eq!(contract_addr, &sink_addr);
    let hook: Value = serde_json::from_slice(msg.as_slice()).unwrap();
    let (received, _) = execute(&mut sink, &token_addr, &hook);
    let tx = execute_tx_bytes(&alice, &token_addr, send.to_string().as_bytes());
    rows.push((
        "cw20 send to a receiver contract".to_string(),
        ante_fixed() + TX_SIZE_PER_BYTE * tx as u64 + call + received,
    ));

    let nft_addr = contract("nft");
    let mut nft = VmRunner::new(&published("cw721-base", "0.22.0"), &nft_addr);
    instantiate(
        &mut nft,
        &alice,
        json!({"name": "Veil NFT", "symbol": "VNFT", "minter": null, "withdraw_address": null}),
    );
    let mint =
        json!({"mint": {"token_id": "1", "owner": alice, "token_uri": null, "extension": null}});
    let (call, _) = execute(&mut nft, &alice, &mint);
    let tx = execute_tx_bytes(&alice, &nft_addr, mint.to_string().as_bytes());
    rows.push((
        "cw721-base 0.22.0 mint".to_string(),
        ante_fixed() + TX_SIZE_PER_BYTE * tx as u64 + call,
    ));
    rows
}

#[test]
fn the_documented_wasmd_column_is_what_wasmds_parameters_give() {
    let computed = wasmd_rows();
    for (name, gas) in &computed {
        println!("wasmd: {name}: {gas}");
    }
    let documented: Vec<(String, u64)> = gas_comparison::documented(env!("CARGO_MANIFEST_DIR"))
        .into_iter()
        .map(|(name, _, wasmd, _)| (name, wasmd))
        .collect();
    assert_eq!(
        documented, computed,
        "docs/gas.md's wasmd column (left) disagrees with the model (right)"
    );
}

#[test]
fn the_ante_model_adds_up() {
    // Checked by hand against the items listed in docs/gas.md.
    assert_eq!(read(ACCOUNT.0, ACCOUNT.1), 1_543);
    assert_eq!(ante_fixed(), 32_805);
    assert_eq!(varint_len(127), 1);
    assert_eq!(varint_len(128), 2);
    assert_eq!(field(200), 203);
}
