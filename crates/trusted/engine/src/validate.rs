//! Static checks run once, when code is stored, before compilation.
//!
//! Reference: cosmwasm-vm's `check_wasm` and `WasmLimits`. wasmi then validates every
//! function body fully when it compiles the module.

use std::collections::BTreeSet;

use wasmparser::{ExternalKind, Operator, Parser, Payload, TypeRef};

use crate::VmError;

/// Limits on the shape of a contract module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasmLimits {
    /// Largest Wasm binary accepted, in bytes.
    pub max_code_bytes: usize,
    /// Largest initial memory, in 64 KiB pages.
    pub initial_memory_pages: u64,
    /// Largest table (entries); tables must declare a maximum.
    pub table_elements: u64,
    pub max_imports: usize,
    pub max_functions: usize,
    pub max_function_params: usize,
    pub max_total_function_params: usize,
    pub max_function_results: usize,
    pub max_function_locals: usize,
    pub max_total_function_locals: usize,
}

impl Default for WasmLimits {
    fn default() -> Self {
        // cosmwasm-vm 3's defaults.
        Self {
            max_code_bytes: 3 * 1024 * 1024,
            initial_memory_pages: 512,
            table_elements: 2500,
            max_imports: 100,
            max_functions: 20_000,
            max_function_params: 100,
            max_total_function_params: 10_000,
            max_function_results: 1,
            max_function_locals: 100_000,
            max_total_function_locals: 1_000_000,
        }
    }
}

/// Every import a contract may use (module `env`), with its signature.
pub const SUPPORTED_IMPORTS: &[(&str, &[ValType], &[ValType])] = {
    use ValType::{I32, I64};
    &[
        ("db_read", &[I32], &[I32]),
        ("db_write", &[I32, I32], &[]),
        ("db_remove", &[I32], &[]),
        ("db_scan", &[I32, I32, I32], &[I32]),
        ("db_next", &[I32], &[I32]),
        ("db_next_key", &[I32], &[I32]),
        ("db_next_value", &[I32], &[I32]),
        ("addr_validate", &[I32], &[I32]),
        ("addr_canonicalize", &[I32, I32], &[I32]),
        ("addr_humanize", &[I32, I32], &[I32]),
        ("secp256k1_verify", &[I32, I32, I32], &[I32]),
        ("secp256k1_recover_pubkey", &[I32, I32, I32], &[I64]),
        ("secp256r1_verify", &[I32, I32, I32], &[I32]),
        ("secp256r1_recover_pubkey", &[I32, I32, I32], &[I64]),
        ("ed25519_verify", &[I32, I32, I32], &[I32]),
        ("ed25519_batch_verify", &[I32, I32, I32], &[I32]),
        ("bls12_381_aggregate_g1", &[I32, I32], &[I32]),
        ("bls12_381_aggregate_g2", &[I32, I32], &[I32]),
        ("bls12_381_pairing_equality", &[I32, I32, I32, I32], &[I32]),
        ("bls12_381_hash_to_g1", &[I32, I32, I32, I32], &[I32]),
        ("bls12_381_hash_to_g2", &[I32, I32, I32, I32], &[I32]),
        ("debug", &[I32], &[]),
        ("abort", &[I32], &[]),
        ("query_chain", &[I32], &[I32]),
    ]
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValType {
    I32,
    I64,
}

const REQUIRED_EXPORTS: &[&str] = &["allocate", "deallocate"];
const INTERFACE_VERSION_PREFIX: &str = "interface_version_";
const SUPPORTED_INTERFACE_VERSION: &str = "interface_version_8";
const CAPABILITY_PREFIX: &str = "requires_";

/// What the checks learned about a module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleInfo {
    pub exports: BTreeSet<String>,
    pub required_capabilities: BTreeSet<String>,
}

fn invalid(msg: impl Into<String>) -> VmError {
    VmError::StaticValidation(msg.into())
}

