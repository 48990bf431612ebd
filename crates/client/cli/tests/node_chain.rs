//! The dev chain as a user meets it: `veil dev` as a real process, transactions over RPC,
//! receipts by hash and by (height, index), WebSocket events, bad input refused with clear
//! errors and no change, and a restart that resumes the same chain and state.

mod common;

use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use veil_client::dev_key;
use veil_client::rpc::{Client, ClientError};
use veil_client::tx::{Gas, TxOptions, Wallet, WalletError};
use veil_types::{Msg, TxBody, MAX_TX_BYTES};

use common::{build_enclave_executable, contract_wasm, counter_wasm, deploy_counter, DevNode};

fn options() -> TxOptions {
    TxOptions {
        timeout: Duration::from_secs(30),
        ..TxOptions::default()
    }
}

/// A raw POST, to send what no well-behaved client would.
fn post_raw(url: &str, path: &str, body: &[u8]) -> (u16, Value) {
    match ureq::post(&format!("{url}{path}"))
        .set("content-type", "application/json")
        .send_bytes(body)
    {
        Ok(r) => (r.status(), r.into_json().unwrap_or(Value::Null)),
        Err(ureq::Error::Status(code, r)) => (code, r.into_json().unwrap_or(Value::Null)),
        Err(e) => panic!("transport error: {e}"),
    }
}

/// Announces and sends a body larger than the node accepts, then reads the answer.
fn post_oversized(port: u16, len: usize) -> (u16, Value) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "POST /txs HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\ncontent-length: {len}\r\nconnection: close\r\n\r\n"
    )
    .unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0;
    while sent < len {
        let n = chunk.len().min(len - sent);
        if stream.write_all(&chunk[..n]).is_err() {
            break; // the node stopped reading: its answer is waiting
        }
        sent += n;
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer);
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (code, serde_json::from_str(body).unwrap_or(Value::Null))
}

fn signed(
    key: &veil_client::KeyPair,
    chain_id: &str,
    sequence: u64,
    fee: u128,
    msg: Msg,
) -> veil_types::Tx {
    key.sign(TxBody {
        chain_id: chain_id.into(),
        sequence,
        gas_limit: 200_000,
        fee,
        memo: String::new(),
        msg,
    })
}

fn expect_rejected(result: Result<veil_types::Hash, ClientError>, kind: &str, words: &str) {
    match result {
        Err(ClientError::Api {
            kind: k, message, ..
        }) => {
            assert_eq!(k, kind, "{message}");
            assert!(
                message.contains(words),
                "unclear message {message:?} (want {words:?})"
            );
        }
        other => panic!("expected a {kind} rejection, got {other:?}"),
    }
}

