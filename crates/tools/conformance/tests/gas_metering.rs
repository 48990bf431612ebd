//! Wasm-operator gas, Veil vs cosmwasm-vm, on tiny WAT contracts that isolate one pattern.
//!
//! Each contract's `instantiate` runs a body and returns an empty response; no host calls.
//! Gas of the body = gas(contract) − gas(empty body), on each VM.
//!
//! - Straight-line code: both VMs charge every executed operator (1 × 115 gas, 14 × 115 for
//!   accounting operators); the bodies must cost the same on both.
//! - Code skipped by an early `br_if` out of a `block`: cosmwasm-vm (wasmer metering)
//!   charges per basic block, so skipped operators are free. wasmi charges the fuel of a
//!   whole Wasm `block` (it shares its parent's fuel counter) when the enclosing
//!   function/loop/if is entered, so Veil also charges the skipped operators. That test is
//!   `#[ignore]`d: it documents a known difference (run with `--ignored` to see it).
//! - Loops: cosmwasm-vm charges a loop's `end` once (when execution falls out of the
//!   loop); wasmi charges it, plus a 1-fuel base fee of its fuel block, on every iteration.
//!   Also `#[ignore]`d.
//! - Every wasmi fuel block (function entry, loop iteration, `if`/`else` arm) costs a base
//!   fee of 1 fuel (115 gas) that cosmwasm-vm does not charge.
//!
//! Run: `cargo test --manifest-path crates/tools/conformance/Cargo.toml --test gas_metering -- --nocapture`

#[path = "common/vm.rs"]
mod vm;

use veil_conformance::{account, contract, Outcome, VeilRunner};
use veil_engine::Entry;

const RESPONSE: &str = r#"{"ok":{"messages":[],"attributes":[],"events":[],"data":null}}"#;

/// A contract whose `instantiate` runs `body` (locals `$env $info $msg`, `$n` scratch)
/// and then returns RESPONSE.
fn contract_wat(body: &str) -> Vec<u8> {
    let src = format!(
        r#"(module
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 4096))
  (data (i32.const 1024) "{response}")
  (func $alloc (export "allocate") (param $size i32) (result i32)
    (local $region i32)
    (local.set $region (global.get $heap))
    (i32.store (local.get $region) (i32.add (local.get $region) (i32.const 12)))
    (i32.store offset=4 (local.get $region) (local.get $size))
    (i32.store offset=8 (local.get $region) (i32.const 0))
    (global.set $heap (i32.add (local.get $region) (i32.add (i32.const 12) (local.get $size))))
    (local.get $region))
  (func (export "deallocate") (param i32))
  (func $empty)
  (func (export "interface_version_8"))
  (func (export "instantiate") (param $env i32) (param $info i32) (param $msg i32) (result i32)
    (local $out i32)
    (local $n i32)
    {body}
    (local.set $out (call $alloc (i32.const 0)))
    (i32.store (local.get $out) (i32.const 1024))
    (i32.store offset=4 (local.get $out) (i32.const {len}))
    (i32.store offset=8 (local.get $out) (i32.const {len}))
    (local.get $out))
)"#,
        response = RESPONSE.replace('"', "\\\""),
        len = RESPONSE.len(),
    );
    wat::parse_str(src).expect("valid WAT")
}

/// (Veil gas, cosmwasm-vm gas) of instantiating a contract running `body`.
fn gas_of(body: &str) -> (u64, u64) {
    let wasm = contract_wat(body);
    let token = contract("wat");
    let sender = account("sender");
    let mut veil = VeilRunner::new(&wasm, &token);
    let mut cosm = vm::VmRunner::new(&wasm, &token);
    let v = veil.call(Entry::Instantiate, Some(&sender), b"{}");
    let (w, report) = cosm.call(Entry::Instantiate, Some(&sender), b"{}");
    assert!(matches!(v.outcome, Outcome::Response(_)), "{:?}", v.outcome);
    assert_eq!(v.outcome, w.outcome);
    assert_eq!(report.used_externally, 0, "no host calls");
    (v.gas_used, w.gas_used)
}

fn nops(n: usize) -> String {
    "(nop)\n".repeat(n)
}