/// Checks `wasm` against the limits, the supported imports and the capabilities available.
pub fn check_wasm(
    wasm: &[u8],
    limits: &WasmLimits,
    capabilities: &BTreeSet<String>,
) -> Result<ModuleInfo, VmError> {
    if wasm.len() > limits.max_code_bytes {
        return Err(invalid(format!(
            "Wasm code is {} bytes, more than the limit of {} bytes",
            wasm.len(),
            limits.max_code_bytes
        )));
    }
    let mut func_types: Vec<(Vec<wasmparser::ValType>, Vec<wasmparser::ValType>)> = Vec::new();
    let mut exports = BTreeSet::new();
    let mut memories = 0usize;
    let mut imports = 0usize;
    let mut functions = 0usize;
    let mut total_params = 0usize;
    let mut total_locals = 0usize;
    let mut tables = 0usize;

    for payload in Parser::new(0).parse_all(wasm) {
        let payload =
            payload.map_err(|e| invalid(format!("Wasm bytecode could not be parsed: {e}")))?;
        match payload {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    let ty = ty.map_err(|e| invalid(format!("Wasm type section: {e}")))?;
                    if ty.params().len() > limits.max_function_params {
                        return Err(invalid(format!(
                            "Wasm contract contains function with more than {} parameters",
                            limits.max_function_params
                        )));
                    }
                    if ty.results().len() > limits.max_function_results {
                        return Err(invalid(format!(
                            "Wasm contract contains function with more than {} results",
                            limits.max_function_results
                        )));
                    }
                    for value in ty.params().iter().chain(ty.results()) {
                        refuse_reference_type(value, "function type")?;
                    }
                    func_types.push((ty.params().to_vec(), ty.results().to_vec()));
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader {
                    let import =
                        import.map_err(|e| invalid(format!("Wasm import section: {e}")))?;
                    imports += 1;
                    if imports > limits.max_imports {
                        return Err(invalid(format!(
                            "Import count exceeds limit of {}",
                            limits.max_imports
                        )));
                    }
                    check_import(&import, &func_types)?;
                }
            }
            Payload::FunctionSection(reader) => {
                for type_index in reader {
                    let type_index =
                        type_index.map_err(|e| invalid(format!("Wasm function section: {e}")))?;
                    let (params, _) = func_types.get(type_index as usize).ok_or_else(|| {
                        invalid("Wasm bytecode error: function uses unknown type index")
                    })?;
                    total_params += params.len();
                    functions += 1;
                }
                if functions > limits.max_functions {
                    return Err(invalid(format!(
                        "Wasm contract contains more than {} functions",
                        limits.max_functions
                    )));
                }
                if total_params > limits.max_total_function_params {
                    return Err(invalid(format!(
                        "Wasm contract contains more than {} function parameters in total",
                        limits.max_total_function_params
                    )));
                }
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    let table = table.map_err(|e| invalid(format!("Wasm table section: {e}")))?;
                    refuse_non_function_reference(table.ty.element_type.heap_type(), "table")?;
                    tables += 1;
                    if tables > 1 {
                        return Err(invalid("Wasm contract must not have more than 1 table"));
                    }
                    match table.ty.maximum {
                        None => {
                            return Err(invalid("Wasm contract must not have an unbounded table"))
                        }
                        Some(max) if max > limits.table_elements => {
                            return Err(invalid(format!(
                            "Wasm contract's table maximum {max} exceeds the limit of {} entries",
                            limits.table_elements
                        )))
                        }
                        Some(_) => {}
                    }
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    let memory =
                        memory.map_err(|e| invalid(format!("Wasm memory section: {e}")))?;
                    memories += 1;
                    if memory.memory64 || memory.shared {
                        return Err(invalid(
                            "Wasm contract memory must be a plain 32-bit, unshared memory",
                        ));
                    }
                    if memory.initial > limits.initial_memory_pages {
                        return Err(invalid(format!(
                            "Wasm contract memory's initial size of {} pages exceeds the limit of {} pages ({} MiB)",
                            memory.initial,
                            limits.initial_memory_pages,
                            limits.initial_memory_pages / 16
                        )));
                    }
                    if memory.maximum.is_some() {
                        return Err(invalid(
                            "Wasm contract memory's maximum must be unset; the host sets it",
                        ));
                    }
                }
            }
            Payload::GlobalSection(reader) => {
                for global in reader {
                    let global =
                        global.map_err(|e| invalid(format!("Wasm global section: {e}")))?;
                    refuse_reference_type(&global.ty.content_type, "global")?;
                }
            }
            Payload::StartSection { .. } => {
                return Err(invalid("Wasm contract must not have a start function"));
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export =
                        export.map_err(|e| invalid(format!("Wasm export section: {e}")))?;
                    if export.kind == ExternalKind::Func {
                        exports.insert(export.name.to_string());
                    }
                }
            }
            Payload::ElementSection(reader) => {
                for element in reader {
                    let element =
                        element.map_err(|e| invalid(format!("Wasm element section: {e}")))?;
                    if let wasmparser::ElementItems::Expressions(ty, _) = element.items {
                        refuse_non_function_reference(ty.heap_type(), "element segment")?;
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let mut locals = 0usize;
                for local in body
                    .get_locals_reader()
                    .map_err(|e| invalid(format!("Wasm code section: {e}")))?
                {
                    let (count, value) =
                        local.map_err(|e| invalid(format!("Wasm code section: {e}")))?;
                    refuse_reference_type(&value, "local")?;
                    locals = locals.saturating_add(count as usize);
                }
                if locals > limits.max_function_locals {
                    return Err(invalid(format!(
                        "Wasm contract contains function with more than {} locals",
                        limits.max_function_locals
                    )));
                }
                total_locals = total_locals.saturating_add(locals);
                if total_locals > limits.max_total_function_locals {
                    return Err(invalid(format!(
                        "Wasm contract contains more than {} locals in total",
                        limits.max_total_function_locals
                    )));
                }
                check_operators(&body)?;
            }
            _ => {}
        }
    }

    if memories != 1 {
        return Err(invalid(format!(
            "Wasm contract must contain exactly one memory (found {memories})"
        )));
    }
    check_exports(&exports)?;
    let required_capabilities: BTreeSet<String> = exports
        .iter()
        .filter_map(|e| e.strip_prefix(CAPABILITY_PREFIX))
        .map(str::to_string)
        .collect();
    let missing: Vec<&str> = required_capabilities
        .iter()
        .filter(|c| !capabilities.contains(*c))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(invalid(format!(
            "Wasm contract requires unavailable capabilities: {} (Veil supports: {})",
            missing.join(", "),
            capabilities.iter().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(ModuleInfo {
        exports,
        required_capabilities,
    })
}

/// Of the reference types, cosmwasm-vm 3's validator (wasmparser with reference types on,
/// GC off) takes only function references: the extern heap type, wherever it appears, is
/// "a type which requires gc" there. Veil refuses exactly that, so it accepts the code a
/// wasmd chain does (`fuzz/differential` checks this).
fn refuse_reference_type(value: &wasmparser::ValType, place: &str) -> Result<(), VmError> {
    match value {
        wasmparser::ValType::Ref(reference) => {
            refuse_non_function_reference(reference.heap_type(), place)
        }
        _ => Ok(()),
    }
}

fn refuse_non_function_reference(heap: wasmparser::HeapType, place: &str) -> Result<(), VmError> {
    let func = wasmparser::HeapType::Abstract {
        shared: false,
        ty: wasmparser::AbstractHeapType::Func,
    };
    if heap == func {
        return Ok(());
    }
    let name = match heap {
        wasmparser::HeapType::Abstract { ty, .. } => format!("{ty:?}").to_lowercase(),
        wasmparser::HeapType::Concrete(_) => "typed function".to_string(),
    };
    Err(invalid(format!(
        "Wasm contract uses a non-function reference ({name}ref) in a {place}: CosmWasm contracts use function references only"
    )))
}

fn check_import(
    import: &wasmparser::Import<'_>,
    func_types: &[(Vec<wasmparser::ValType>, Vec<wasmparser::ValType>)],
) -> Result<(), VmError> {
    let full_name = format!("{}.{}", import.module, import.name);
    let TypeRef::Func(type_index) = import.ty else {
        return Err(invalid(format!(
            "Wasm contract requires non-function import \"{full_name}\"; only functions are provided"
        )));
    };
    let supported = (import.module == "env")
        .then(|| {
            SUPPORTED_IMPORTS
                .iter()
                .find(|(name, _, _)| *name == import.name)
        })
        .flatten();
    let Some((_, params, results)) = supported else {
        return Err(invalid(format!(
            "Wasm contract requires unsupported import \"{full_name}\"; available imports: {}",
            SUPPORTED_IMPORTS
                .iter()
                .map(|(n, _, _)| format!("env.{n}"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    let (got_params, got_results) = func_types.get(type_index as usize).ok_or_else(|| {
        invalid(format!(
            "Wasm import \"{full_name}\" uses unknown type index"
        ))
    })?;
    let expected = |types: &[ValType]| -> Vec<wasmparser::ValType> {
        types
            .iter()
            .map(|t| match t {
                ValType::I32 => wasmparser::ValType::I32,
                ValType::I64 => wasmparser::ValType::I64,
            })
            .collect()
    };
    if *got_params != expected(params) || *got_results != expected(results) {
        return Err(invalid(format!(
            "Wasm import \"{full_name}\" has signature {got_params:?} -> {got_results:?}, expected {params:?} -> {results:?}"
        )));
    }
    Ok(())
}

fn check_exports(exports: &BTreeSet<String>) -> Result<(), VmError> {
    for required in REQUIRED_EXPORTS {
        if !exports.contains(*required) {
            return Err(invalid(format!(
                "Wasm contract doesn't have required export \"{required}\" (is it a CosmWasm contract?)"
            )));
        }
    }
    let versions: Vec<&String> = exports
        .iter()
        .filter(|e| e.starts_with(INTERFACE_VERSION_PREFIX))
        .collect();
    match versions.as_slice() {
        [] => Err(invalid(
            "Wasm contract missing a required marker export: interface_version_* (is it a CosmWasm contract?)",
        )),
        [v] if v.as_str() == SUPPORTED_INTERFACE_VERSION => Ok(()),
        [v] => Err(invalid(format!(
            "Wasm contract has unsupported marker export {v}; Veil supports {SUPPORTED_INTERFACE_VERSION} (cosmwasm-std 1.x to 3.x)"
        ))),
        _ => Err(invalid("Wasm contract contains more than one marker export: interface_version_*")),
    }
}

/// Tables stay as the module declared them: Rust never mutates its function table, and a
/// fixed table keeps `call_indirect` targets static.
fn check_operators(body: &wasmparser::FunctionBody<'_>) -> Result<(), VmError> {
    let mut reader = body
        .get_operators_reader()
        .map_err(|e| invalid(format!("Wasm code section: {e}")))?;
    while !reader.eof() {
        let op = reader
            .read()
            .map_err(|e| invalid(format!("Wasm code section: {e}")))?;
        match &op {
            Operator::RefNull { hty } => refuse_non_function_reference(*hty, "ref.null")?,
            Operator::TypedSelect { ty } => refuse_reference_type(ty, "typed select")?,
            Operator::Block {
                blockty: wasmparser::BlockType::Type(ty),
            }
            | Operator::Loop {
                blockty: wasmparser::BlockType::Type(ty),
            }
            | Operator::If {
                blockty: wasmparser::BlockType::Type(ty),
            } => refuse_reference_type(ty, "block type")?,
            _ => {}
        }
        if matches!(
            op,
            Operator::TableSet { .. }
                | Operator::TableGrow { .. }
                | Operator::TableFill { .. }
                | Operator::TableCopy { .. }
                | Operator::TableInit { .. }
                | Operator::ElemDrop { .. }
        ) {
            return Err(invalid(format!(
                "Wasm contract uses table mutation ({op:?}), which Veil does not allow"
            )));
        }
    }
    Ok(())
}
