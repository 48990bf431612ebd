//! wasm-smith modules within CosmWasm's feature set, shaped like contracts: the imports
//! a contract may use, the exports a contract must have (bodies random), one memory.
//! Shared by `fuzz_targets/wasm_smith.rs` and the differential workspace.

use arbitrary::Unstructured;

/// The CosmWasm 3 imports (module `env`) with their signatures.
const IMPORTS: &[(&str, &str)] = &[
    ("db_read", "(param i32) (result i32)"),
    ("db_write", "(param i32 i32)"),
    ("db_remove", "(param i32)"),
    ("db_scan", "(param i32 i32 i32) (result i32)"),
    ("db_next", "(param i32) (result i32)"),
    ("addr_validate", "(param i32) (result i32)"),
    ("addr_canonicalize", "(param i32 i32) (result i32)"),
    ("addr_humanize", "(param i32 i32) (result i32)"),
    ("secp256k1_verify", "(param i32 i32 i32) (result i32)"),
    ("ed25519_verify", "(param i32 i32 i32) (result i32)"),
    ("debug", "(param i32)"),
    ("abort", "(param i32)"),
    ("query_chain", "(param i32) (result i32)"),
];

fn imports_module() -> Vec<u8> {
    let mut wat = String::from("(module\n");
    for (name, sig) in IMPORTS {
        wat.push_str(&format!("  (import \"env\" \"{name}\" (func {sig}))\n"));
    }
    wat.push(')');
    wat::parse_str(&wat).expect("valid WAT")
}

fn exports_module() -> Vec<u8> {
    wat::parse_str(
        r#"(module
  (func (export "allocate") (param i32) (result i32) unreachable)
  (func (export "deallocate") (param i32) unreachable)
  (func (export "interface_version_8") unreachable)
  (func (export "instantiate") (param i32 i32 i32) (result i32) unreachable)
  (func (export "query") (param i32 i32) (result i32) unreachable))"#,
    )
    .expect("valid WAT")
}

/// CosmWasm 3's Wasm features (cosmwasm-vm `ParsedWasm`): mutable globals, saturating
/// float-to-int, sign extension, multi-value, floats, reference types — nothing else.
pub fn cosmwasm_config(u: &mut Unstructured<'_>) -> arbitrary::Result<wasm_smith::Config> {
    let mut config = wasm_smith::Config {
        available_imports: Some(imports_module()),
        exports: if u.ratio(7, 8)? {
            Some(exports_module())
        } else {
            None
        },
        bulk_memory_enabled: false,
        exceptions_enabled: false,
        gc_enabled: false,
        memory64_enabled: false,
        relaxed_simd_enabled: false,
        simd_enabled: false,
        tail_call_enabled: false,
        threads_enabled: false,
        extended_const_enabled: false,
        wide_arithmetic_enabled: false,
        custom_page_sizes_enabled: false,
        shared_everything_threads_enabled: false,
        reference_types_enabled: true,
        multi_value_enabled: true,
        saturating_float_to_int_enabled: true,
        sign_extension_ops_enabled: true,
        allow_start_export: u.ratio(1, 8)?,
        min_memories: 1,
        max_memories: 1,
        max_tables: 1,
        max_memory32_bytes: 1 << 26,
        max_table_elements: 4096,
        max_imports: 13,
        max_funcs: 50,
        max_instructions: 200,
        ..wasm_smith::Config::default()
    };
    if u.ratio(1, 4)? {
        config.memory_max_size_required = true;
        config.table_max_size_required = true;
    }
    Ok(config)
}

/// A module from `u`, or `None` when the input ran out.
pub fn cosmwasm_module(u: &mut Unstructured<'_>) -> arbitrary::Result<Vec<u8>> {
    let config = cosmwasm_config(u)?;
    Ok(wasm_smith::Module::new(config, u)?.to_bytes())
}
