//! Query policies on `veil dev` (both enclave modes), with unmodified cw20-base 2.0.0 and
//! cw721-base 0.22.0 from crates.io: who may read what is decided in the enclave from the
//! querier's signed permit; the policy lives in the chain state, changes only by the
//! admin's transaction and survives restarts; a balance never shows on the host.

mod common;

use std::io::ErrorKind as IoErrorKind;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use common::*;
use serde_json::{json, Value};
use veil_client::rpc::Client;
use veil_client::tx::{TxOptions, Wallet, WalletError};
use veil_client::{dev_key, KeyPair};
use veil_contract_build::{build_published, BuildOptions};
use veil_types::{Msg, QueryPolicy};

/// alice's cw20 balance: a number that appears nowhere else.
const CANARY: u128 = 8_310_245_977_613;
const SESSION: Duration = Duration::from_secs(600);

fn options() -> TxOptions {
    TxOptions {
        timeout: Duration::from_secs(30),
        ..Default::default()
    }
}

fn published(name: &str, version: &str) -> Vec<u8> {
    let path = build_published(
        name,
        version,
        &BuildOptions {
            mvp: true,
            out_dir: None,
            quiet: true,
            near: false,
        },
    )
    .unwrap_or_else(|e| panic!("{name} {version} builds: {e}"));
    std::fs::read(path).unwrap()
}

fn store(wallet: &Wallet, wasm: Vec<u8>, policy: Option<QueryPolicy>) -> (u64, veil_types::Hash) {
    let stored = wallet
        .broadcast(
            Msg::StoreCode {
                wasm,
                query_policy: policy,
            },
            &options(),
            |_| {},
        )
        .expect("store code");
    let code_id = stored.committed.receipt.code_id.expect("code id");
    (code_id, wallet.client().code(code_id).unwrap().code_hash)
}

fn instantiate(
    wallet: &Wallet,
    code: (u64, veil_types::Hash),
    label: &str,
    msg: Value,
    policy: Option<QueryPolicy>,
) -> String {
    let (envelope, _) = wallet.encrypt(&code.1, &msg).unwrap();
    let created = wallet
        .broadcast(
            Msg::Instantiate {
                code_id: code.0,
                label: label.into(),
                admin: Some(wallet.key().address().to_string()),
                msg: envelope,
                funds: 0,
                query_policy: policy,
            },
            &options(),
            |_| {},
        )
        .expect("instantiate");
    created.committed.receipt.contract_address.unwrap()
}

fn execute(wallet: &Wallet, contract: &str, msg: Value) {
    let code_hash = wallet.contract_code_hash(contract, None).unwrap();
    let (envelope, _) = wallet.encrypt(&code_hash, &msg).unwrap();
    wallet
        .broadcast(
            Msg::Execute {
                contract: contract.into(),
                msg: envelope,
                funds: 0,
            },
            &options(),
            |_| {},
        )
        .unwrap_or_else(|e| panic!("execute {msg}: {e}"));
}

/// A signed query by `key` (a fresh permit for `contract`).
fn signed(
    client: &Client,
    key: &KeyPair,
    contract: &str,
    msg: &Value,
) -> Result<Value, WalletError> {
    let wallet = Wallet::connect(client, key).unwrap();
    let permit = wallet
        .sign_permit(vec![contract.to_string()], SESSION)
        .unwrap();
    wallet
        .query_with_permit(contract, msg, None, Some(&permit))
        .map(|a| a.data)
}

fn anonymous(client: &Client, contract: &str, msg: &Value) -> Result<Value, WalletError> {
    let key = KeyPair::from_mnemonic(&veil_client::Mnemonic::generate()).unwrap();
    Wallet::connect(client, &key)
        .unwrap()
        .query(contract, msg, None)
}

#[track_caller]
fn refused(result: Result<Value, WalletError>) {
    match result {
        Err(WalletError::Failed { kind, message, .. }) => {
            assert_eq!(kind, "unauthorized", "{message}");
            assert!(message.contains("unauthorized"), "{message}");
        }
        other => panic!("expected unauthorized, got {other:?}"),
    }
}