/// Body gas on both VMs (minus the empty contract), printed.
fn body_gas(name: &str, body: &str) -> (u64, u64) {
    let (v0, w0) = gas_of("");
    let (v, w) = gas_of(body);
    let (dv, dw) = (v - v0, w - w0);
    println!(
        "{name:<44} veil {dv:>10} gas   cosmwasm-vm {dw:>10} gas   ratio {:.3}",
        dv as f64 / dw.max(1) as f64
    );
    (dv, dw)
}

/// Both charge for copying the call's arguments into the instance and its result out
/// (`write_region` per argument, `read_region` for the result). Everything else in an empty
/// call matches, up to wasmi's 1-fuel base fee per function entered and Veil rounding each
/// host charge up to whole fuel (115 gas).
#[test]
fn call_io_is_charged_like_cosmwasm_vm() {
    let token = contract("wat");
    let sender = account("sender");
    let env_len = serde_json::to_vec(&veil_conformance::env(&token))
        .unwrap()
        .len() as u64;
    let info_len = serde_json::to_vec(&veil_conformance::info(&sender))
        .unwrap()
        .len() as u64;
    let msg_len = 2u64; // b"{}"
    let result_len = RESPONSE.len() as u64;
    let io = 3 * 230_000 + 570 * (env_len + info_len + msg_len) + 200_000 + 115 * result_len;
    let (v, w) = gas_of("");
    // Functions entered: allocate ×4 (3 arguments + the result region), instantiate, deallocate.
    let base_fees = 6 * 115;
    println!(
        "empty instantiate: veil {v} gas, cosmwasm-vm {w} gas; cosmwasm-vm's argument/result \
         copying: {io} gas; wasmi block base fees: {base_fees} gas"
    );
    let rounding = 4 * 115; // four I/O charges, each rounded up to whole fuel
    let diff = (v - base_fees) as i64 - w as i64;
    assert!(
        (0..rounding).contains(&diff),
        "veil {v} vs cosmwasm-vm {w}: difference {diff}"
    );
}

#[test]
fn straight_line_code_costs_the_same() {
    let (v, w) = body_gas("1000 nops", &format!("(block {})", nops(1000)));
    assert_eq!(v, w);
    let (v, w) = body_gas(
        "1000 × (local.get, i32.const, i32.add, local.set)",
        &"(local.set $n (i32.add (local.get $n) (i32.const 1)))\n".repeat(1000),
    );
    assert_eq!(v, w);
}

const LOOP_100: &str = "(local.set $n (i32.const 100))
    (loop $l
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n)))";

#[test]
#[ignore = "known difference: wasmi charges a loop's `end` (14 fuel) and a block base fee (1 fuel) per iteration"]
fn loop_iterations_cost_the_same() {
    let (v, w) = body_gas("loop × 100", LOOP_100);
    assert_eq!(v, w, "Veil charged {} more gas for 100 iterations", v - w);
}

fn skipped_nops() -> String {
    // `$env` is a non-zero pointer, so the `br_if` always leaves the block and the nops
    // never run. (A runtime condition: wasmi cannot fold it away at translation.)
    format!("(block $b (br_if $b (local.get $env)) {})", nops(1000))
}

#[test]
#[ignore = "known difference: wasmi charges a whole Wasm block's operators on entry"]
fn code_skipped_by_br_if_is_not_charged() {
    let (v, w) = body_gas("block { br_if (taken); 1000 nops }", &skipped_nops());
    assert_eq!(
        v,
        w,
        "Veil charged {} gas for operators that never ran",
        v - w
    );
}

/// Prints the known metering differences without failing (the ignored tests assert them).
#[test]
fn metering_differences_are_reported() {
    let report = |name: &str, body: &str| {
        let (v, w) = body_gas(name, body);
        println!(
            "    -> Veil − cosmwasm-vm = {} gas = {} fuel",
            v as i64 - w as i64,
            (v as i64 - w as i64) / 115
        );
    };
    report("loop × 100", LOOP_100);
    report("block { br_if (taken); 1000 nops }", &skipped_nops());
    report(
        "100 calls of an empty function",
        &"(call $empty)\n".repeat(100),
    );
    report(
        "100 × if (taken) { nop }",
        &"(if (local.get $env) (then (nop)))\n".repeat(100),
    );
}
