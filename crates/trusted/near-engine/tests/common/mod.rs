//! Builds the NEAR example contracts from source (cached by veil-contract-build).

use std::path::{Path, PathBuf};

use veil_contract_build::{
    build_contract, ensure_toolchain, workspace_contract_cache, BuildOptions,
};

pub fn near_contract(name: &str) -> Vec<u8> {
    ensure_toolchain(true).expect("toolchain");
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../contracts/near")
        .join(name);
    let options = BuildOptions {
        out_dir: Some(workspace_contract_cache().join("test-artifacts/near")),
        quiet: true,
        ..BuildOptions::near()
    };
    let path = build_contract(&dir, &options).unwrap_or_else(|e| panic!("{name} builds: {e}"));
    std::fs::read(path).unwrap()
}
