//! Simulation never runs a real transaction: the enclave simulates a contract call only
//! with a transaction signed for simulation (`veil/simulate-v1`), and runs one for real
//! only when it is signed to run (`veil/tx-v1`). So a host cannot rerun a user's pending
//! transaction as a simulation, against states it chooses, to watch its gas and errors;
//! and a simulation a user signed cannot be committed. Both enclave modes.

mod common;

use serde_json::json;
use veil_enclave_abi::{ContractRef, EntryPoint, ErrorKind, RunRequest};
use veil_host::ConfidentialHost;
use veil_types::{Msg, SignDomain};

use common::*;

/// An execute request of `msg` by `sender`, with its transaction signed for `domain`.
fn request(
    host: &ConfidentialHost,
    contract: &Contract,
    sender: &str,
    msg: &serde_json::Value,
    domain: SignDomain,
    simulate: bool,
) -> RunRequest {
    let (envelope, _) = User::fixed("u").encrypt(host, &contract.code_hash, msg);
    let tx = host.sign_for(
        &signer(sender),
        CHAIN_ID,
        Msg::Execute {
            contract: contract.address.clone(),
            msg: envelope.clone(),
            funds: 0,
        },
        domain,
    );
    let record = host.contract(&contract.address).expect("known contract");
    RunRequest {
        entry: EntryPoint::Execute,
        contract: ContractRef {
            address: contract.address.clone(),
            code_hash: record.code_hash,
            creator: record.creator,
        },
        // Where the real call will run (its gas depends on the block's height).
        block: veil_enclave_abi::BlockRef {
            height: host.next_height(),
            ..block()
        },
        sender: sender.to_string(),
        funds: Vec::new(),
        envelope,
        state_root: record.root,
        gas_limit: GAS_LIMIT,
        tx: Some(tx),
        simulate,
        encrypted_permit: None,
    }
}

#[test]
fn simulations_and_real_calls_each_need_their_own_signature() {
    for mode in modes() {
        let name = mode_name(&mode);
        let test = open_host(&mode);
        let host = &test.host;
        let code_hash = host.store_code(kitchen_sink_wasm()).unwrap();
        let user = User::fixed("u");
        let sender = account("sender");
        let (sink, _) = Contract::instantiate(host, code_hash, &user, &sender, "sink", &json!({}));
        let set = json!({"set": {"key": "k", "value": "v"}});
        let get = json!({"get": {"key": "k"}});
        let root = sink.root(host);

        // The user's real transaction, presented as a simulation: refused, nothing runs.
        let replayed = request(host, &sink, &sender, &set, SignDomain::Tx, true);
        let e = expect_enclave_error(host.run_request(replayed.clone()), ErrorKind::BadRequest);
        assert!(
            e.message
                .contains("a simulation must be signed for simulation"),
            "{name}: {}",
            e.message
        );
        assert_eq!(sink.root(host), root, "{name}");

        // A simulation signed for simulation runs, reports gas and commits nothing.
        let simulation = request(host, &sink, &sender, &set, SignDomain::Simulate, true);
        let simulated = host.run_request(simulation.clone()).unwrap();
        assert!(simulated.ok, "{name}");
        assert!(simulated.gas_used > 0, "{name}");
        assert!(simulated.state.is_none(), "{name}");
        assert_eq!(sink.root(host), root, "{name}");
        assert_eq!(sink.query(host, &user, &get), json!({"value": null}));

        // ... and can never be run for real.
        let committed = RunRequest {
            simulate: false,
            ..simulation
        };
        let e = expect_enclave_error(host.run_request(committed), ErrorKind::BadRequest);
        assert!(
            e.message.contains("signed for simulation"),
            "{name}: {}",
            e.message
        );
        assert_eq!(sink.query(host, &user, &get), json!({"value": null}));

        // The real transaction still runs once, for real, with the same gas.
        let real = RunRequest {
            simulate: false,
            ..replayed
        };
        let ran = host.run_request(real.clone()).unwrap();
        assert!(ran.ok, "{name}");
        assert_eq!(ran.gas_used, simulated.gas_used, "{name}");
        assert_eq!(sink.query(host, &user, &get), json!({"value": "v"}));
        let e = expect_enclave_error(host.run_request(real), ErrorKind::Replay);
        assert!(e.message.contains("already used"), "{name}: {}", e.message);
    }
}
