//! Bad code and hostile contracts: each is a clear error, the host survives, and the
//! storage handed back is untouched by a failed call's caller logic.

mod common;
use common::*;
use veil_engine::*;

const GAS: u64 = 10_000_000_000;

fn store_err(wasm: &[u8]) -> String {
    Engine::new(EngineConfig::default())
        .store_code(wasm)
        .unwrap_err()
        .to_string()
}

#[test]
fn minimal_contract_runs() {
    let engine = Engine::new(EngineConfig::default());
    let (report, _) = instantiate(
        &engine,
        &wasm(&contract_wat("", "", "")),
        MemoryStorage::new(),
        GAS,
    );
    let Ok(Output::Response(response)) = report.result else {
        panic!("{:?}", report.result)
    };
    assert_eq!(response.attributes[0].key, "k");
    assert!(report.gas_used > 0 && report.gas_used < GAS);
}

#[test]
fn truncated_and_random_bytes_are_rejected() {
    let good = wasm(&contract_wat("", "", ""));
    let err = store_err(&good[..good.len() / 2]);
    assert!(err.contains("invalid contract code"), "{err}");
    let mut seed = 0x1234_5678u32;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed as u8
        })
        .collect();
    let err = store_err(&random);
    assert!(err.contains("could not be parsed"), "{err}");
    assert!(store_err(b"").contains("invalid contract code"));
}

