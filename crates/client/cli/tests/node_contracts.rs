//! Contracts that create, migrate and administer contracts, on `veil dev`, with published
//! cw-plus 2.0.0 contracts built unchanged from crates.io and the `factory` example:
//! - cw3-flex-multisig weighted by a cw4-group (which it reads raw, cross-contract): a
//!   proposal that instantiates cw20-base and one that migrates it, voted and executed;
//! - the factory's `Instantiate2` children at the address wasmd derives (computed here
//!   from wasmd's formula), a classic child, migration, admin update and clear, and the
//!   admin checks;
//! - `BankMsg::Burn` (balance and supply), staking queries answered from the validator
//!   set, and every unsupported message and query refused by name with state and balances
//!   as they were.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use veil_client::dev_key;
use veil_client::tx::{Gas, Outcome, TxOptions, Wallet, WalletError};
use veil_contract_build::{build_published, BuildOptions};
use veil_types::Msg;

fn options() -> TxOptions {
    TxOptions {
        timeout: Duration::from_secs(30),
        ..Default::default()
    }
}

/// A fixed gas limit: the transaction is not simulated first, so a failing one is
/// committed (and fails) in a block.
fn committed_anyway() -> TxOptions {
    TxOptions {
        gas: Gas::Limit(3_000_000),
        ..options()
    }
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn b64_json(value: &Value) -> String {
    b64(value.to_string().as_bytes())
}

fn published(name: &str) -> Vec<u8> {
    let path = build_published(
        name,
        "2.0.0",
        &BuildOptions {
            mvp: true,
            out_dir: None,
            quiet: true,
            near: false,
        },
    )
    .unwrap_or_else(|e| panic!("{name} 2.0.0 builds: {e}"));
    std::fs::read(path).unwrap()
}

fn store(wallet: &Wallet, wasm: Vec<u8>) -> (u64, veil_types::Hash) {
    let stored = wallet
        .broadcast(
            Msg::StoreCode {
                wasm,
                query_policy: None,
            },
            &options(),
            |_| {},
        )
        .expect("store code");
    let code_id = stored.committed.receipt.code_id.expect("code id");
    (code_id, wallet.client().code(code_id).unwrap().code_hash)
}

fn instantiate(wallet: &Wallet, code: (u64, veil_types::Hash), label: &str, msg: Value) -> String {
    let (envelope, _) = wallet.encrypt(&code.1, &msg).unwrap();
    wallet
        .broadcast(
            Msg::Instantiate {
                code_id: code.0,
                label: label.into(),
                admin: Some(wallet.key().address().to_string()),
                msg: envelope,
                funds: 0,
                query_policy: None,
            },
            &options(),
            |_| {},
        )
        .unwrap_or_else(|e| panic!("instantiate {label}: {e}"))
        .committed
        .receipt
        .contract_address
        .unwrap()
}

fn execute_with(
    wallet: &Wallet,
    contract: &str,
    msg: &Value,
    options: &TxOptions,
) -> Result<Outcome, WalletError> {
    let code_hash = wallet.contract_code_hash(contract, None).unwrap();
    let (envelope, _) = wallet.encrypt(&code_hash, msg).unwrap();
    wallet.broadcast(
        Msg::Execute {
            contract: contract.into(),
            msg: envelope,
            funds: 0,
        },
        options,
        |_| {},
    )
}

#[track_caller]
fn execute(wallet: &Wallet, contract: &str, msg: Value) -> Outcome {
    execute_with(wallet, contract, &msg, &options())
        .unwrap_or_else(|e| panic!("execute {msg}: {e}"))
}

/// A failure committed in a block: its kind and the message the sender decrypts.
#[track_caller]
fn execute_fails(wallet: &Wallet, contract: &str, msg: Value) -> (String, String) {
    match execute_with(wallet, contract, &msg, &committed_anyway()) {
        Err(WalletError::Failed {
            tx_hash,
            kind,
            contract_error,
            message,
            ..
        }) => {
            assert!(!tx_hash.is_empty(), "{msg}: the failure was committed");
            (kind, contract_error.unwrap_or(message))
        }
        other => panic!("{msg}: expected a failure, got {other:?}"),
    }
}

/// The addresses of the contracts a transaction's messages created.
fn created(outcome: &Outcome) -> Vec<String> {
    outcome
        .committed
        .receipt
        .events
        .iter()
        .filter(|e| e.kind == "contract_created")
        .map(|e| {
            e.attributes
                .iter()
                .find(|(k, _)| k == "contract_address")
                .unwrap()
                .1
                .clone()
        })
        .collect()
}

fn bech32_bytes(address: &str) -> Vec<u8> {
    bech32::decode(address).unwrap().1
}

fn bech32_veil(bytes: &[u8]) -> String {
    bech32::encode::<bech32::Bech32>(bech32::Hrp::parse("veil").unwrap(), bytes).unwrap()
}

/// wasmd's `address.Module("wasm", key)`: SHA-256(SHA-256("module") || "wasm\0" || key).
fn wasm_module_address(key: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(Sha256::digest(b"module"));
    hasher.update(b"wasm\0");
    hasher.update(key);
    bech32_veil(&hasher.finalize())
}

/// wasmd's `BuildContractAddressPredictable` (no init message): every part prefixed with
/// its length as a big-endian u64.
fn wasmd_instantiate2_address(checksum: &[u8], creator: &str, salt: &[u8]) -> String {
    let mut key = Vec::new();
    for part in [checksum, &bech32_bytes(creator), salt, &[]] {
        key.extend_from_slice(&(part.len() as u64).to_be_bytes());
        key.extend_from_slice(part);
    }
    wasm_module_address(&key)
}

/// A chain query through the factory: `Ok(answer)` or the error the contract saw.
fn chain_query(wallet: &Wallet, factory: &str, request: Value) -> Result<Value, String> {
    let answer = wallet
        .query(factory, &json!({"chain": {"request": request}}), None)
        .unwrap();
    match answer["ok"].as_str() {
        Some(ok) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(ok)
                .unwrap();
            Ok(serde_json::from_slice(&bytes).unwrap_or(Value::Null))
        }
        None => Err(answer["error"].as_str().unwrap().to_string()),
    }
}

