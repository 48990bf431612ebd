//! Genesis files as a node and an enclave read them (JSON from an operator, postcard
//! across the ABI): decoding, validation, the validator set and hashes must never panic,
//! and a decoded genesis survives both round trips with the same hash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use veil_types::genesis::Genesis;

fn check(genesis: &Genesis) {
    let bytes = genesis.to_bytes();
    let again = Genesis::from_bytes(&bytes).expect("own encoding decodes");
    assert_eq!(&again, genesis);
    assert_eq!(again.hash(), genesis.hash());
    let json = serde_json::to_vec(genesis).expect("a genesis serializes");
    let from_json: Genesis = serde_json::from_slice(&json).expect("own JSON parses");
    assert_eq!(&from_json, genesis);
    let _ = genesis.core_hash();
    if genesis.validate().is_ok() && !genesis.validators.is_empty() {
        let set = genesis.validator_set().expect("validated");
        assert!(set.total_power() > 0);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let genesis = if mode & 1 == 0 {
        serde_json::from_slice::<Genesis>(rest).ok()
    } else {
        Genesis::from_bytes(rest).ok()
    };
    if let Some(genesis) = genesis {
        check(&genesis);
    }
});
