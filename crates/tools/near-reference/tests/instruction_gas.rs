//! How Veil's Wasm-instruction gas compares with nearcore's: the status-message contract
//! instrumented by nearcore itself (`near_vm_runner::prepare::prepare_contract`,
//! finite-wasm: gas per straight-line block, per stack frame, per byte of bulk memory)
//! runs on a bare wasmi whose `internal` imports add up the gas nearcore would charge;
//! its `env` imports are minimal stand-ins (the host-function side is compared exactly
//! by tests/mocked_blockchain.rs and priced from the same tables). Same calls on Veil
//! give `NearOutcome::instruction_gas`. Prints the ratios (docs/gas.md quotes them).

use std::collections::{BTreeMap, HashMap};

use near_parameters::vm::VMKind;
use near_parameters::RuntimeConfigStore;
use near_primitives_core::version::PROTOCOL_VERSION;
use serde_json::{json, Value};
use veil_near_engine::{MemoryStorage, NearContext, NearEngine, NearEngineConfig};
use wasmi::{Caller, Engine, Extern, Linker, Module, Store, Val};

const CONTRACT: &str = "status.veil";

#[derive(Default)]
struct Host {
    gas: u64,
    regular_op_cost: u64,
    registers: HashMap<u64, Vec<u8>>,
    input: Vec<u8>,
    predecessor: Vec<u8>,
    storage: BTreeMap<Vec<u8>, Vec<u8>>,
}

fn memory(caller: &Caller<'_, Host>) -> wasmi::Memory {
    match caller.get_export("memory") {
        Some(Extern::Memory(m)) => m,
        _ => panic!("instrumented code exports its memory"),
    }
}

fn read(caller: &Caller<'_, Host>, ptr: u64, len: u64) -> Vec<u8> {
    let mem = memory(caller);
    mem.data(caller)[ptr as usize..(ptr + len) as usize].to_vec()
}