#[test]
fn dev_chain_runs_contracts_refuses_bad_input_and_resumes_after_restart() {
    let home = tempfile::tempdir().unwrap();
    let mut node = DevNode::start(home.path(), "100ms");
    let client = node.client();
    let alice = dev_key("alice");
    let bob = dev_key("bob");
    let wallet = Wallet::connect(&client, &alice).unwrap();
    let chain_id = wallet.chain_id().to_string();

    // WebSocket subscription, opened before the transactions it should report.
    let (mut socket, _) =
        tungstenite::connect(format!("ws://127.0.0.1:{}/subscribe", node.port)).unwrap();

    // Bank send: receipt by hash and by (height, index).
    let bob_before = client.account(bob.address()).unwrap().balance;
    let sent = wallet
        .broadcast(
            Msg::Send {
                to: bob.address().into(),
                amount: 12_345,
            },
            &options(),
            |_| {},
        )
        .unwrap();
    let receipt = &sent.committed.receipt;
    assert!(receipt.ok, "{receipt:?}");
    assert_eq!(
        client.account(bob.address()).unwrap().balance,
        bob_before + 12_345
    );
    let by_index: Value = ureq::get(&format!(
        "{}/blocks/{}/receipts/{}",
        node.url(),
        receipt.height,
        receipt.index
    ))
    .call()
    .unwrap()
    .into_json()
    .unwrap();
    assert_eq!(by_index["receipt"], serde_json::to_value(receipt).unwrap());
    let block = client.block(Some(receipt.height)).unwrap();
    assert!(block.tx_hashes.contains(&hex::encode(receipt.tx_hash)));

    // The WebSocket saw the block and the transaction.
    let mut saw_block = false;
    let mut saw_tx = false;
    while !(saw_block && saw_tx) {
        let message = socket.read().expect("websocket event");
        let event: Value = serde_json::from_str(message.to_text().unwrap()).unwrap();
        if event["type"] == "new_block" && event["header"]["height"] == receipt.height {
            saw_block = true;
        }
        if event["type"] == "tx" && event["receipt"]["tx_hash"] == hex::encode(receipt.tx_hash) {
            assert_eq!(event["receipt"]["ok"], true);
            saw_tx = true;
        }
    }

    // A contract: store, instantiate, execute, query; results decrypt for the sender.
    let stored = wallet
        .broadcast(
            Msg::StoreCode {
                wasm: counter_wasm(),
                query_policy: None,
            },
            &options(),
            |_| {},
        )
        .unwrap();
    let code_id = stored.committed.receipt.code_id.expect("code id");
    let code_info = client.code(code_id).unwrap();
    let (envelope, _) = wallet
        .encrypt(&code_info.code_hash, &json!({"count": 41}))
        .unwrap();
    let instantiated = wallet
        .broadcast(
            Msg::Instantiate {
                code_id,
                label: "counter".into(),
                admin: None,
                msg: envelope,
                funds: 0,
                query_policy: None,
            },
            &options(),
            |_| {},
        )
        .unwrap();
    let counter = instantiated
        .committed
        .receipt
        .contract_address
        .clone()
        .unwrap();
    let (envelope, _) = wallet
        .encrypt(&code_info.code_hash, &json!({"increment": {}}))
        .unwrap();
    let executed = wallet
        .broadcast(
            Msg::Execute {
                contract: counter.clone(),
                msg: envelope,
                funds: 0,
            },
            &options(),
            |_| {},
        )
        .unwrap();
    let result = executed.result.expect("a decrypted result");
    let data = veil_client::tx::decode_data(&result).unwrap();
    assert_eq!(data, json!(42));
    assert_eq!(
        wallet
            .query(
                &counter,
                &json!({"get_count": {}}),
                Some(&code_info.code_hash)
            )
            .unwrap(),
        json!({"count": 42})
    );
    // Nothing the host stores or serves shows the count in plaintext.
    let receipt_json = serde_json::to_string(&executed.committed.receipt).unwrap();
    assert!(!receipt_json.contains("increment"));
    let state_nodes = client.status().unwrap().state_nodes;
    assert!(state_nodes > 0, "the counter's state is stored");

    // Bad input: each a clear error, nothing changes, the node keeps running.
    let status = client.status().unwrap();
    let alice_account = client.account(alice.address()).unwrap();
    let seq = alice_account.sequence;
    let send = |amount| Msg::Send {
        to: bob.address().into(),
        amount,
    };

    let (code, body) = post_raw(&node.url(), "/txs", b"{not json");
    assert_eq!(
        (code, body["error"]["kind"].as_str()),
        (400, Some("malformed_json"))
    );
    let (code, body) = post_raw(&node.url(), "/txs", br#"{"tx": "@@@"}"#);
    assert_eq!(
        (code, body["error"]["kind"].as_str()),
        (400, Some("malformed"))
    );
    expect_rejected(
        client.submit_bytes(&[1, 2, 3]),
        "malformed",
        "does not decode",
    );

    let mut forged = signed(&alice, &chain_id, seq, 200, send(1));
    forged.signature[10] ^= 1;
    expect_rejected(client.submit(&forged), "bad_signature", "signature");
    let mut stolen = signed(&alice, &chain_id, seq, 200, send(1));
    stolen.body.msg = send(1_000_000);
    expect_rejected(client.submit(&stolen), "bad_signature", "signature");

    expect_rejected(
        client.submit(&signed(&alice, &chain_id, seq + 5, 200, send(1))),
        "wrong_sequence",
        &format!("expected {seq}"),
    );
    expect_rejected(
        client.submit(&signed(&alice, &chain_id, seq, 199, send(1))),
        "insufficient_fee",
        "below the minimum 200uveil",
    );
    expect_rejected(
        client.submit(&signed(&alice, "other-chain", seq, 200, send(1))),
        "wrong_chain",
        "other-chain",
    );
    let pauper = dev_key("pauper");
    expect_rejected(
        client.submit(&signed(&pauper, &chain_id, 0, 200, send(1))),
        "insufficient_funds",
        "fee",
    );
    let (envelope, _) = wallet
        .encrypt(&code_info.code_hash, &json!({"increment": {}}))
        .unwrap();
    let nowhere = veil_types::contract_address(&[9; 32], alice.address(), "nothing");
    expect_rejected(
        client.submit(&signed(
            &alice,
            &chain_id,
            seq,
            200,
            Msg::Execute {
                contract: nowhere,
                msg: envelope,
                funds: 0,
            },
        )),
        "unknown_contract",
        "no contract",
    );
    expect_rejected(
        client.submit(&signed(
            &alice,
            &chain_id,
            seq,
            200,
            Msg::StoreCode {
                wasm: b"\0asm\x01\0\0\0garbage".to_vec(),
                query_policy: None,
            },
        )),
        "invalid_code",
        "invalid contract code",
    );
    // Larger than a transaction may be, but within the body limit; then over the body limit.
    let big = signed(
        &alice,
        &chain_id,
        seq,
        200,
        Msg::StoreCode {
            wasm: vec![0; MAX_TX_BYTES],
            query_policy: None,
        },
    );
    expect_rejected(client.submit(&big), "too_large", "exceeds the limit");
    // Over the body limit: the node answers 413 without reading the rest.
    let (code, body) = post_oversized(node.port, veil_node::rpc::MAX_BODY_BYTES + 4096);
    assert_eq!(
        (code, body["error"]["kind"].as_str()),
        (413, Some("too_large")),
        "{body}"
    );
    // Queries with bad input.
    let (code, body) = post_raw(
        &node.url(),
        &format!("/contracts/{counter}/query"),
        br#"{"msg": "AAAA"}"#,
    );
    assert_eq!(
        (code, body["error"]["kind"].as_str()),
        (400, Some("envelope")),
        "{body}"
    );
    assert!(matches!(
        client.account("veil1notanaddress"),
        Err(ClientError::Api { status: 400, .. })
    ));
    assert!(matches!(
        client.block(Some(1 << 40)),
        Err(ClientError::Api { status: 404, .. })
    ));

    // Give the producer a few blocks: still nothing changed.
    std::thread::sleep(Duration::from_millis(400));
    let after = client.status().unwrap();
    assert!(
        after.height > status.height,
        "the node stopped producing blocks"
    );
    assert_eq!(
        after.app_hash, status.app_hash,
        "bad input changed the state"
    );
    assert_eq!(client.account(alice.address()).unwrap(), alice_account);
    assert_eq!(after.mempool_size, 0);

    // Restart: same chain, same blocks, same state root, same contract state.
    let before = client.status().unwrap();
    let last_block = client.block(Some(before.height)).unwrap();
    node.stop();
    assert!(node.log_text().contains("stopped cleanly"));
    node.spawn();
    let client = node.client();
    let resumed = client.status().unwrap();
    assert!(resumed.height >= before.height);
    assert_eq!(resumed.app_hash, before.app_hash);
    assert_eq!(resumed.network_key, before.network_key);
    assert_eq!(
        client.block(Some(before.height)).unwrap().hash,
        last_block.hash
    );
    assert_eq!(client.account(alice.address()).unwrap(), alice_account);
    let wallet = Wallet::connect(&client, &alice).unwrap();
    assert_eq!(
        wallet
            .query(&counter, &json!({"get_count": {}}), None)
            .unwrap(),
        json!({"count": 42})
    );
    // And it keeps working: the enclave resumed with the committed state roots.
    let (envelope, _) = wallet
        .encrypt(&code_info.code_hash, &json!({"increment": {}}))
        .unwrap();
    wallet
        .broadcast(
            Msg::Execute {
                contract: counter.clone(),
                msg: envelope,
                funds: 0,
            },
            &TxOptions {
                gas: Gas::Limit(2_000_000),
                ..options()
            },
            |_| {},
        )
        .unwrap();
    assert_eq!(
        wallet
            .query(&counter, &json!({"get_count": {}}), None)
            .unwrap(),
        json!({"count": 43})
    );
    // The increment replaced the counter's state nodes: the store kept the new ones only.
    assert_eq!(client.status().unwrap().state_nodes, state_nodes);
}

#[test]
fn a_home_with_another_chain_is_not_overwritten() {
    let home = tempfile::tempdir().unwrap();
    let mut node = DevNode::start(home.path(), "200ms");
    let first = Client::new(&node.url()).status().unwrap();
    node.stop();
    // `veil dev` again resumes; `--reset` would start over. The chain is the same.
    node.spawn();
    let again = node.client().status().unwrap();
    assert_eq!(again.network_key, first.network_key);
    let genesis = node.client().block(Some(0)).unwrap();
    node.stop();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(["node", "start", "--home"])
        .arg(home.path())
        .args([
            "--rpc-addr",
            "127.0.0.1:0",
            "--genesis",
            "/nonexistent/genesis.json",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("/nonexistent/genesis.json"));
    // Another genesis for the same home is refused, naming the chain it holds.
    let other = home.path().join("other-genesis.json");
    std::fs::write(
        &other,
        r#"{"chain_id": "veil-other", "genesis_time_nanos": 1, "accounts": []}"#,
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(["node", "start", "--home"])
        .arg(home.path())
        .args(["--rpc-addr", "127.0.0.1:0", "--genesis"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("another genesis") && stderr.contains("veil-dev"),
        "{stderr}"
    );

    node.spawn();
    assert_eq!(node.client().block(Some(0)).unwrap().hash, genesis.hash);
    // A second node on the same home while the first runs: a clear error, no damage.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(["dev", "--home"])
        .arg(home.path())
        .args(["--rpc-addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("already open"), "{stderr}");
    // Nor may --reset delete the chain from under it.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(["dev", "--reset", "--home"])
        .arg(home.path())
        .args(["--rpc-addr", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("stop it before --reset"), "{stderr}");
    assert!(node.client().status().is_ok());
    assert_eq!(node.client().block(Some(0)).unwrap().hash, genesis.hash);
    node.stop();

    // --reset starts a new chain; the keys stay.
    node.extra_args = vec!["--reset".into()];
    node.spawn();
    let reset = node.client().block(Some(0)).unwrap();
    assert_ne!(reset.hash, genesis.hash);
    assert!(home.path().join("keyring-test/alice.json").is_file());
    assert_eq!(
        node.client()
            .account(dev_key("alice").address())
            .unwrap()
            .balance,
        1_000_000_000_000
    );
}

#[test]
fn dev_chain_runs_with_the_enclave_as_a_separate_process() {
    build_enclave_executable();
    let home = tempfile::tempdir().unwrap();
    let mut node = DevNode::start_with(home.path(), "100ms", &["--enclave", "process"]);
    let client = node.client();
    let alice = dev_key("alice");
    let wallet = Wallet::connect(&client, &alice).unwrap();
    let (counter, code_hash) = deploy_counter(&wallet, "process", 7);
    let (envelope, _) = wallet
        .encrypt(&code_hash, &json!({"increment": {}}))
        .unwrap();
    wallet
        .broadcast(
            Msg::Execute {
                contract: counter.clone(),
                msg: envelope,
                funds: 0,
            },
            &options(),
            |_| {},
        )
        .unwrap();
    assert_eq!(
        wallet
            .query(&counter, &json!({"get_count": {}}), None)
            .unwrap(),
        json!({"count": 8})
    );
    // The enclave is a child process of the node.
    let children = std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", node.pid()))
        .unwrap_or_default();
    assert!(
        !children.trim().is_empty(),
        "no enclave process under the node"
    );
    // Restart in process mode: the enclave resumes from the committed checkpoint.
    node.stop();
    node.spawn();
    let client = node.client();
    let wallet = Wallet::connect(&client, &alice).unwrap();
    assert_eq!(
        wallet
            .query(&counter, &json!({"get_count": {}}), None)
            .unwrap(),
        json!({"count": 8})
    );
}

/// Stores the kitchen-sink contract and instantiates one per label (as the wallet's key).
/// Returns the code id, the code hash and the addresses.
fn kitchen_sinks(
    client: &Client,
    wallet: &Wallet,
    labels: &[&str],
) -> (u64, veil_types::Hash, Vec<String>) {
    let stored = wallet
        .broadcast(
            Msg::StoreCode {
                wasm: contract_wasm("kitchen-sink"),
                query_policy: None,
            },
            &options(),
            |_| {},
        )
        .unwrap();
    let code_id = stored.committed.receipt.code_id.expect("code id");
    let code_hash = client.code(code_id).unwrap().code_hash;
    let addresses = labels
        .iter()
        .map(|label| {
            let (envelope, _) = wallet.encrypt(&code_hash, &json!({})).unwrap();
            wallet
                .broadcast(
                    Msg::Instantiate {
                        code_id,
                        label: label.to_string(),
                        admin: None,
                        msg: envelope,
                        funds: 0,
                        query_policy: None,
                    },
                    &options(),
                    |_| {},
                )
                .unwrap()
                .committed
                .receipt
                .contract_address
                .unwrap()
        })
        .collect();
    (code_id, code_hash, addresses)
}

/// A kitchen-sink message that returns `msg` as a sub-message.
fn sub_message(id: u64, reply_on: &str, gas_limit: Option<u64>, msg: Value) -> Value {
    json!({"sub_message": {"id": id, "reply_on": reply_on, "gas_limit": gas_limit, "msg": msg}})
}

/// `WasmMsg::Execute` of `msg` on `contract` with `funds` uveil.
fn wasm_execute(contract: &str, msg: &Value, funds: u128) -> Value {
    let coins = if funds > 0 {
        json!([{"denom": "uveil", "amount": funds.to_string()}])
    } else {
        json!([])
    };
    let msg = base64::engine::general_purpose::STANDARD.encode(msg.to_string());
    json!({"wasm": {"execute": {"contract_addr": contract, "msg": msg, "funds": coins}}})
}

/// A contract's `BankMsg::Send` moves public balances with the call; a send it cannot pay
/// or a coin of another denomination reverts the whole call.
#[test]
fn a_contract_pays_out_with_bank_sends() {
    let home = tempfile::tempdir().unwrap();
    let node = DevNode::start(home.path(), "100ms");
    let client = node.client();
    let alice = dev_key("alice");
    let bob = dev_key("bob");
    let wallet = Wallet::connect(&client, &alice).unwrap();

    let (code_id, code_hash, sinks) = kitchen_sinks(&client, &wallet, &["sink"]);
    let sink = sinks[0].clone();
    let balance = |address: &str| client.account(address).unwrap().balance;
    let fee_per_million_gas = client.status().unwrap().params["fee_per_million_gas"]
        .as_u64()
        .unwrap();
    let pay = |coin: Value, reply_on: &str| {
        let send = json!({"bank": {"send": {"to_address": bob.address(), "amount": [coin]}}});
        sub_message(7, reply_on, None, send)
    };
    let uveil = |amount: u128| json!({"denom": "uveil", "amount": amount.to_string()});
    let execute = |msg: &Value, funds: u128| {
        let (envelope, _) = wallet.encrypt(&code_hash, msg).unwrap();
        wallet.broadcast(
            Msg::Execute {
                contract: sink.clone(),
                msg: envelope,
                funds,
            },
            // A fixed limit: failing calls are included and fail in the block.
            &TxOptions {
                gas: Gas::Limit(3_000_000),
                ..options()
            },
            |_| {},
        )
    };

    // Pays 700 of the 1000 sent with the call.
    let bob_before = balance(bob.address());
    let paid = execute(&pay(uveil(700), "never"), 1000).unwrap();
    assert_eq!(balance(bob.address()), bob_before + 700);
    assert_eq!(balance(&sink), 300);
    let transfer = paid
        .committed
        .receipt
        .events
        .iter()
        .find(|e| e.kind == "transfer")
        .expect("a transfer event");
    assert_eq!(
        transfer.attributes,
        vec![
            ("recipient".to_string(), bob.address().to_string()),
            ("sender".to_string(), sink.clone()),
            ("amount".to_string(), "700uveil".to_string()),
        ]
    );

    // Each refusal reverts the call: the funds sent with it go back, nothing is paid.
    let cases = [
        (
            pay(uveil(5000), "never"),
            "insufficient_funds",
            "holds 400uveil",
        ),
        (
            pay(json!({"denom": "uatom", "amount": "1"}), "never"),
            "invalid_message",
            "uatom",
        ),
        (pay(uveil(0), "never"), "invalid_message", "positive"),
        (
            sub_message(
                1,
                "never",
                None,
                json!({"wasm": {"instantiate": {
                    "admin": null, "code_id": code_id + 100, "msg": "e30=", "funds": [], "label": "x"}}}),
            ),
            "invalid_message",
            "no code with id",
        ),
    ];
    for (msg, kind, words) in cases {
        let alice_before = balance(alice.address());
        match execute(&msg, 100) {
            Err(WalletError::Failed {
                kind: got,
                contract_error,
                ..
            }) => {
                assert_eq!(got, kind, "{msg}");
                let error = contract_error.unwrap_or_default();
                assert!(error.contains(words), "{kind}: {error}");
            }
            other => panic!("{msg}: expected {kind}, got {other:?}"),
        }
        assert_eq!(balance(bob.address()), bob_before + 700, "{kind}");
        assert_eq!(balance(&sink), 300, "{kind}");
        assert_eq!(
            alice_before - balance(alice.address()),
            veil_types::required_fee(3_000_000, fee_per_million_gas),
            "{kind}: only the fee is charged"
        );
    }

    // Contract and code info are public: the node answers them for the enclave.
    let ask = |request: Value| {
        let request = base64::engine::general_purpose::STANDARD.encode(request.to_string());
        let answer = wallet
            .query(
                &sink,
                &json!({"raw_query": {"request": request}}),
                Some(&code_hash),
            )
            .unwrap();
        let ok = base64::engine::general_purpose::STANDARD
            .decode(answer["ok"].as_str().unwrap_or_else(|| panic!("{answer}")))
            .unwrap();
        serde_json::from_slice::<Value>(&ok).unwrap()
    };
    let info = ask(json!({"wasm": {"contract_info": {"contract_addr": sink}}}));
    assert_eq!(info["code_id"], code_id);
    assert_eq!(info["creator"], alice.address());
    let code = ask(json!({"wasm": {"code_info": {"code_id": code_id}}}));
    assert_eq!(code["checksum"], hex::encode(code_hash));
}

/// Contracts execute contracts: the target runs inside the enclave on its own state with
/// the caller as sender and the funds it was sent, its messages run in turn (a call back
/// to the first contract sees that contract's writes), and any failure reverts everything.
#[test]
fn contracts_execute_contracts() {
    let home = tempfile::tempdir().unwrap();
    let node = DevNode::start(home.path(), "100ms");
    let client = node.client();
    let alice = dev_key("alice");
    let wallet = Wallet::connect(&client, &alice).unwrap();
    let (_, code_hash, sinks) = kitchen_sinks(&client, &wallet, &["a", "b"]);
    let (a, b) = (sinks[0].clone(), sinks[1].clone());
    // `target` executes `msg`, sent by the contract the message is given to.
    let call = |target: &str, msg: &Value, funds: u128| {
        sub_message(1, "never", None, wasm_execute(target, msg, funds))
    };
    let execute_with = |gas: u64, contract: &str, msg: &Value, funds: u128| {
        let (envelope, _) = wallet.encrypt(&code_hash, msg).unwrap();
        wallet.broadcast(
            Msg::Execute {
                contract: contract.into(),
                msg: envelope,
                funds,
            },
            &TxOptions {
                gas: Gas::Limit(gas),
                ..options()
            },
            |_| {},
        )
    };
    let execute =
        |contract: &str, msg: &Value, funds: u128| execute_with(5_000_000, contract, msg, funds);
    let get = |contract: &str, key: &str| {
        wallet
            .query(contract, &json!({"get": {"key": key}}), Some(&code_hash))
            .unwrap()["value"]
            .clone()
    };
    let balance = |address: &str| client.account(address).unwrap().balance;

    // A (sent 1000) executes B with 100 of them; B sees A as its sender and the funds.
    let echo = call(&b, &json!({"echo_info": {}}), 100);
    let done = execute(&a, &echo, 1000).unwrap();
    assert_eq!((balance(&a), balance(&b)), (900, 100));
    let result = done.result.expect("decrypted");
    let executed = &result["executed"][0];
    assert_eq!(executed["contract"], b.as_str());
    let data = base64::engine::general_purpose::STANDARD
        .decode(executed["data"].as_str().unwrap())
        .unwrap();
    let info: Value = serde_json::from_slice(&data).unwrap();
    assert_eq!(info["sender"], a.as_str());
    assert_eq!(info["funds"], json!([{"denom": "uveil", "amount": "100"}]));
    let events = &done.committed.receipt.events;
    let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["execute", "execute", "transfer"], "{events:?}");
    assert_eq!(
        events[1].attributes[0],
        ("contract_address".into(), b.clone())
    );

    // A -> B -> A: the call back writes to A's state; B writes its own.
    let back = call(&a, &json!({"set": {"key": "back", "value": "from-b"}}), 0);
    let both = call(&b, &json!({"set": {"key": "seen", "value": "yes"}}), 0);
    execute(&a, &call(&b, &back, 0), 0).unwrap();
    execute(&a, &both, 0).unwrap();
    assert_eq!(get(&a, "back"), "from-b");
    assert_eq!(get(&b, "seen"), "yes");
    assert_eq!(get(&b, "back"), Value::Null);

    // A failure anywhere reverts everything: no state, no funds move, only the fee.
    let cases = [
        (
            call(&b, &json!({"err": {"msg": "boom"}}), 50),
            "contract",
            "boom",
        ),
        (
            call(&b, &call(&a, &json!({"err": {"msg": "deep"}}), 0), 0),
            "contract",
            "deep",
        ),
        (
            call(&b, &json!({"set": {"key": "k", "value": "v"}}), 5_000),
            "insufficient_funds",
            "holds",
        ),
        (
            call(alice.address(), &json!({}), 0),
            "invalid_message",
            "no contract",
        ),
    ];
    for (msg, kind, words) in cases {
        let before = (balance(&a), balance(&b), get(&b, "k"));
        match execute(&a, &msg, 0) {
            Err(WalletError::Failed {
                kind: got,
                contract_error,
                ..
            }) => {
                assert_eq!(got, kind, "{msg}");
                let error = contract_error.unwrap_or_default();
                assert!(error.contains(words), "{kind}: {error}");
            }
            other => panic!("{msg}: expected {kind}, got {other:?}"),
        }
        assert_eq!((balance(&a), balance(&b), get(&b, "k")), before, "{kind}");
    }
    // Calls nest up to 8 deep (enough gas given).
    let nest = |levels: usize| {
        let mut msg = json!({"set": {"key": "deep", "value": levels.to_string()}});
        for i in 0..levels {
            msg = call(if i % 2 == 0 { &a } else { &b }, &msg, 0);
        }
        execute_with(20_000_000, &b, &msg, 0)
    };
    nest(7).unwrap();
    assert_eq!(get(&a, "deep"), "7"); // the innermost call targets a
    match nest(8) {
        Err(WalletError::Failed {
            kind,
            contract_error,
            ..
        }) => {
            assert_eq!(kind, "invalid_message");
            assert!(contract_error.unwrap_or_default().contains("deeper than 8"));
        }
        other => panic!("nesting: {other:?}"),
    }
}

/// Replies: the caller's `reply` entry point learns how a sub-message went; a failure it
/// asked to hear about is undone (state, funds) and the call goes on.
#[test]
fn replies_report_outcomes_and_undo_failures() {
    let home = tempfile::tempdir().unwrap();
    let node = DevNode::start(home.path(), "100ms");
    let client = node.client();
    let alice = dev_key("alice");
    let wallet = Wallet::connect(&client, &alice).unwrap();
    let (_, code_hash, sinks) = kitchen_sinks(&client, &wallet, &["a", "b"]);
    let (a, b) = (sinks[0].clone(), sinks[1].clone());
    let sub = |id: u64, reply_on: &str, gas_limit: Option<u64>, msg: &Value, funds: u128| {
        sub_message(id, reply_on, gas_limit, wasm_execute(&b, msg, funds))
    };
    let execute = |msg: &Value, funds: u128| {
        let (envelope, _) = wallet.encrypt(&code_hash, msg).unwrap();
        wallet.broadcast(
            Msg::Execute {
                contract: a.clone(),
                msg: envelope,
                funds,
            },
            &TxOptions {
                gas: Gas::Limit(20_000_000),
                ..options()
            },
            |_| {},
        )
    };
    let last_reply = || {
        wallet
            .query(&a, &json!({"last_reply": {}}), Some(&code_hash))
            .unwrap()["reply"]
            .clone()
    };
    let root_of = |address: &str| client.contract(address).unwrap().state_root;
    let balance = |address: &str| client.account(address).unwrap().balance;

    // Success, replied to: B ran, A heard.
    let set = json!({"set": {"key": "k", "value": "v"}});
    execute(&sub(5, "success", None, &set, 0), 0).unwrap();
    let reply = last_reply();
    assert_eq!(
        (reply["id"].clone(), reply["ok"].clone()),
        (json!(5), json!(true))
    );
    assert_eq!(
        wallet
            .query(&b, &json!({"get": {"key": "k"}}), Some(&code_hash))
            .unwrap()["value"],
        "v"
    );

    // Failure, replied to: B wrote and sent nothing in the end (out of its own gas limit),
    // the 100 uveil sent with it are back with A, and A's call succeeded.
    let (b_root, b_balance) = (root_of(&b), balance(&b));
    let done = execute(
        &sub(6, "error", Some(300_000), &json!({"storage_loop": {}}), 100),
        1000,
    )
    .unwrap();
    let reply = last_reply();
    assert_eq!(
        (reply["id"].clone(), reply["ok"].clone()),
        (json!(6), json!(false))
    );
    assert!(
        reply["error"].as_str().unwrap().contains("out of gas"),
        "{reply}"
    );
    assert_eq!(root_of(&b), b_root, "B's writes were undone");
    assert_eq!(balance(&b), b_balance);
    assert_eq!(balance(&a), 1000);
    assert!(done
        .committed
        .receipt
        .events
        .iter()
        .all(|e| e.kind != "transfer"));

    // A reply only on error does not come on success; a failure not replied to fails all.
    execute(&sub(7, "error", None, &set, 0), 0).unwrap();
    assert_eq!(last_reply()["id"], 6);
    match execute(
        &sub(8, "success", None, &json!({"err": {"msg": "boom"}}), 0),
        0,
    ) {
        Err(WalletError::Failed { kind, .. }) => assert_eq!(kind, "contract"),
        other => panic!("{other:?}"),
    }
    assert_eq!(last_reply()["id"], 6);
}

/// A submitted transaction is pending or in a block, never unknown, however its status is
/// read while its block commits (the dApp's poll once saw a 404 in between).
#[test]
fn a_submitted_transaction_is_never_unknown_while_its_block_commits() {
    let home = tempfile::tempdir().unwrap();
    let node = DevNode::start(home.path(), "20ms");
    let client = node.client();
    let alice = dev_key("alice");
    let bob = dev_key("bob");
    let chain_id = client.status().unwrap().chain_id;
    let mut sequence = client.account(alice.address()).unwrap().sequence;
    for round in 0..60 {
        let tx = signed(
            &alice,
            &chain_id,
            sequence,
            200,
            Msg::Send {
                to: bob.address().into(),
                amount: 1,
            },
        );
        let hash = client.submit(&tx).unwrap();
        sequence += 1;
        let readers: Vec<_> = (0..2)
            .map(|_| {
                let client = node.client();
                std::thread::spawn(move || loop {
                    match client.tx(&hash).unwrap() {
                        Some(veil_client::rpc::TxStatus::Committed(_)) => return Ok(()),
                        Some(veil_client::rpc::TxStatus::Pending) => {}
                        None => return Err(format!("round {round}: transaction unknown")),
                    }
                })
            })
            .collect();
        for reader in readers {
            reader.join().unwrap().unwrap();
        }
    }
}