#[test]
fn start_function_is_rejected() {
    let err = store_err(&wasm(&contract_wat("", "", r#"(func $s) (start $s)"#)));
    assert!(err.contains("start function"), "{err}");
}

/// cosmwasm-vm 3 refuses the extern heap type wherever it appears and accepts function
/// references everywhere (both found by `fuzz/differential`: an `externref` parameter and
/// `ref.null extern` that Veil accepted, a funcref global that Veil refused); so does Veil.
#[test]
fn extern_references_are_rejected_and_function_references_accepted_as_cosmwasm_vm_does() {
    for (what, extra) in [
        ("function type", r#"(func $f (param externref))"#),
        (
            "function type",
            r#"(func $f (result externref) ref.null extern)"#,
        ),
        ("local", r#"(func $f (local externref))"#),
        ("global", r#"(global $g externref (ref.null extern))"#),
        ("ref.null", r#"(func $f ref.null extern drop)"#),
        ("ref.null", r#"(func $f ref.null extern unreachable)"#),
        ("table", r#"(table 1 1 externref)"#),
        (
            "block type",
            r#"(func $f loop (result externref) unreachable end unreachable)"#,
        ),
        (
            "block type",
            r#"(func $f i32.const 0 if (result externref) unreachable else unreachable end drop)"#,
        ),
        (
            "element segment",
            r#"(table 1 1 funcref) (elem externref (ref.null extern))"#,
        ),
    ] {
        let err = store_err(&wasm(&contract_wat("", "", extra)));
        assert!(
            err.contains(&format!("non-function reference (externref) in a {what}")),
            "{extra}: {err}"
        );
    }
    for fine in [
        r#"(func $f (param funcref))"#,
        r#"(func $f (result funcref) ref.null func)"#,
        r#"(func $f (local funcref))"#,
        r#"(func $t) (global $g (mut funcref) (ref.func $t))"#,
        r#"(func $f ref.null func drop)"#,
        r#"(func $f block (result funcref) ref.null func end drop)"#,
        r#"(table 1 1 funcref) (elem (i32.const 0) func $t) (func $t)
           (func $f (result i32) i32.const 0 table.get 0 ref.is_null)"#,
        r#"(func $t) (elem declare func $t)
           (func $f ref.func $t ref.null func i32.const 1 select (result funcref) drop)"#,
    ] {
        Engine::new(EngineConfig::default())
            .store_code(&wasm(&contract_wat("", "", fine)))
            .unwrap_or_else(|e| panic!("{fine}: function references are accepted: {e}"));
    }
}

#[test]
fn unknown_and_mistyped_imports_are_rejected() {
    let err = store_err(&wasm(&contract_wat(
        r#"(import "env" "launch_missiles" (func (param i32)))"#,
        "",
        "",
    )));
    assert!(
        err.contains("unsupported import \"env.launch_missiles\""),
        "{err}"
    );
    let err = store_err(&wasm(&contract_wat(
        r#"(import "env" "db_read" (func (param i64) (result i32)))"#,
        "",
        "",
    )));
    assert!(
        err.contains("env.db_read") && err.contains("signature"),
        "{err}"
    );
    let err = store_err(&wasm(&contract_wat(
        r#"(import "env" "table" (table 1 funcref))"#,
        "",
        "",
    )));
    assert!(err.contains("non-function import"), "{err}");
}

#[test]
fn memory_shape_is_checked() {
    // A second memory (multi-memory) is refused before compilation.
    let two = contract_wat("", "", r#"(memory 1)"#);
    assert!(store_err(&wasm(&two)).contains("exactly one memory"));
    // 1 GiB initial memory.
    let huge = contract_wat("", "", "").replace(
        r#"(memory (export "memory") 2)"#,
        r#"(memory (export "memory") 16384)"#,
    );
    let err = store_err(&wasm(&huge));
    assert!(
        err.contains("16384 pages exceeds the limit of 512 pages"),
        "{err}"
    );
    let bounded = contract_wat("", "", "").replace(
        r#"(memory (export "memory") 2)"#,
        r#"(memory (export "memory") 2 4)"#,
    );
    assert!(store_err(&wasm(&bounded)).contains("maximum must be unset"));
}

#[test]
fn missing_exports_and_capabilities_are_named() {
    let no_version =
        contract_wat("", "", "").replace(r#"(func (export "interface_version_8"))"#, "");
    assert!(store_err(&wasm(&no_version)).contains("interface_version_*"));
    let old = contract_wat("", "", "").replace("interface_version_8", "interface_version_7");
    assert!(store_err(&wasm(&old)).contains("unsupported marker export interface_version_7"));
    let no_alloc = contract_wat("", "", "").replace(r#"(export "allocate")"#, "");
    assert!(store_err(&wasm(&no_alloc)).contains("required export \"allocate\""));
    // Staking is offered (queries answered from the validator set); stargate is not.
    let staking = contract_wat(
        "",
        "",
        r#"(func (export "requires_staking")) (func (export "requires_iterator"))"#,
    );
    Engine::new(EngineConfig::default())
        .store_code(&wasm(&staking))
        .unwrap();
    let stargate = contract_wat(
        "",
        "",
        r#"(func (export "requires_stargate")) (func (export "requires_iterator"))"#,
    );
    let err = store_err(&wasm(&stargate));
    assert!(err.contains("unavailable capabilities: stargate"), "{err}");
}

#[test]
fn table_mutation_is_rejected_but_reference_types_load() {
    let table = r#"(table $t 2 2 funcref) (func $f (result i32) (ref.is_null (ref.func $f))) (elem declare func $f)"#;
    Engine::new(EngineConfig::default())
        .store_code(&wasm(&contract_wat("", "", table)))
        .unwrap();
    let grow = r#"(table $t 2 2 funcref) (func (result i32) (table.grow $t (ref.null func) (i32.const 1)))"#;
    let err = store_err(&wasm(&contract_wat("", "", grow)));
    assert!(err.contains("table mutation"), "{err}");
    assert!(
        store_err(&wasm(&contract_wat("", "", "(table 2 funcref)"))).contains("unbounded table")
    );
}

#[test]
fn an_element_segment_out_of_bounds_fails_alike_on_every_engine() {
    // Found by the differential fuzz target: wasmi's message for this named the table by
    // its store handle (a per-process counter), so the error a calling contract reads
    // differed from one call, and one node, to the next.
    let segment = r#"(table $t 1 1 funcref) (func $f) (elem (i32.const -16842753) func $f)"#;
    let code = wasm(&contract_wat("", "", segment));
    let errors: Vec<String> = (0..3)
        .map(|round| {
            let engine = Engine::new(EngineConfig::default());
            let runs = if round == 0 { 2 } else { 1 };
            let mut last = String::new();
            for _ in 0..runs {
                let (report, _) = instantiate(&engine, &code, MemoryStorage::new(), GAS);
                last = format!("{:?}", report.result);
            }
            last
        })
        .collect();
    assert!(
        errors[0].contains("out of bounds table access"),
        "{}",
        errors[0]
    );
    assert!(!errors[0].contains("Store"), "{}", errors[0]);
    assert!(errors.iter().all(|e| *e == errors[0]), "{errors:?}");
}

#[test]
fn infinite_loop_runs_out_of_gas_at_exactly_the_limit() {
    let engine = Engine::new(EngineConfig::default());
    let looping = wasm(&contract_wat("", "(loop $l (br $l))", ""));
    let mut storage = MemoryStorage::new();
    storage.set(b"untouched", b"yes").unwrap();
    let (report, after) = instantiate(&engine, &looping, storage.clone(), 1_000_000_000);
    assert_eq!(report.result, Err(CallError::Vm(VmError::OutOfGas)));
    assert_eq!(report.gas_used, 1_000_000_000);
    assert_eq!(after, storage);
}

#[test]
fn recursion_bomb_is_a_clean_error() {
    let engine = Engine::new(EngineConfig::default());
    let bomb = wasm(&contract_wat(
        "",
        "(call $r (i32.const 0))",
        "(func $r (param i32) (call $r (i32.add (local.get 0) (i32.const 1))))",
    ));
    let (report, _) = instantiate(&engine, &bomb, MemoryStorage::new(), 100_000_000_000);
    assert_eq!(
        report.result,
        Err(CallError::Vm(VmError::StackExhausted)),
        "{:?}",
        report.result
    );
}

#[test]
fn memory_grow_bomb_hits_the_memory_limit() {
    let engine = Engine::new(EngineConfig::default());
    let bomb = wasm(&contract_wat(
        "",
        "(loop $l (br_if $l (i32.ne (memory.grow (i32.const 16)) (i32.const -1))))",
        "",
    ));
    let (report, _) = instantiate(&engine, &bomb, MemoryStorage::new(), 100_000_000_000);
    assert_eq!(
        report.result,
        Err(CallError::Vm(VmError::MemoryLimit {
            limit_bytes: 32 * 1024 * 1024
        })),
        "{:?}",
        report.result
    );
}

#[test]
fn oversized_message_is_refused_before_running() {
    let engine = Engine::new(EngineConfig::default());
    let checksum = engine.store_code(&wasm(&contract_wat("", "", ""))).unwrap();
    let msg = vec![b' '; 10 * 1024 * 1024];
    let (env, info) = (env(), info());
    let call = Call {
        entry: Entry::Instantiate,
        env: &env,
        info: Some(&info),
        msg: &msg,
        gas_limit: GAS,
        random: None,
    };
    let (report, _) = engine.call(&checksum, call, backend(MemoryStorage::new()));
    let err = report.result.unwrap_err().to_string();
    assert!(err.contains("message is 10485760 bytes"), "{err}");
}

#[test]
fn abort_and_traps_are_structured_errors() {
    let engine = Engine::new(EngineConfig::default());
    let abort = contract_wat(
        r#"(import "env" "abort" (func $abort (param i32)))"#,
        "(local.set $out (call $alloc (i32.const 5))) (i32.store offset=8 (local.get $out) (i32.const 5)) (call $abort (local.get $out))",
        "",
    );
    let (report, _) = instantiate(&engine, &wasm(&abort), MemoryStorage::new(), GAS);
    assert!(
        matches!(report.result, Err(CallError::Vm(VmError::Aborted(_)))),
        "{:?}",
        report.result
    );
    let (report, _) = instantiate(
        &engine,
        &wasm(&contract_wat("", "unreachable", "")),
        MemoryStorage::new(),
        GAS,
    );
    assert!(
        matches!(&report.result, Err(CallError::Vm(VmError::Trap(m))) if m.contains("unreachable")),
        "{:?}",
        report.result
    );
    let oob = "(drop (i32.load (i32.const 0x7fffffff)))";
    let (report, _) = instantiate(
        &engine,
        &wasm(&contract_wat("", oob, "")),
        MemoryStorage::new(),
        GAS,
    );
    assert!(
        matches!(report.result, Err(CallError::Vm(VmError::Trap(_)))),
        "{:?}",
        report.result
    );
}

#[test]
fn bad_region_from_contract_is_an_error_not_a_crash() {
    let engine = Engine::new(EngineConfig::default());
    let bad = contract_wat(
        r#"(import "env" "db_read" (func $db_read (param i32) (result i32)))"#,
        "(drop (call $db_read (i32.const 0xfffffff0)))",
        "",
    );
    let (report, _) = instantiate(&engine, &wasm(&bad), MemoryStorage::new(), GAS);
    assert!(
        matches!(report.result, Err(CallError::Vm(VmError::Region(_)))),
        "{:?}",
        report.result
    );
}

#[test]
fn gas_is_identical_across_runs_and_cache_states() {
    let code = wasm(&contract_wat("", "(local.set $out (i32.const 100)) (loop $l (br_if $l (local.tee $out (i32.sub (local.get $out) (i32.const 1)))))", ""));
    let fresh = |_: usize| {
        let engine = Engine::new(EngineConfig::default());
        instantiate(&engine, &code, MemoryStorage::new(), GAS)
            .0
            .gas_used
    };
    let cold: Vec<u64> = (0..3).map(fresh).collect();
    let engine = Engine::new(EngineConfig::default());
    let warm: Vec<u64> = (0..3)
        .map(|_| {
            instantiate(&engine, &code, MemoryStorage::new(), GAS)
                .0
                .gas_used
        })
        .collect();
    assert!(
        cold.iter().chain(&warm).all(|g| *g == cold[0]),
        "{cold:?} {warm:?}"
    );
}

/// Functions are translated on their first call (lazy translation): a call's gas must not
/// depend on which functions earlier calls on the same engine translated, and out of gas
/// must fall at the same point whether the code it reaches is translated yet or not.
#[test]
fn gas_does_not_depend_on_what_earlier_calls_translated() {
    // `instantiate` runs $even or $odd by the parity of the message's length: two paths
    // whose functions are translated by different calls.
    let code = wasm(&contract_wat(
        "",
        "(if (i32.and (i32.load offset=8 (local.get 2)) (i32.const 1))
           (then (call $odd)) (else (call $even)))",
        "(func $even (local $i i32) (local.set $i (i32.const 50))
           (loop $l (br_if $l (local.tee $i (i32.sub (local.get $i) (i32.const 1))))))
         (func $odd (local $i i32) (local.set $i (i32.const 70))
           (loop $l (br_if $l (local.tee $i (i32.sub (local.get $i) (i32.const 1)))))
           (call $even))",
    ));
    let (env, info) = (env(), info());
    let run = |engine: &Engine, msg: &[u8], gas_limit: u64| {
        let checksum = engine.store_code(&code).unwrap();
        let call = Call {
            entry: Entry::Instantiate,
            env: &env,
            info: Some(&info),
            msg,
            gas_limit,
            random: None,
        };
        engine
            .call(&checksum, call, backend(MemoryStorage::new()))
            .0
    };
    let fresh = || Engine::new(EngineConfig::default());
    let (even, odd) = (b"{}".as_slice(), b"{ }".as_slice());
    let cold_even = run(&fresh(), even, GAS).gas_used;
    let cold_odd = run(&fresh(), odd, GAS).gas_used;
    assert_ne!(cold_even, cold_odd, "the two paths must differ");
    // One engine, the paths in both orders: every call costs what it costs cold.
    for order in [[even, odd, even, odd], [odd, even, odd, even]] {
        let engine = fresh();
        for msg in order {
            let report = run(&engine, msg, GAS);
            assert!(report.result.is_ok(), "{:?}", report.result);
            let cold = if msg == even { cold_even } else { cold_odd };
            assert_eq!(
                report.gas_used,
                cold,
                "warm call of {:?}",
                std::str::from_utf8(msg)
            );
        }
    }
    // Out of gas at the same limit, cold and warm: the exact gas passes, one less fails.
    for (msg, exact) in [(odd, cold_odd), (even, cold_even)] {
        let warm = fresh();
        run(&warm, msg, GAS);
        for engine in [fresh(), warm] {
            assert!(run(&engine, msg, exact).result.is_ok());
            let short = run(&engine, msg, exact - 1);
            assert!(
                matches!(short.result, Err(CallError::Vm(VmError::OutOfGas))),
                "{:?}",
                short.result
            );
            assert_eq!(short.gas_used, exact - 1);
        }
    }
}

/// Translation is lazy but validation is not: a function no call would reach is still
/// validated when the code is stored.
#[test]
fn an_invalid_function_is_refused_at_store_even_if_never_called() {
    let err = store_err(&wasm(&contract_wat(
        "",
        "",
        "(func $never (result i32) (i64.const 1))",
    )));
    assert!(
        err.contains("invalid contract code") || err.contains("type"),
        "{err}"
    );
}

#[test]
fn code_is_compiled_once_and_cache_is_bounded() {
    let config = EngineConfig {
        cache_bytes: 64 * 1024,
        ..EngineConfig::default()
    };
    let engine = Engine::new(config);
    let a = engine.store_code(&wasm(&contract_wat("", "", ""))).unwrap();
    assert_eq!(
        engine.store_code(&wasm(&contract_wat("", "", ""))).unwrap(),
        a
    );
    assert_eq!(engine.cache_usage().0, 1);
    let b = engine
        .store_code(&wasm(&contract_wat("", "nop", "")))
        .unwrap();
    assert!(engine.is_loaded(&a) && engine.is_loaded(&b));
    // Calling code that is not loaded is an error naming the checksum, not a crash.
    let missing = Checksum([0u8; 32]);
    let (env, info) = (env(), info());
    let call = Call {
        entry: Entry::Instantiate,
        env: &env,
        info: Some(&info),
        msg: b"{}",
        gas_limit: GAS,
        random: None,
    };
    let (report, _) = engine.call(&missing, call, backend(MemoryStorage::new()));
    assert!(matches!(
        report.result,
        Err(CallError::Vm(VmError::CodeNotFound(_)))
    ));
}

#[test]
fn queries_cannot_write() {
    let engine = Engine::new(EngineConfig::default());
    let writer = contract_wat(
        r#"(import "env" "db_write" (func $w (param i32 i32)))"#,
        "",
        r#"(func (export "query") (param i32 i32) (result i32)
             (local $r i32)
             (local.set $r (call $alloc (i32.const 1)))
             (i32.store offset=8 (local.get $r) (i32.const 1))
             (call $w (local.get $r) (local.get $r))
             (i32.const 0))"#,
    );
    let checksum = engine.store_code(&wasm(&writer)).unwrap();
    let env = env();
    let call = Call {
        entry: Entry::Query,
        env: &env,
        info: None,
        msg: b"{}",
        gas_limit: GAS,
        random: None,
    };
    let (report, backend) = engine.call(&checksum, call, backend(MemoryStorage::new()));
    assert_eq!(
        report.result,
        Err(CallError::Vm(VmError::WriteAccessDenied))
    );
    assert!(storage_of(backend).entries.is_empty());
}

#[test]
fn no_memory_contents_survive_from_one_call_to_the_next() {
    // Memory buffers are pooled: a call must still start from zeroed memory, both in the
    // initial pages and in pages it grows into.
    let engine = Engine::new(EngineConfig::default());
    let body = r#"
        (if (i32.load8_u (i32.const 100000)) (then unreachable))
        (i32.store8 (i32.const 100000) (i32.const 0xab))
        (drop (memory.grow (i32.const 1)))
        (if (i32.load8_u (i32.const 140000)) (then unreachable))
        (i32.store8 (i32.const 140000) (i32.const 0xcd))"#;
    let code = wasm(&contract_wat("", body, ""));
    for round in 0..3 {
        let (report, _) = instantiate(&engine, &code, MemoryStorage::new(), GAS);
        assert!(report.result.is_ok(), "round {round}: {:?}", report.result);
    }
}

#[test]
fn float_nans_are_canonical() {
    // 0/0 and sqrt(-1) produce NaNs whose bits are hardware-dependent unless canonicalized.
    let engine = Engine::new(EngineConfig::default());
    let body = r#"
        (if (i32.ne (i32.reinterpret_f32 (f32.div (f32.const 0) (f32.const 0))) (i32.const 0x7fc00000))
            (then unreachable))
        (if (i64.ne (i64.reinterpret_f64 (f64.sqrt (f64.const -1))) (i64.const 0x7ff8000000000000))
            (then unreachable))"#;
    let (report, _) = instantiate(
        &engine,
        &wasm(&contract_wat("", body, "")),
        MemoryStorage::new(),
        GAS,
    );
    assert!(report.result.is_ok(), "{:?}", report.result);
}