fn supply(wallet: &Wallet, factory: &str) -> u128 {
    let answer = chain_query(
        wallet,
        factory,
        json!({"bank": {"supply": {"denom": "uveil"}}}),
    )
    .unwrap();
    answer["amount"]["amount"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn multisig_proposals_instantiate_and_migrate_a_token() {
    let home = tempfile::tempdir().unwrap();
    let node = DevNode::start(home.path(), "100ms");
    let client = node.client();
    let (alice, bob, carol) = (dev_key("alice"), dev_key("bob"), dev_key("carol"));
    let wallet = Wallet::connect(&client, &alice).unwrap();
    let bob_wallet = Wallet::connect(&client, &bob).unwrap();

    let group_code = store(&wallet, published("cw4-group"));
    let multisig_code = store(&wallet, published("cw3-flex-multisig"));
    let token_code = store(&wallet, published("cw20-base"));
    // The same code again, under a second id: what the token migrates to.
    let token_code_v2 = store(&wallet, published("cw20-base"));

    let group = instantiate(
        &wallet,
        group_code,
        "group",
        json!({
            "admin": null,
            "members": [
                {"addr": alice.address(), "weight": 2},
                {"addr": bob.address(), "weight": 1},
                {"addr": carol.address(), "weight": 1},
            ],
        }),
    );
    let multisig = instantiate(
        &wallet,
        multisig_code,
        "dao",
        json!({
            "group_addr": group,
            "threshold": {"absolute_count": {"weight": 3}},
            "max_voting_period": {"time": 3600},
            "executor": null,
            "proposal_deposit": null,
        }),
    );

    // The multisig reads the group's total weight and members (raw, cross-contract).
    let vote_of = |wallet: &Wallet, id: u64| {
        execute(
            wallet,
            &multisig,
            json!({"vote": {"proposal_id": id, "vote": "yes"}}),
        );
    };
    let token_init = json!({
        "name": "DAO Token", "symbol": "DAO", "decimals": 0, "mint": {"minter": multisig},
        "initial_balances": [{"address": carol.address(), "amount": "500"}],
    });
    execute(
        &wallet,
        &multisig,
        json!({"propose": {
            "title": "token", "description": "make a token",
            "msgs": [{"wasm": {"instantiate": {
                "admin": multisig, "code_id": token_code.0, "msg": b64_json(&token_init),
                "funds": [], "label": "dao token",
            }}}],
            "latest": null,
        }}),
    );
    let proposal = wallet
        .query(&multisig, &json!({"proposal": {"proposal_id": 1}}), None)
        .unwrap();
    // alice's weight 2 of the 3 needed: still open.
    assert_eq!(proposal["status"], "open", "{proposal}");
    vote_of(&bob_wallet, 1);
    let proposal = wallet
        .query(&multisig, &json!({"proposal": {"proposal_id": 1}}), None)
        .unwrap();
    assert_eq!(proposal["status"], "passed", "{proposal}");
    let executed = execute(&wallet, &multisig, json!({"execute": {"proposal_id": 1}}));
    let tokens = created(&executed);
    assert_eq!(tokens.len(), 1, "{:?}", executed.committed.receipt.events);
    let token = &tokens[0];

    let info = client.contract(token).unwrap();
    assert_eq!(info.code_id, token_code.0);
    assert_eq!(
        info.creator, multisig,
        "the instantiating contract is the creator"
    );
    assert_eq!(info.admin.as_deref(), Some(multisig.as_str()));
    assert_eq!(info.label, "dao token");
    let balance = wallet
        .query(
            token,
            &json!({"balance": {"address": carol.address()}}),
            None,
        )
        .unwrap();
    assert_eq!(balance, json!({"balance": "500"}));
    // The multisig is the minter of the token it created.
    let minter = wallet.query(token, &json!({"minter": {}}), None).unwrap();
    assert_eq!(minter["minter"], multisig);

    // A proposal that migrates the token to the second code id.
    execute(
        &wallet,
        &multisig,
        json!({"propose": {
            "title": "migrate", "description": "move the token to code v2",
            "msgs": [{"wasm": {"migrate": {
                "contract_addr": token, "new_code_id": token_code_v2.0, "msg": b64_json(&json!({})),
            }}}],
            "latest": null,
        }}),
    );
    vote_of(&bob_wallet, 2);
    execute(&wallet, &multisig, json!({"execute": {"proposal_id": 2}}));
    assert_eq!(client.contract(token).unwrap().code_id, token_code_v2.0);
    // Its state came along.
    let balance = wallet
        .query(
            token,
            &json!({"balance": {"address": carol.address()}}),
            None,
        )
        .unwrap();
    assert_eq!(balance, json!({"balance": "500"}));
    drop(node);
}

#[test]
fn a_factory_creates_migrates_and_administers_children() {
    let home = tempfile::tempdir().unwrap();
    let node = DevNode::start(home.path(), "100ms");
    let client = node.client();
    let alice = dev_key("alice");
    let wallet = Wallet::connect(&client, &alice).unwrap();

    let counter_code = store(&wallet, counter_wasm());
    let sink_code = store(&wallet, contract_wasm("kitchen-sink"));
    let factory_code = store(&wallet, contract_wasm("factory"));
    let factory = instantiate(&wallet, factory_code, "factory", json!({}));

    // Instantiate2: the address wasmd would give, predicted by the factory and by us.
    let salt = b"child-1";
    let expected = wasmd_instantiate2_address(&counter_code.1, &factory, salt);
    let predicted = wallet
        .query(
            &factory,
            &json!({"predict": {"code_id": counter_code.0, "salt": b64(salt)}}),
            None,
        )
        .unwrap();
    assert_eq!(predicted["address"], expected);
    let create = |salt: &[u8], label: &str, count: u64| {
        json!({"create_child": {
            "code_id": counter_code.0, "salt": b64(salt), "label": label,
            "msg": b64_json(&json!({"count": count})),
        }})
    };
    let outcome = execute(&wallet, &factory, create(salt, "child one", 7));
    assert_eq!(created(&outcome), vec![expected.clone()]);
    // The reply's data (the factory sets the child's address) replaces the factory's.
    let data = outcome.result.as_ref().unwrap()["data"].as_str().unwrap();
    let data = base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap();
    assert_eq!(String::from_utf8(data).unwrap(), expected);
    let child = client.contract(&expected).unwrap();
    assert_eq!(
        (
            child.code_id,
            child.creator.as_str(),
            child.admin.as_deref()
        ),
        (counter_code.0, factory.as_str(), Some(factory.as_str()))
    );
    let count = wallet
        .query(&expected, &json!({"get_count": {}}), None)
        .unwrap();
    assert_eq!(count["count"], 7);

    // The same salt again: the address is taken, nothing changes.
    let (kind, message) = execute_fails(&wallet, &factory, create(salt, "child again", 1));
    assert_eq!(kind, "invalid_message", "{message}");
    assert!(message.contains("exists"), "{message}");

    // A classic instantiation: wasmd's code id || instance id address.
    let outcome = execute(
        &wallet,
        &factory,
        json!({"create_classic": {
            "code_id": counter_code.0, "label": "classic",
            "msg": b64_json(&json!({"count": 1})),
        }}),
    );
    let classic = created(&outcome);
    assert_eq!(classic.len(), 1);
    // Contracts so far: the factory and child one; this is the third.
    let mut key = counter_code.0.to_be_bytes().to_vec();
    key.extend_from_slice(&3u64.to_be_bytes());
    assert_eq!(classic[0], wasm_module_address(&key));
    let children = wallet
        .query(&factory, &json!({"children": {}}), None)
        .unwrap();
    assert_eq!(
        children["children"].as_array().unwrap().len(),
        2,
        "{children}"
    );

    // Migrate child one to the kitchen sink; its admin is the factory.
    execute(
        &wallet,
        &factory,
        json!({"migrate_child": {
            "contract": expected, "code_id": sink_code.0, "msg": b64_json(&json!({})),
        }}),
    );
    let child = client.contract(&expected).unwrap();
    assert_eq!(child.code_id, sink_code.0);
    assert_eq!(child.code_hash, sink_code.1);

    // Hand child one to alice: the factory is no longer its admin.
    execute(
        &wallet,
        &factory,
        json!({"update_child_admin": {"contract": expected, "admin": alice.address()}}),
    );
    assert_eq!(
        client.contract(&expected).unwrap().admin.as_deref(),
        Some(alice.address())
    );
    let (kind, message) = execute_fails(
        &wallet,
        &factory,
        json!({"clear_child_admin": {"contract": expected}}),
    );
    assert_eq!(kind, "unauthorized", "{message}");
    assert_eq!(
        client.contract(&expected).unwrap().admin.as_deref(),
        Some(alice.address())
    );
    // alice, the new admin, migrates it back herself.
    let (envelope, _) = wallet.encrypt(&counter_code.1, &json!({})).unwrap();
    let back = wallet.broadcast(
        Msg::Migrate {
            contract: expected.clone(),
            code_id: counter_code.0,
            msg: envelope,
        },
        &committed_anyway(),
        |_| {},
    );
    // The counter has no migrate entry point: refused by the contract's code, not by
    // the admin check.
    match back {
        Err(WalletError::Failed { kind, .. }) => assert_ne!(kind, "unauthorized"),
        Ok(_) => panic!("the counter has no migrate entry point"),
        Err(other) => panic!("{other}"),
    }

    // Clear the classic child's admin: nobody may migrate it any more.
    execute(
        &wallet,
        &factory,
        json!({"clear_child_admin": {"contract": classic[0]}}),
    );
    assert_eq!(client.contract(&classic[0]).unwrap().admin, None);
    let (kind, message) = execute_fails(
        &wallet,
        &factory,
        json!({"migrate_child": {
            "contract": classic[0], "code_id": sink_code.0, "msg": b64_json(&json!({})),
        }}),
    );
    assert_eq!(kind, "unauthorized", "{message}");
    assert!(message.contains("has no admin"), "{message}");
    assert_eq!(
        client.contract(&classic[0]).unwrap().code_id,
        counter_code.0
    );
    drop(node);
}

#[test]
fn burns_staking_queries_and_unsupported_messages() {
    let home = tempfile::tempdir().unwrap();
    let node = DevNode::start(home.path(), "100ms");
    let client = node.client();
    let alice = dev_key("alice");
    let wallet = Wallet::connect(&client, &alice).unwrap();
    let factory_code = store(&wallet, contract_wasm("factory"));
    let factory = instantiate(&wallet, factory_code, "factory", json!({}));
    wallet
        .broadcast(
            Msg::Send {
                to: factory.clone(),
                amount: 10_000,
            },
            &options(),
            |_| {},
        )
        .unwrap();

    // Burn: out of the factory's balance and out of the supply.
    let supply_before = supply(&wallet, &factory);
    let outcome = execute(
        &wallet,
        &factory,
        json!({"dispatch": {"msgs": [{"bank": {"burn": {"amount": [{"denom": "uveil", "amount": "2500"}]}}}]}}),
    );
    assert!(outcome
        .committed
        .receipt
        .events
        .iter()
        .any(|e| e.kind == "burn"));
    assert_eq!(client.account(&factory).unwrap().balance, 7_500);
    // The supply is every balance; the transaction's fee is burned too.
    assert_eq!(
        supply(&wallet, &factory),
        supply_before - 2_500 - outcome.committed.receipt.fee
    );
    // More than it holds: refused, nothing burned.
    let (kind, _) = execute_fails(
        &wallet,
        &factory,
        json!({"dispatch": {"msgs": [{"bank": {"burn": {"amount": [{"denom": "uveil", "amount": "7501"}]}}}]}}),
    );
    assert_eq!(kind, "insufficient_funds");
    assert_eq!(client.account(&factory).unwrap().balance, 7_500);

    // Staking queries: the validator set, nobody delegated.
    let bonded = chain_query(&wallet, &factory, json!({"staking": {"bonded_denom": {}}}));
    assert_eq!(bonded, Ok(json!({"denom": "uveil"})));
    let validators = chain_query(
        &wallet,
        &factory,
        json!({"staking": {"all_validators": {}}}),
    )
    .unwrap();
    let validators = validators["validators"].as_array().unwrap().clone();
    assert_eq!(validators.len(), 1, "veil dev has one validator");
    let operator = validators[0]["address"].as_str().unwrap().to_string();
    assert!(operator.starts_with("veilvaloper1"), "{operator}");
    let validator = chain_query(
        &wallet,
        &factory,
        json!({"staking": {"validator": {"address": operator}}}),
    )
    .unwrap();
    assert_eq!(validator["validator"]["address"], operator.as_str());
    let delegations = chain_query(
        &wallet,
        &factory,
        json!({"staking": {"all_delegations": {"delegator": alice.address()}}}),
    );
    assert_eq!(delegations, Ok(json!({"delegations": []})));
    let delegation = chain_query(
        &wallet,
        &factory,
        json!({"staking": {"delegation": {"delegator": alice.address(), "validator": operator}}}),
    );
    assert_eq!(delegation, Ok(json!({"delegation": null})));
    // Wasm info queries, as wasmd answers them.
    let info = chain_query(
        &wallet,
        &factory,
        json!({"wasm": {"contract_info": {"contract_addr": factory}}}),
    )
    .unwrap();
    assert_eq!(info["code_id"], factory_code.0);
    assert_eq!(info["admin"], alice.address().to_string());
    let code = chain_query(
        &wallet,
        &factory,
        json!({"wasm": {"code_info": {"code_id": factory_code.0}}}),
    )
    .unwrap();
    assert_eq!(code["checksum"], hex::encode(factory_code.1));

    // Queries with no meaning here: refused by name.
    for (request, kind) in [
        (
            json!({"distribution": {"delegator_withdraw_address": {"delegator_address": alice.address()}}}),
            "distribution",
        ),
        (
            json!({"grpc": {"path": "/cosmos.bank.v1beta1.Query/Params", "data": ""}}),
            "grpc",
        ),
        (
            json!({"bank": {"denom_metadata": {"denom": "uveil"}}}),
            "bank denom metadata",
        ),
    ] {
        let error = chain_query(&wallet, &factory, request.clone()).unwrap_err();
        assert!(
            error.contains("Unsupported query type") && error.contains(kind),
            "{request}: {error}"
        );
    }

    // Messages for modules Veil does not have: refused by name, nothing changes.
    let balance = |address: &str| client.account(address).unwrap().balance;
    let coin = json!({"denom": "uveil", "amount": "100"});
    for (msg, kind) in [
        (
            json!({"staking": {"delegate": {"validator": operator, "amount": coin}}}),
            "staking delegate",
        ),
        (
            json!({"staking": {"undelegate": {"validator": operator, "amount": coin}}}),
            "staking undelegate",
        ),
        (
            json!({"staking": {"redelegate": {"src_validator": operator, "dst_validator": operator, "amount": coin}}}),
            "staking redelegate",
        ),
        (
            json!({"distribution": {"withdraw_delegator_reward": {"validator": operator}}}),
            "distribution withdraw delegator reward",
        ),
        (
            json!({"distribution": {"set_withdraw_address": {"address": alice.address()}}}),
            "distribution set withdraw address",
        ),
        (
            json!({"distribution": {"fund_community_pool": {"amount": [coin]}}}),
            "distribution fund community pool",
        ),
        (
            json!({"any": {"type_url": "/cosmos.bank.v1beta1.MsgSend", "value": ""}}),
            "any",
        ),
    ] {
        let before = balance(&factory);
        let root = client.contract(&factory).unwrap().state_root;
        // A send first, so "nothing changes" covers what came before the refused message.
        let msgs = json!([
            {"bank": {"send": {"to_address": alice.address(), "amount": [coin]}}},
            msg,
        ]);
        let (error_kind, message) =
            execute_fails(&wallet, &factory, json!({"dispatch": {"msgs": msgs}}));
        assert_eq!(error_kind, "unsupported", "{message}");
        assert!(
            message.contains(&format!("unsupported: {kind}")),
            "{kind}: {message}"
        );
        assert_eq!(balance(&factory), before, "{kind}");
        assert_eq!(
            client.contract(&factory).unwrap().state_root,
            root,
            "{kind}"
        );
    }
    drop(node);
}