/// Everything the node sends on its WebSocket, collected until dropped.
struct WsTap {
    bytes: Arc<Mutex<Vec<u8>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl WsTap {
    fn open(port: u16) -> Self {
        let (mut socket, _) =
            tungstenite::connect(format!("ws://127.0.0.1:{port}/subscribe")).unwrap();
        if let tungstenite::stream::MaybeTlsStream::Plain(stream) = socket.get_mut() {
            stream
                .set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
        }
        let bytes = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (sink, done) = (bytes.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !done.load(Ordering::Relaxed) {
                match socket.read() {
                    Ok(message) => sink.lock().unwrap().extend(message.into_data()),
                    Err(tungstenite::Error::Io(e))
                        if matches!(e.kind(), IoErrorKind::WouldBlock | IoErrorKind::TimedOut) => {}
                    Err(_) => break,
                }
            }
        });
        Self {
            bytes,
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        std::mem::take(&mut self.bytes.lock().unwrap())
    }
}

/// The ways the canary could be written down in plaintext.
fn canary_forms() -> Vec<(String, Vec<u8>)> {
    let decimal = CANARY.to_string();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut forms = vec![
        ("decimal".to_string(), decimal.clone().into_bytes()),
        ("u128 LE".into(), CANARY.to_le_bytes()[..6].to_vec()),
        ("u128 BE".into(), CANARY.to_be_bytes()[10..].to_vec()),
        ("hex".into(), format!("{CANARY:x}").into_bytes()),
        ("HEX".into(), format!("{CANARY:X}").into_bytes()),
    ];
    // Base64 of any text holding the decimal, at each of the three alignments (the inner
    // characters are the same whatever surrounds them).
    for pad in 0..3 {
        let text = format!("{}{decimal}", "x".repeat(pad));
        let encoded = b64.encode(&text);
        let start = (pad * 4).div_ceil(3) + 1;
        forms.push((
            format!("base64/{pad}"),
            encoded.as_bytes()[start..encoded.len() - 4].to_vec(),
        ));
    }
    forms
}

fn assert_no_canary(what: &str, bytes: &[u8]) {
    for (form, needle) in canary_forms() {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
            "the balance appears ({form}) in {what}"
        );
    }
}

