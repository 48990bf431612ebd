//! Static checks when code is stored, after nearcore's `prepare_v3` and `LimitConfig`.
//!
//! Wasm features are nearcore's (`features.rs`) at protocol versions ≥ 84, where
//! `reftypes_bulk_memory` is on: sign-extension, saturating float-to-int, bulk memory and
//! reference types; no multi-value, SIMD, threads, tail calls, memory64, multi-memory,
//! exceptions, extended-const or GC. A contract must not import memory (nearcore supplies
//! one of 64–128 MiB and discards the contract's own) nor anything but functions from
//! `env`. Unlike nearcore, which fails such code on every call, Veil also refuses at
//! store time an import it does not link or whose signature differs from nearcore's.

use std::collections::BTreeMap;

use wasmparser::{FuncType, Parser, Payload, TypeRef, Validator, WasmFeatures};

use crate::costs::Limits;
use crate::error::NearVmError;
use crate::imports::{ValType, IMPORTS};

/// What validation learned about stored code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeInfo {
    /// Exported functions, each with whether its signature is `() -> ()` (callable).
    pub methods: BTreeMap<String, bool>,
}

/// nearcore's Wasm features (see the module docs).
pub fn near_wasm_features() -> WasmFeatures {
    WasmFeatures::MUTABLE_GLOBAL
        | WasmFeatures::FLOATS
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::REFERENCE_TYPES
}

fn invalid(msg: impl Into<String>) -> NearVmError {
    NearVmError::Validation(msg.into())
}

