//! The enclave's records (contracts, sender sequences, codes) live in the host's store as
//! an encrypted, verified tree; only its root is sealed. So the sealed state does not grow
//! with the chain, and a host that withholds or swaps a records node stops the enclave
//! with an integrity error instead of making it forget a contract or a used sequence.

mod common;

use common::*;
use serde_json::json;
use veil_enclave_abi::{decode, ErrorKind, Hash, Ocall};
use veil_host::{ConfidentialHost, NodeStore};

fn instantiate_msg(holder: &str) -> serde_json::Value {
    json!({
        "name": "Records Token",
        "symbol": "REC",
        "decimals": 6,
        "initial_balances": [{"address": holder, "amount": "1000000"}],
    })
}

/// The size of every sealed file the host wrote, in order.
fn sealed_sizes(recording: &Recording) -> Vec<usize> {
    recording
        .lock()
        .unwrap()
        .iter()
        .filter(|(what, _)| what == "sealed_file")
        .map(|(_, bytes)| bytes.len())
        .collect()
}

/// The records nodes the enclave fetched since the recording was cleared.
fn fetched_record_nodes(recording: &Recording) -> Vec<Hash> {
    recording
        .lock()
        .unwrap()
        .iter()
        .filter(|(what, _)| what == "ocall")
        .filter_map(|(_, bytes)| match decode::<Ocall>(bytes) {
            Ok(Ocall::FetchNode { contract, id }) if contract == "veil/records" => Some(id),
            _ => None,
        })
        .collect()
}

/// A host (recording what it sees) with a cw20-base token whose whole supply `holder` has.
fn token_host(
    mode: &veil_host::EnclaveMode,
    creator: &User,
    creator_addr: &str,
    holder: &str,
) -> (TestHost, Recording, Contract) {
    let (tap, recording) = recording_tap();
    let host = open_host_with_tap(mode, Some(tap));
    let code_hash = host.store_code(cw20_wasm()).expect("store cw20");
    let (token, _) = Contract::instantiate(
        &host,
        code_hash,
        creator,
        creator_addr,
        "records-token",
        &instantiate_msg(holder),
    );
    (host, recording, token)
}

#[test]
fn the_sealed_state_stays_the_same_size_however_many_senders_and_contracts() {
    let (creator, alice) = (User::fixed("records-creator"), account("records-alice"));
    let creator_addr = account("records-creator");
    for mode in modes() {
        let name = mode_name(&mode);
        let (mut host, recording, token) = token_host(&mode, &creator, &creator_addr, &alice);
        let code_hash = token.code_hash;
        let transfer = |host: &ConfidentialHost, from: &str| {
            let msg = json!({"transfer": {"recipient": creator_addr, "amount": "1"}});
            let (envelope, _) = creator.encrypt(&host, &code_hash, &msg);
            host.sign_execute(
                &token.address,
                &signer(from),
                envelope,
                vec![],
                &block().chain_id,
                GAS_LIMIT,
            )
        };
        let ran = host
            .execute_block(vec![transfer(&host, &alice)], block())
            .unwrap();
        assert!(ran[0].ok, "{name}: alice's transfer");
        let small_chain = *sealed_sizes(&recording).last().expect("a checkpoint");

        // 60 more senders (their transfers fail: they hold nothing, but each uses its
        // sequence, so each gets a record) and 6 more contracts.
        let senders: Vec<String> = (0..60).map(|i| account(&format!("records-{i}"))).collect();
        let ran = host
            .execute_block(
                senders.iter().map(|s| transfer(&host, s)).collect(),
                block(),
            )
            .unwrap();
        assert!(ran.iter().all(|r| !r.ok), "{name}: they hold no tokens");
        for i in 0..6 {
            Contract::instantiate(
                &host,
                code_hash,
                &creator,
                &creator_addr,
                &format!("records-token-{i}"),
                &instantiate_msg(&alice),
            );
        }
        let sizes = sealed_sizes(&recording);
        assert_eq!(
            *sizes.last().unwrap(),
            small_chain,
            "{name}: the sealed state grew with the chain: {sizes:?}"
        );

        // The records are in the host's store: after a restart the enclave reads a
        // sender's record from there (tamper.rs checks a replay is still refused).
        host.restart_enclave().unwrap();
        recording.lock().unwrap().clear();
        let ran = host
            .execute_block(vec![transfer(&host, &senders[7])], block())
            .unwrap();
        assert!(!ran[0].ok, "{name}: runs, and fails in the contract");
        assert!(
            !fetched_record_nodes(&recording).is_empty(),
            "{name}: after a restart the records come from the host"
        );
    }
}

#[test]
fn a_records_node_the_host_withholds_or_swaps_stops_the_call_and_changes_nothing() {
    let (creator, creator_addr) = (User::fixed("records-creator"), account("records-creator"));
    let alice = account("records-alice");
    for mode in modes() {
        let name = mode_name(&mode);
        let (mut host, recording, token) = token_host(&mode, &creator, &creator_addr, &alice);
        let code_hash = token.code_hash;
        let balance = json!({"balance": {"address": alice}});
        // After a restart nothing is cached: the first query reads the token's record.
        host.restart_enclave().unwrap();
        recording.lock().unwrap().clear();
        assert_eq!(token.query(&host, &creator, &balance)["balance"], "1000000");
        let fetched = fetched_record_nodes(&recording);
        assert!(!fetched.is_empty(), "{name}: the record came from the host");
        let root = fetched[0];
        let blob = host
            .nodes()
            .node(&root)
            .expect("the host holds the records root");
        let burn = |host: &ConfidentialHost| {
            let (envelope, _) =
                creator.encrypt(host, &code_hash, &json!({"burn": {"amount": "1"}}));
            host.execute(
                &token.address,
                &signer(&alice),
                envelope,
                vec![],
                block(),
                GAS_LIMIT,
            )
        };
        let query = |host: &ConfidentialHost| {
            let (envelope, _) = creator.encrypt(host, &code_hash, &balance);
            host.query(&token.address, envelope, block(), GAS_LIMIT)
        };

        // Withheld, then swapped for another blob (the token's state root): neither a
        // query nor a call runs, and neither takes the contract for one that does not exist.
        let state_root = token.root(&host).expect("the token has state");
        let other = host
            .nodes()
            .node(&state_root)
            .expect("the token's state root");
        for (case, served) in [("withheld", None), ("swapped", Some(other))] {
            host.nodes().overwrite_node(root, served);
            host.restart_enclave().unwrap();
            let e = expect_enclave_error(query(&host), ErrorKind::StateIntegrity);
            assert!(e.message.contains("enclave records"), "{name}, {case}: {e}");
            let e = expect_enclave_error(burn(&host), ErrorKind::StateIntegrity);
            assert!(e.message.contains("enclave records"), "{name}, {case}: {e}");
        }

        // Served again as it was: everything is as before, and the burn runs once.
        host.nodes().overwrite_node(root, Some(blob));
        host.restart_enclave().unwrap();
        assert_eq!(token.query(&host, &creator, &balance)["balance"], "1000000");
        let burned = burn(&host).expect("the burn crosses");
        assert!(burned.ok, "{name}: the burn runs");
        assert_eq!(token.query(&host, &creator, &balance)["balance"], "999999");
    }
}
