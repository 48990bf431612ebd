//! On `veil dev` (a real process): `POST /simulate` runs only transactions signed for
//! simulation (`veil/simulate-v1`) and refuses one signed to run, which runs only once, in
//! a block; `POST /txs` refuses one signed for simulation. Gas estimation (`--gas auto`)
//! signs its probe for simulation and still works.

mod common;

use std::time::Duration;

use common::*;
use veil_client::dev_key;
use veil_client::rpc::{Client, ClientError};
use veil_client::tx::{Gas, TxOptions, Wallet};
use veil_types::{Msg, TxBody};

#[test]
fn simulation_and_submission_each_take_their_own_signature() {
    let dir = tempfile::tempdir().unwrap();
    let node = DevNode::start(&dir.path().join("home"), "200ms");
    let client = Client::new(&node.url());
    let (alice, bob) = (dev_key("alice"), dev_key("bob"));
    let body = TxBody {
        chain_id: "veil-dev".into(),
        sequence: client.account(alice.address()).unwrap().sequence,
        gas_limit: 100_000,
        fee: 100,
        memo: String::new(),
        msg: Msg::Send {
            to: bob.address().to_string(),
            amount: 5,
        },
    };

    // A transaction signed to run is never simulated.
    match client.simulate(&alice.sign(body.clone())) {
        Err(ClientError::Api {
            status: 400,
            kind,
            message,
        }) => {
            assert_eq!(kind, "signed_to_run", "{message}");
            assert!(message.contains("veil/simulate-v1"), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // One signed for simulation is, and never goes into a block.
    let simulation = alice.sign_simulation(body.clone());
    let receipt = client.simulate(&simulation).unwrap();
    assert!(receipt.ok, "{receipt:?}");
    assert!(receipt.gas_used > 0);
    match client.submit(&simulation) {
        Err(ClientError::Api { kind, message, .. }) => {
            assert_eq!(kind, "signed_for_simulation", "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    // Gas estimation signs its probe for simulation, then the real transaction.
    let wallet = Wallet::connect(&client, &alice).unwrap();
    let options = TxOptions {
        gas: Gas::Auto { multiplier: 1.3 },
        timeout: Duration::from_secs(30),
        ..Default::default()
    };
    let outcome = wallet
        .broadcast(
            Msg::Send {
                to: bob.address().to_string(),
                amount: 5,
            },
            &options,
            |_| {},
        )
        .unwrap();
    let receipt = outcome.committed.receipt;
    assert!(receipt.ok);
    assert!(receipt.gas_limit >= receipt.gas_used && receipt.gas_limit < 100_000);
}