fn signature_of(ty: &FuncType) -> Option<(Vec<ValType>, Vec<ValType>)> {
    let map = |types: &[wasmparser::ValType]| {
        types
            .iter()
            .map(|t| match t {
                wasmparser::ValType::I32 => Some(ValType::I32),
                wasmparser::ValType::I64 => Some(ValType::I64),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
    };
    Some((map(ty.params())?, map(ty.results())?))
}

pub fn check_code(wasm: &[u8], limits: &Limits) -> Result<CodeInfo, NearVmError> {
    if wasm.len() as u64 > limits.max_contract_size {
        return Err(invalid(format!(
            "code is {} bytes, more than the limit of {} bytes",
            wasm.len(),
            limits.max_contract_size
        )));
    }
    Validator::new_with_features(near_wasm_features())
        .validate_all(wasm)
        .map_err(|e| invalid(format!("not a valid NEAR Wasm module: {e}")))?;

    let parse = |e: wasmparser::BinaryReaderError| invalid(e.to_string());
    let mut types: Vec<FuncType> = Vec::new();
    let mut function_types: Vec<u32> = Vec::new();
    let mut exports: Vec<(String, u32)> = Vec::new();
    let mut total_params = 0u64;
    let mut total_locals = 0u64;
    // nearcore: at most one local per `min_contract_size_per_local` (2) bytes of code.
    let max_locals = limits.max_locals_per_contract.min(wasm.len() as u64 / 2);

    for payload in Parser::new(0).parse_all(wasm) {
        match payload.map_err(parse)? {
            Payload::TypeSection(reader) => {
                if u64::from(reader.count()) > limits.max_types_per_contract {
                    return Err(invalid(format!(
                        "more than {} types",
                        limits.max_types_per_contract
                    )));
                }
                for ty in reader.into_iter_err_on_gc_types() {
                    types.push(ty.map_err(parse)?);
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader {
                    let import = import.map_err(parse)?;
                    let name = format!("{}.{}", import.module, import.name);
                    let TypeRef::Func(type_index) = import.ty else {
                        return Err(match import.ty {
                            TypeRef::Memory(_) => invalid(format!(
                                "imports memory ({name}); NEAR contracts define their own"
                            )),
                            _ => invalid(format!("imports {name}, which is not a function")),
                        });
                    };
                    let known = (import.module == "env")
                        .then(|| IMPORTS.iter().find(|(n, _, _)| *n == import.name))
                        .flatten();
                    let Some((_, params, results)) = known else {
                        return Err(invalid(format!(
                            "imports {name}, which is not a NEAR host function"
                        )));
                    };
                    let got = types.get(type_index as usize).and_then(signature_of);
                    if got.as_ref() != Some(&(params.to_vec(), results.to_vec())) {
                        return Err(invalid(format!(
                            "imports {name} with signature {got:?}, NEAR's is {params:?} -> {results:?}"
                        )));
                    }
                    function_types.push(type_index);
                }
            }
            Payload::FunctionSection(reader) => {
                for type_index in reader {
                    let type_index = type_index.map_err(parse)?;
                    let params = types
                        .get(type_index as usize)
                        .map_or(0, |t| t.params().len() as u64);
                    if params > limits.max_params_per_function {
                        return Err(invalid(format!(
                            "a function has more than {} parameters",
                            limits.max_params_per_function
                        )));
                    }
                    total_params += params;
                    function_types.push(type_index);
                }
                if function_types.len() as u64 > limits.max_functions_number_per_contract {
                    return Err(invalid(format!(
                        "more than {} functions",
                        limits.max_functions_number_per_contract
                    )));
                }
                if total_params > limits.max_params_per_contract {
                    return Err(invalid(format!(
                        "more than {} function parameters in total",
                        limits.max_params_per_contract
                    )));
                }
            }
            Payload::TableSection(reader) => {
                if reader.count() > limits.max_tables_per_contract {
                    return Err(invalid(format!(
                        "more than {} table",
                        limits.max_tables_per_contract
                    )));
                }
                for table in reader {
                    let table = table.map_err(parse)?;
                    if table.ty.initial > limits.max_elements_per_contract_table {
                        return Err(invalid(format!(
                            "a table of {} elements, more than the limit of {}",
                            table.ty.initial, limits.max_elements_per_contract_table
                        )));
                    }
                }
            }
            Payload::ExportSection(reader) => {
                for export in reader {
                    let export = export.map_err(parse)?;
                    if export.kind == wasmparser::ExternalKind::Func {
                        exports.push((export.name.to_string(), export.index));
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let size = body.range().len() as u64;
                if size > limits.max_function_body_size {
                    return Err(invalid(format!(
                        "a function body of {size} bytes, more than the limit of {}",
                        limits.max_function_body_size
                    )));
                }
                for local in body.get_locals_reader().map_err(parse)? {
                    let (count, _) = local.map_err(parse)?;
                    total_locals = total_locals.saturating_add(u64::from(count));
                }
                if total_locals > max_locals {
                    return Err(invalid(format!("more than {max_locals} locals in total")));
                }
            }
            _ => {}
        }
    }

    let methods = exports
        .into_iter()
        .map(|(name, index)| {
            let callable = function_types
                .get(index as usize)
                .and_then(|t| types.get(*t as usize))
                .is_some_and(|t| t.params().is_empty() && t.results().is_empty());
            (name, callable)
        })
        .collect();
    Ok(CodeInfo { methods })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(wat: &str) -> Result<CodeInfo, NearVmError> {
        check_code(&wat::parse_str(wat).unwrap(), &Limits::default())
    }

    #[test]
    fn methods_are_listed_with_their_callability() {
        let info = check(
            r#"(module (memory 1)
                (func (export "ok"))
                (func (export "takes") (param i64))
                (func (export "gives") (result i32) i32.const 0))"#,
        )
        .unwrap();
        assert_eq!(info.methods.get("ok"), Some(&true));
        assert_eq!(info.methods.get("takes"), Some(&false));
        assert_eq!(info.methods.get("gives"), Some(&false));
    }

    #[test]
    fn nearcore_refusals() {
        for (wat, expect) in [
            (
                r#"(module (import "env" "memory" (memory 1)))"#,
                "imports memory",
            ),
            (
                r#"(module (import "env" "nope" (func)))"#,
                "not a NEAR host function",
            ),
            (
                r#"(module (import "env" "input" (func (param i32))))"#,
                "with signature",
            ),
            (
                r#"(module (import "other" "input" (func (param i64))))"#,
                "not a NEAR host function",
            ),
            (
                r#"(module (func (result i32 i32) i32.const 0 i32.const 1))"#,
                "not a valid NEAR Wasm module",
            ),
            (
                r#"(module (func (drop (i32x4.splat (i32.const 0)))))"#,
                "not a valid NEAR Wasm module",
            ),
            (r#"(module (table 10001 funcref))"#, "table of 10001"),
        ] {
            let err = check(wat).unwrap_err().to_string();
            assert!(err.contains(expect), "{wat}: {err}");
        }
        assert!(check_code(b"\0asm garbage", &Limits::default()).is_err());
        assert!(check_code(b"", &Limits::default()).is_err());
    }

    #[test]
    fn features_nearcore_allows() {
        check(r#"(module (func (drop (i64.extend8_s (i64.const 1)))))"#).unwrap();
        check(r#"(module (func (drop (i32.trunc_sat_f32_s (f32.const 1)))))"#).unwrap();
        check(
            r#"(module (memory 1) (func (memory.copy (i32.const 0) (i32.const 1) (i32.const 1))))"#,
        )
        .unwrap();
    }
}