fn policies_on_a_dev_chain(extra_args: &[&str]) {
    let home = tempfile::tempdir().unwrap();
    let mut node = DevNode::start_with(home.path(), "100ms", extra_args);
    let ws = WsTap::open(node.port);
    let client = node.client();
    let (alice, bob, carol) = (dev_key("alice"), dev_key("bob"), dev_key("carol"));
    let wallet = Wallet::connect(&client, &alice).unwrap();

    // cw20: the code's default policy is the cw20 preset; the instance names none.
    let cw20 = store(
        &wallet,
        published("cw20-base", "2.0.0"),
        QueryPolicy::preset("cw20"),
    );
    assert_eq!(
        client.code(cw20.0).unwrap().default_query_policy,
        QueryPolicy::preset("cw20").unwrap()
    );
    let token = instantiate(
        &wallet,
        cw20,
        "token",
        json!({
            "name": "Canary", "symbol": "CNR", "decimals": 0, "mint": null,
            "initial_balances": [
                {"address": alice.address(), "amount": (CANARY + 4_242).to_string()},
            ],
        }),
        None,
    );
    execute(
        &wallet,
        &token,
        json!({"transfer": {"recipient": bob.address(), "amount": "4242"}}),
    );
    let info = client.contract(&token).unwrap();
    assert_eq!(info.query_policy, QueryPolicy::preset("cw20").unwrap());

    let balance = |who: &KeyPair| json!({"balance": {"address": who.address()}});
    assert_eq!(
        signed(&client, &alice, &token, &balance(&alice)).unwrap(),
        json!({"balance": CANARY.to_string()})
    );
    assert_eq!(
        signed(&client, &bob, &token, &balance(&bob)).unwrap(),
        json!({"balance": "4242"})
    );
    refused(signed(&client, &bob, &token, &balance(&alice)));
    refused(anonymous(&client, &token, &balance(&alice)));
    refused(signed(
        &client,
        &alice,
        &token,
        &json!({"all_accounts": {}}),
    ));
    assert_eq!(
        anonymous(&client, &token, &json!({"token_info": {}})).unwrap()["symbol"],
        "CNR"
    );

    // A contract deployed to read others' balances gets nothing, smart or raw.
    let sink_code = store(&wallet, contract_wasm("kitchen-sink"), None);
    let sink = instantiate(&wallet, sink_code, "sink", json!({}), None);
    let b64 = |v: &[u8]| base64::engine::general_purpose::STANDARD.encode(v);
    let smart = json!({"wasm_smart": {"contract_addr": token, "msg": b64(balance(&alice).to_string().as_bytes())}});
    let out = anonymous(&client, &sink, &smart).unwrap();
    assert!(
        out["error"]
            .as_str()
            .unwrap_or_default()
            .contains("unauthorized"),
        "{out}"
    );
    let mut key = vec![0u8, 7];
    key.extend_from_slice(b"balance");
    key.extend_from_slice(alice.address().as_bytes());
    let raw = json!({"wasm": {"raw": {"contract_addr": token, "key": b64(&key)}}});
    let out = anonymous(
        &client,
        &sink,
        &json!({"raw_query": {"request": b64(raw.to_string().as_bytes())}}),
    )
    .unwrap();
    assert!(
        out["error"]
            .as_str()
            .unwrap_or_default()
            .contains("unauthorized"),
        "{out}"
    );

    // cw721: the owner of a token reads who owns it; listings and metadata are public.
    let cw721 = store(
        &wallet,
        published("cw721-base", "0.22.0"),
        QueryPolicy::preset("cw721"),
    );
    let nft = instantiate(
        &wallet,
        cw721,
        "nft",
        json!({"name": "Veiled", "symbol": "VNFT", "minter": alice.address()}),
        None,
    );
    execute(
        &wallet,
        &nft,
        json!({"mint": {"token_id": "t1", "owner": bob.address(), "token_uri": "https://example.invalid/t1"}}),
    );
    let owner_of = json!({"owner_of": {"token_id": "t1"}});
    assert_eq!(
        signed(&client, &bob, &nft, &owner_of).unwrap()["owner"],
        bob.address()
    );
    refused(signed(&client, &alice, &nft, &owner_of));
    refused(anonymous(&client, &nft, &owner_of));
    refused(signed(
        &client,
        &carol,
        &nft,
        &json!({"all_nft_info": {"token_id": "t1"}}),
    ));
    assert_eq!(
        signed(
            &client,
            &bob,
            &nft,
            &json!({"all_nft_info": {"token_id": "t1"}})
        )
        .unwrap()["access"]["owner"],
        bob.address()
    );
    let tokens = json!({"tokens": {"owner": bob.address()}});
    assert_eq!(
        signed(&client, &bob, &nft, &tokens).unwrap()["tokens"],
        json!(["t1"])
    );
    refused(signed(&client, &carol, &nft, &tokens));
    assert_eq!(
        anonymous(&client, &nft, &json!({"all_tokens": {}})).unwrap()["tokens"],
        json!(["t1"])
    );
    assert_eq!(
        anonymous(&client, &nft, &json!({"num_tokens": {}})).unwrap()["count"],
        1
    );
    assert_eq!(
        anonymous(&client, &nft, &json!({"nft_info": {"token_id": "t1"}})).unwrap()["token_uri"],
        "https://example.invalid/t1"
    );

    // Only the admin changes a policy; the change applies from the next block on.
    let bob_wallet = Wallet::connect(&client, &bob).unwrap();
    let change = |wallet: &Wallet, policy: QueryPolicy| {
        wallet.broadcast(
            Msg::SetQueryPolicy {
                contract: nft.clone(),
                query_policy: policy,
            },
            &options(),
            |_| {},
        )
    };
    match change(&bob_wallet, QueryPolicy::public()) {
        Err(WalletError::Failed { kind, .. }) => assert_eq!(kind, "unauthorized"),
        other => panic!("a non-admin changed the policy: {other:?}"),
    }
    let before = client.status().unwrap().app_hash;
    change(&wallet, QueryPolicy::public()).unwrap();
    assert_eq!(
        anonymous(&client, &nft, &owner_of).unwrap()["owner"],
        bob.address()
    );
    assert_eq!(
        client.contract(&nft).unwrap().query_policy,
        QueryPolicy::public()
    );
    assert_ne!(client.status().unwrap().app_hash, before);
    change(&wallet, QueryPolicy::preset("private").unwrap()).unwrap();
    refused(signed(&client, &bob, &nft, &owner_of));
    assert_eq!(
        signed(&client, &alice, &nft, &owner_of).unwrap()["owner"],
        bob.address()
    );

    // Policies survive a restart (they are in the enclave's sealed records).
    node.stop();
    node.spawn();
    let client = node.client();
    refused(signed(&client, &bob, &nft, &owner_of));
    refused(anonymous(&client, &token, &balance(&alice)));
    assert_eq!(
        signed(&client, &alice, &token, &balance(&alice)).unwrap(),
        json!({"balance": CANARY.to_string()})
    );

    // The canary: nowhere on the host in plaintext — files, log, RPC answers, WebSocket.
    let ws_bytes = ws.finish();
    assert!(!ws_bytes.is_empty(), "the WebSocket reported blocks");
    assert_no_canary("WebSocket events", &ws_bytes);
    let status = client.status().unwrap();
    for height in 1..=status.height {
        let block = client.block(Some(height)).unwrap();
        for hash in &block.tx_hashes {
            let tx: Value = ureq::get(&format!("{}/txs/{hash}", node.url()))
                .call()
                .unwrap()
                .into_json()
                .unwrap();
            assert_no_canary(&format!("RPC tx {hash}"), tx.to_string().as_bytes());
        }
    }
    node.stop();
    for (path, bytes) in read_files(home.path()) {
        assert_no_canary(&path, &bytes);
    }
}

fn read_files(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((path.display().to_string(), std::fs::read(&path).unwrap()));
            }
        }
    }
    out
}

#[test]
fn query_policies_on_the_dev_chain_in_process() {
    policies_on_a_dev_chain(&[]);
}

#[test]
fn query_policies_on_the_dev_chain_with_the_enclave_process() {
    build_enclave_executable();
    policies_on_a_dev_chain(&["--enclave", "process"]);
}