fn i64s(params: &[Val]) -> Vec<u64> {
    params
        .iter()
        .map(|v| match v {
            Val::I64(x) => *x as u64,
            Val::I32(x) => *x as u32 as u64,
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

/// The `env` functions status-message imports, enough for the methods measured.
fn env_call(
    caller: &mut Caller<'_, Host>,
    name: &str,
    a: &[u64],
) -> Result<Option<u64>, wasmi::Error> {
    let set = |caller: &mut Caller<'_, Host>, id: u64, data: Vec<u8>| {
        caller.data_mut().registers.insert(id, data);
    };
    Ok(match name {
        "input" => {
            let input = caller.data().input.clone();
            set(caller, a[0], input);
            None
        }
        "register_len" => Some(
            caller
                .data()
                .registers
                .get(&a[0])
                .map_or(u64::MAX, |r| r.len() as u64),
        ),
        "read_register" => {
            let data = caller.data().registers[&a[0]].clone();
            let mem = memory(caller);
            mem.write(&mut *caller, a[1] as usize, &data)?;
            None
        }
        "predecessor_account_id" | "signer_account_id" => {
            let p = caller.data().predecessor.clone();
            set(caller, a[0], p);
            None
        }
        "current_account_id" => {
            set(caller, a[0], CONTRACT.as_bytes().to_vec());
            None
        }
        "storage_read" => {
            let key = read(caller, a[1], a[0]);
            match caller.data().storage.get(&key).cloned() {
                Some(v) => {
                    set(caller, a[2], v);
                    Some(1)
                }
                None => Some(0),
            }
        }
        "storage_write" => {
            let key = read(caller, a[1], a[0]);
            let value = read(caller, a[3], a[2]);
            match caller.data_mut().storage.insert(key, value) {
                Some(old) => {
                    set(caller, a[4], old);
                    Some(1)
                }
                None => Some(0),
            }
        }
        "storage_remove" => {
            let key = read(caller, a[1], a[0]);
            match caller.data_mut().storage.remove(&key) {
                Some(old) => {
                    set(caller, a[2], old);
                    Some(1)
                }
                None => Some(0),
            }
        }
        "value_return" | "log_utf8" => None,
        "panic_utf8" => return Err(wasmi::Error::new("contract panicked")),
        "block_index" | "epoch_height" | "block_timestamp" | "storage_usage" => Some(0),
        "attached_deposit" => {
            let mem = memory(caller);
            mem.write(&mut *caller, a[0] as usize, &[0u8; 16])?;
            None
        }
        "random_seed" => {
            set(caller, a[0], vec![0; 32]);
            None
        }
        other => panic!("stand-in for env.{other} not written"),
    })
}

/// nearcore's instruction gas for `method(input)` on `host`'s storage.
fn nearcore_instruction_gas(instrumented: &[u8], host: &mut Host, method: &str) -> u64 {
    // nearcore's instrumentation adds its counters with wide arithmetic (`i64.add128`).
    let mut wasmi_config = wasmi::Config::default();
    wasmi_config.wasm_wide_arithmetic(true);
    let engine = Engine::new(&wasmi_config);
    let module = Module::new(&engine, instrumented).unwrap();
    let mut linker = Linker::<Host>::new(&engine);
    for import in module.imports() {
        let wasmi::ExternType::Func(ty) = import.ty() else {
            panic!("only function imports")
        };
        let (module_name, name) = (import.module().to_string(), import.name().to_string());
        let results = ty.results().len();
        linker
            .func_new(
                &module_name.clone(),
                &name.clone(),
                ty.clone(),
                move |mut caller, params, out| {
                    let a = i64s(params);
                    let value = if module_name == "internal" {
                        let h = caller.data_mut();
                        match name.as_str() {
                            "finite_wasm_gas" => {
                                h.gas += a[0];
                                None
                            }
                            "finite_wasm_stack" => {
                                h.gas += a[1].div_ceil(8) * h.regular_op_cost;
                                None
                            }
                            "finite_wasm_unstack" => None,
                            n if n.starts_with("finite_wasm_memory_")
                                || n.starts_with("finite_wasm_table_") =>
                            {
                                h.gas += a[0] * a[1] + a[2];
                                Some(a[0])
                            }
                            other => panic!("internal.{other}"),
                        }
                    } else {
                        env_call(&mut caller, &name, &a)?
                    };
                    if results == 1 {
                        out[0] = match ty_is_i32(&name) {
                            true => Val::I32(value.unwrap_or(0) as i32),
                            false => Val::I64(value.unwrap_or(0) as i64),
                        };
                    }
                    Ok(())
                },
            )
            .unwrap();
    }
    let mut store = Store::new(&engine, std::mem::take(host));
    let instance = linker.instantiate_and_start(&mut store, &module).unwrap();
    let func = instance
        // nearcore's instrumentation renames the contract's exports to `\0name`.
        .get_typed_func::<(), ()>(&store, &format!("\0{method}"))
        .unwrap_or_else(|e| {
            let exports: Vec<_> = module.exports().map(|e| e.name().to_string()).collect();
            panic!("{method}: {e}; exports {exports:?}")
        });
    // nearcore counts instruction gas down in the exported `remaining_gas` global (its
    // wasmtime runner syncs it with the gas counter around host calls).
    const BUDGET: i64 = 1 << 60;
    let Some(Extern::Global(remaining)) = instance.get_export(&store, "remaining_gas") else {
        panic!("instrumented code exports remaining_gas")
    };
    remaining.set(&mut store, Val::I64(BUDGET)).unwrap();
    func.call(&mut store, ()).unwrap();
    let Val::I64(left) = remaining.get(&store) else {
        panic!("remaining_gas is an i64")
    };
    *host = store.into_data();
    (BUDGET - left) as u64 + std::mem::take(&mut host.gas)
}

/// The internal linear-gas hooks return the count (i32); every env result is i64.
fn ty_is_i32(name: &str) -> bool {
    name.starts_with("finite_wasm_memory_") || name.starts_with("finite_wasm_table_")
}

#[test]
fn instruction_gas_compared_with_nearcore() {
    let wasm = veil_near_reference::status_message_wasm();
    let config = RuntimeConfigStore::new(None)
        .get_config(PROTOCOL_VERSION)
        .wasm_config
        .clone();
    let instrumented =
        near_vm_runner::prepare::prepare_contract(&wasm, &config, VMKind::Wasmtime).unwrap();

    let engine = NearEngine::new(NearEngineConfig::default());
    let code = engine.store_code(&wasm).unwrap();
    let mut storage = MemoryStorage::new();
    let mut host = Host {
        regular_op_cost: u64::from(config.regular_op_cost),
        ..Host::default()
    };
    let calls: &[(&str, &str, Value)] = &[
        ("alice.veil", "set_status", json!({"message": "hello"})),
        (
            "bob.veil",
            "set_status",
            json!({"message": "a much longer status message, to copy more bytes"}),
        ),
        (
            "carol.veil",
            "get_status",
            json!({"account_id": "alice.veil"}),
        ),
        ("alice.veil", "clear_status", json!({})),
        ("carol.veil", "get_updates", json!({})),
        ("carol.veil", "call_info", json!({})),
        ("carol.veil", "burn", json!({"rounds": 10})),
        ("carol.veil", "burn", json!({"rounds": 10000})),
    ];
    let mut ratios = Vec::new();
    for (caller, method, args) in calls {
        let input = args.to_string().into_bytes();
        let mut context = NearContext::new(CONTRACT, caller, input.clone());
        context.storage_usage = storage.records_usage(40);
        let (outcome, after) = engine.call(&code, method, &context, storage);
        storage = after;
        assert!(outcome.result.is_ok(), "{method}: {:?}", outcome.result);
        host.input = input;
        host.predecessor = caller.as_bytes().to_vec();
        let theirs = nearcore_instruction_gas(&instrumented, &mut host, method);
        assert_eq!(
            host.storage, storage.entries,
            "both sides hold the same state"
        );
        let ratio = outcome.instruction_gas as f64 / theirs as f64;
        eprintln!(
            "{method:>12} {args}: Veil {} Ggas, nearcore {} Ggas, ratio {ratio:.2}",
            outcome.instruction_gas / 1_000_000_000,
            theirs / 1_000_000_000
        );
        ratios.push(ratio);
    }
    // Veil charges per wasmi fuel (a whole block when entered); nearcore per reached
    // straight-line segment plus stack frames: close, not equal.
    for ratio in ratios {
        assert!(
            (0.9..1.5).contains(&ratio),
            "ratio {ratio:.2} is out of the expected range"
        );
    }
}
