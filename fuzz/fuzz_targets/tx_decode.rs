//! Transactions and query permits as the node and the enclave receive them: raw bytes
//! (postcard and JSON), and real signed ones that are then mutated. A mutated encoding
//! that decodes to anything other than what was signed must never verify.
#![no_main]

#[path = "../common/msg.rs"]
mod msg;
#[path = "../common/mutation.rs"]
mod mutation;

use arbitrary::Arbitrary;
use k256::ecdsa::SigningKey;
use libfuzzer_sys::fuzz_target;
use msg::MsgSpec;
use mutation::Mutation;
use veil_types::permit::{PermitBody, QueryPermit};
use veil_types::{SignDomain, Tx, TxBody, TxError};

#[derive(Debug, Arbitrary)]
enum Input {
    /// Bytes a peer or a user sends.
    Raw(Vec<u8>),
    /// The JSON form (RPC answers carry transactions as JSON).
    Json(Vec<u8>),
    RawPermit(Vec<u8>),
    /// A transaction signed with a real key, then changed.
    Signed {
        key: [u8; 32],
        body: Body,
        simulate: bool,
        mutation: Mutation,
    },
    SignedPermit {
        key: [u8; 32],
        chain_id: String,
        contracts: Vec<String>,
        expires_at_nanos: u64,
        block_time_nanos: u64,
        mutation: Mutation,
    },
}

#[derive(Debug, Arbitrary)]
struct Body {
    chain_id: String,
    sequence: u64,
    gas_limit: u64,
    fee: u128,
    memo: String,
    msg: MsgSpec,
}

/// Whatever decodes must encode and decode back to itself, in both encodings.
fn check_decoded(tx: &Tx) {
    assert_eq!(Tx::from_bytes(&tx.to_bytes()).as_ref(), Ok(tx));
    let json = serde_json::to_vec(tx).expect("a transaction serializes");
    assert_eq!(&serde_json::from_slice::<Tx>(&json).expect("own JSON"), tx);
    let _ = tx.verify();
    let _ = tx.verify_simulation();
    let _ = veil_types::gas::gas_before_enclave(tx.to_bytes().len(), &tx.body.msg);
}

fn check_permit(permit: &QueryPermit, block_time_nanos: u64) {
    assert_eq!(
        QueryPermit::from_bytes(&permit.to_bytes()).as_ref(),
        Ok(permit)
    );
    for contract in &permit.body.contracts {
        let _ = permit.verify(&permit.body.chain_id, contract, block_time_nanos);
    }
    let _ = permit.verify("", "", block_time_nanos);
}

fuzz_target!(|input: Input| match input {
    Input::Raw(bytes) => {
        if let Ok(tx) = Tx::from_bytes(&bytes) {
            check_decoded(&tx);
        }
    }
    Input::Json(bytes) => {
        if let Ok(tx) = serde_json::from_slice::<Tx>(&bytes) {
            check_decoded(&tx);
        }
    }
    Input::RawPermit(bytes) => {
        if let Ok(permit) = QueryPermit::from_bytes(&bytes) {
            check_permit(&permit, 0);
        }
    }
    Input::Signed {
        key,
        body,
        simulate,
        mutation,
    } => {
        let Ok(key) = SigningKey::from_slice(&key) else {
            return;
        };
        let body = TxBody {
            chain_id: body.chain_id,
            sequence: body.sequence,
            gas_limit: body.gas_limit,
            fee: body.fee,
            memo: body.memo,
            msg: body.msg.to_msg(),
        };
        let domain = if simulate {
            SignDomain::Simulate
        } else {
            SignDomain::Tx
        };
        let signed = body.sign_for(&key, domain);
        let signer = veil_types::account_address(&signed.public_key);
        let bytes = mutation.apply(signed.to_bytes());
        let Ok(decoded) = Tx::from_bytes(&bytes) else {
            return;
        };
        check_decoded(&decoded);
        let verified = decoded.verify_for(domain);
        if decoded == signed {
            assert_eq!(verified, Ok(signer));
            let other = if simulate {
                decoded.verify()
            } else {
                decoded.verify_simulation()
            };
            assert_eq!(
                other,
                Err(if simulate {
                    TxError::SignedForSimulation
                } else {
                    TxError::SignedToRun
                })
            );
        } else {
            assert!(
                verified.is_err(),
                "a changed transaction verified: {decoded:?} (signed {signed:?})"
            );
        }
    }
    Input::SignedPermit {
        key,
        chain_id,
        contracts,
        expires_at_nanos,
        block_time_nanos,
        mutation,
    } => {
        let Ok(key) = SigningKey::from_slice(&key) else {
            return;
        };
        let permit = PermitBody {
            chain_id,
            contracts,
            expires_at_nanos,
        }
        .sign(&key);
        let bytes = mutation.apply(permit.to_bytes());
        let Ok(decoded) = QueryPermit::from_bytes(&bytes) else {
            return;
        };
        check_permit(&decoded, block_time_nanos);
        if decoded.body != permit.body || decoded.public_key != permit.public_key {
            for contract in &decoded.body.contracts {
                assert!(
                    decoded
                        .verify(&decoded.body.chain_id, contract, block_time_nanos)
                        .is_err(),
                    "a changed permit verified"
                );
            }
        }
    }
});
