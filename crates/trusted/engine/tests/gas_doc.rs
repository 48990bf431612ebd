//! docs/gas.md publishes the cost table; this keeps it equal to the code.

use veil_engine::gas::{
    GasCosts, LinearCost, ACCOUNTING_OPERATOR_FUEL, BYTES_PER_FUEL, GAS_PER_FUEL,
};

fn rows() -> Vec<String> {
    let c = GasCosts::default();
    let scalar = |name: &str, gas: u64| format!("| `{name}` | {gas} | – |");
    let linear =
        |name: &str, cost: LinearCost| format!("| `{name}` | {} | {} |", cost.base, cost.per_item);
    vec![
        format!("| gas per fuel | {GAS_PER_FUEL} |"),
        format!("| fuel per accounting operator | {ACCOUNTING_OPERATOR_FUEL} |"),
        format!("| bytes copied per fuel | {BYTES_PER_FUEL} |"),
        scalar("host_call", c.host_call),
        linear("read_region", c.read_region),
        linear("write_region", c.write_region),
        linear("storage_read", c.storage_read),
        linear("storage_write", c.storage_write),
        scalar("storage_remove", c.storage_remove),
        scalar("storage_scan", c.storage_scan),
        linear("storage_next", c.storage_next),
        scalar("addr_validate", c.addr_validate),
        scalar("addr_canonicalize", c.addr_canonicalize),
        scalar("addr_humanize", c.addr_humanize),
        scalar("secp256k1_verify", c.secp256k1_verify),
        scalar("secp256k1_recover_pubkey", c.secp256k1_recover_pubkey),
        scalar("secp256r1_verify", c.secp256r1_verify),
        scalar("secp256r1_recover_pubkey", c.secp256r1_recover_pubkey),
        scalar("ed25519_verify", c.ed25519_verify),
        linear("ed25519_batch_verify", c.ed25519_batch_verify),
        linear(
            "ed25519_batch_verify_one_pubkey",
            c.ed25519_batch_verify_one_pubkey,
        ),
        linear("bls12_381_aggregate_g1", c.bls12_381_aggregate_g1),
        linear("bls12_381_aggregate_g2", c.bls12_381_aggregate_g2),
        scalar("bls12_381_hash_to_g1", c.bls12_381_hash_to_g1),
        scalar("bls12_381_hash_to_g2", c.bls12_381_hash_to_g2),
        linear("bls12_381_pairing_equality", c.bls12_381_pairing_equality),
        scalar("query_chain", c.query_chain),
    ]
}

#[test]
fn docs_gas_md_matches_the_cost_table() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../docs/gas.md"))
        .unwrap();
    let missing: Vec<String> = rows()
        .into_iter()
        .filter(|row| !doc.contains(row.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/gas.md lacks or contradicts these rows:\n{}",
        missing.join("\n")
    );
}
