//! Veil links exactly nearcore 0.38's host functions, with nearcore's signatures. The
//! list is read from near-vm-runner's own source (its `imports.rs` only compiles with a
//! VM feature, whose wasmtime build is too heavy here).

use veil_near_reference::{package_source, parse_nearcore_imports, veil_imports};

#[test]
fn veil_links_every_nearcore_host_function_with_its_signature() {
    let dir = package_source("near-vm-runner").unwrap();
    assert!(dir.ends_with("near-vm-runner-0.38.0"), "{}", dir.display());
    let source = std::fs::read_to_string(dir.join("src/imports.rs")).unwrap();
    let mut nearcore = parse_nearcore_imports(&source).unwrap();
    let mut veil = veil_imports();
    nearcore.sort();
    veil.sort();
    // Sanity: the parser saw the whole table.
    assert!(
        nearcore.len() > 90,
        "parsed only {} functions",
        nearcore.len()
    );
    for name in [
        "read_register",
        "abort",
        "gas",
        "promise_yield_resume",
        "bls12381_p2_decompress",
    ] {
        assert!(
            nearcore.iter().any(|f| f.name == name),
            "{name} missing from the parse"
        );
    }
    let missing: Vec<_> = nearcore.iter().filter(|f| !veil.contains(f)).collect();
    let extra: Vec<_> = veil.iter().filter(|f| !nearcore.contains(f)).collect();
    assert!(
        missing.is_empty(),
        "nearcore has, Veil lacks or differs: {missing:#?}"
    );
    assert!(extra.is_empty(), "Veil has, nearcore lacks: {extra:#?}");
}
