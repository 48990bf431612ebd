//! Hand-written modules for what a near-sdk contract does not exercise: instruction and
//! memory-growth gas, traps, unsupported host functions, loops that run out of gas.

use veil_near_engine::{
    FunctionCallError, HostError, MemoryStorage, NearContext, NearEngine, NearEngineConfig,
    NearOutcome, ReturnData, REGULAR_OP_COST, TERA_GAS,
};

fn run(wat: &str, method: &str, prepaid_gas: u64) -> NearOutcome {
    let engine = NearEngine::new(NearEngineConfig::default());
    let code = engine.store_code(&wat::parse_str(wat).unwrap()).unwrap();
    let mut context = NearContext::new("c.veil", "a.veil", Vec::new());
    context.prepaid_gas = prepaid_gas;
    engine.call(&code, method, &context, MemoryStorage::new()).0
}

#[test]
fn growing_memory_costs_per_page_as_in_nearcore() {
    let out = run(
        r#"(module (memory 1)
            (func (export "grow") (drop (memory.grow (i32.const 2)))))"#,
        "grow",
        300 * TERA_GAS,
    );
    assert_eq!(out.result, Ok(ReturnData::None));
    // i32.const, memory.grow (32: linear_op_base_cost), drop, end, plus 1 per page.
    let instructions = out.instruction_gas / REGULAR_OP_COST;
    assert!(
        (33..=40).contains(&instructions),
        "{instructions} instructions"
    );
}

#[test]
fn memory_is_nearcores_and_grows_to_128_mib_only() {
    let out = run(
        r#"(module
            (import "env" "value_return" (func $ret (param i64 i64)))
            (memory 1)
            (func (export "sizes")
              (i64.store (i32.const 0) (i64.extend_i32_u (memory.size)))
              (i64.store (i32.const 8) (i64.extend_i32_s (memory.grow (i32.const 1025))))
              (i64.store (i32.const 16) (i64.extend_i32_s (memory.grow (i32.const 1024))))
              (call $ret (i64.const 24) (i64.const 0))))"#,
        "sizes",
        300 * TERA_GAS,
    );
    let Ok(ReturnData::Value(bytes)) = out.result else {
        panic!("{:?}", out.result)
    };
    let word = |i: usize| i64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap());
    assert_eq!(
        word(0),
        1024,
        "64 MiB to start, whatever the contract declared"
    );
    assert_eq!(word(1), -1, "past 2048 pages growth fails");
    assert_eq!(word(2), 1024, "up to 2048 pages it succeeds");
}

#[test]
fn an_endless_loop_runs_out_of_gas() {
    let out = run(
        r#"(module (memory 1) (func (export "spin") (loop (br 0))))"#,
        "spin",
        TERA_GAS,
    );
    assert_eq!(
        out.result,
        Err(FunctionCallError::HostError(HostError::GasExceeded))
    );
    assert_eq!(out.burnt_gas, TERA_GAS);
}

#[test]
fn traps_and_unsupported_host_functions_are_errors() {
    let out = run(
        r#"(module (memory 1) (func (export "boom") unreachable))"#,
        "boom",
        TERA_GAS,
    );
    assert!(
        matches!(out.result, Err(FunctionCallError::WasmTrap(_))),
        "{out:?}"
    );

    let out = run(
        r#"(module (memory 1) (func (export "deep") (call 0)))"#,
        "deep",
        300 * TERA_GAS,
    );
    assert!(
        matches!(out.result, Err(FunctionCallError::WasmTrap(_))),
        "{out:?}"
    );

    let out = run(
        r#"(module
            (import "env" "validator_total_stake" (func $stake (param i64)))
            (memory 1)
            (func (export "stake") (call $stake (i64.const 0))))"#,
        "stake",
        TERA_GAS,
    );
    assert_eq!(
        out.result,
        Err(FunctionCallError::HostError(HostError::Unsupported(
            "validator_total_stake"
        )))
    );
    assert_eq!(
        out.result.unwrap_err().to_string(),
        "unsupported: validator_total_stake is not available on Veil"
    );

    let out = run(
        r#"(module (memory 1) (func (export "takes") (param i64)))"#,
        "takes",
        TERA_GAS,
    );
    assert_eq!(
        out.result,
        Err(FunctionCallError::MethodInvalidSignature("takes".into()))
    );

    let out = run(
        r#"(module
            (import "env" "read_register" (func $read (param i64 i64)))
            (memory 1)
            (func (export "bad") (call $read (i64.const 5) (i64.const 0))))"#,
        "bad",
        TERA_GAS,
    );
    assert_eq!(
        out.result,
        Err(FunctionCallError::HostError(HostError::InvalidRegisterId {
            register_id: 5
        }))
    );
}
