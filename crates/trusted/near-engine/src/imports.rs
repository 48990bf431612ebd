//! Every host function nearcore 0.38 (`near-vm-runner/src/imports.rs`) defines in module
//! `env`, with its exact Wasm signature, linked to Veil's implementation. One table
//! drives both [`IMPORTS`] and the linker, so they cannot disagree; a test in
//! `crates/tools/near-reference` compares the table with nearcore's file.
//!
//! Not here: nearcore's `internal` module (finite-wasm's instrumentation hooks, which
//! contracts cannot import) and the `sandbox`/`test_features` functions.

use wasmi::{Caller, Linker};

use crate::error::HostError;
use crate::host::{self, unsupported, HostState};

/// A Wasm value type of a host-function signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValType {
    I32,
    I64,
}

macro_rules! val_type {
    (u32) => {
        ValType::I32
    };
    (u64) => {
        ValType::I64
    };
}

/// `name(args) -> [result] = implementation;` — `unsupported` links a function that fails
/// the call with `unsupported: name`.
macro_rules! imports {
    ($( $name:ident ( $($arg:ident : $ty:tt),* ) -> [$($ret:tt)?] = $imp:tt; )*) => {
        /// `(name, params, results)` of every linked `env` import.
        pub const IMPORTS: &[(&str, &[ValType], &[ValType])] = &[
            $( (stringify!($name), &[$(val_type!($ty)),*], &[$(val_type!($ret))?]), )*
        ];

        pub(crate) fn link(linker: &mut Linker<HostState>) -> Result<(), wasmi::Error> {
            $(
                linker.func_wrap(
                    "env",
                    stringify!($name),
                    #[allow(unused_variables, unused_parens)]
                    |mut caller: Caller<'_, HostState>, $($arg: $ty),*| -> Result<($($ret)?), wasmi::Error> {
                        enter(&mut caller, |st, mem| {
                            imports!(@call $imp, $name, st, mem, $($arg),*)
                        })
                    },
                )?;
            )*
            Ok(())
        }
    };
    (@call host, $name:ident, $st:ident, $mem:ident, $($arg:ident),*) => {
        host::$name($st, $mem, $($arg),*)
    };
    (@call unsupported, $name:ident, $st:ident, $mem:ident, $($arg:ident),*) => {
        unsupported($st, stringify!($name)).map(|()| Default::default())
    };
}

/// Runs a host function: charges the instructions run since the contract last left
/// the host, then the function; gives wasmi the fuel the gas left allows.
fn enter<R>(
    caller: &mut Caller<'_, HostState>,
    f: impl FnOnce(&mut HostState, &mut [u8]) -> Result<R, HostError>,
) -> Result<R, wasmi::Error> {
    let fuel = caller.get_fuel()?;
    let memory = caller
        .data()
        .memory
        .ok_or(HostError::MemoryAccessViolation)?;
    let pages = memory.size(&*caller);
    let (mem, st) = memory.data_and_store_mut(&mut *caller);
    let result = st.sync_wasm(fuel, pages).and_then(|_| f(st, mem));
    let fuel_left = st.gas.fuel_left();
    st.fuel_at_sync = fuel_left;
    caller.set_fuel(fuel_left)?;
    result.map_err(Into::into)
}

imports! {
    // registers
    read_register(register_id: u64, ptr: u64) -> [] = host;
    register_len(register_id: u64) -> [u64] = host;
    write_register(register_id: u64, data_len: u64, data_ptr: u64) -> [] = host;
    // context
    current_account_id(register_id: u64) -> [] = host;
    chain_id(register_id: u64) -> [] = host;
    signer_account_id(register_id: u64) -> [] = host;
    signer_account_pk(register_id: u64) -> [] = host;
    predecessor_account_id(register_id: u64) -> [] = host;
    input(register_id: u64) -> [] = host;
    block_index() -> [u64] = host;
    block_timestamp() -> [u64] = host;
    epoch_height() -> [u64] = host;
    storage_usage() -> [u64] = host;
    // economics
    account_balance(balance_ptr: u64) -> [] = host;
    account_locked_balance(balance_ptr: u64) -> [] = host;
    attached_deposit(balance_ptr: u64) -> [] = host;
    prepaid_gas() -> [u64] = host;
    used_gas() -> [u64] = host;
    // math
    random_seed(register_id: u64) -> [] = host;
    sha256(value_len: u64, value_ptr: u64, register_id: u64) -> [] = host;
    keccak256(value_len: u64, value_ptr: u64, register_id: u64) -> [] = host;
    keccak512(value_len: u64, value_ptr: u64, register_id: u64) -> [] = host;
    sha3_256(value_len: u64, value_ptr: u64, register_id: u64) -> [] = host;
    sha3_384(value_len: u64, value_ptr: u64, register_id: u64) -> [] = host;
    sha3_512(value_len: u64, value_ptr: u64, register_id: u64) -> [] = host;
    ed25519_verify(sig_len: u64, sig_ptr: u64, msg_len: u64, msg_ptr: u64, pub_key_len: u64, pub_key_ptr: u64) -> [u64] = host;
    p256_verify(sig_len: u64, sig_ptr: u64, msg_len: u64, msg_ptr: u64, pub_key_len: u64, pub_key_ptr: u64) -> [u64] = unsupported;
    ml_dsa_verify(sig_len: u64, sig_ptr: u64, msg_len: u64, msg_ptr: u64, pub_key_len: u64, pub_key_ptr: u64) -> [u64] = unsupported;
    ripemd160(value_len: u64, value_ptr: u64, register_id: u64) -> [] = host;
    ecrecover(hash_len: u64, hash_ptr: u64, sign_len: u64, sig_ptr: u64, v: u64, malleability_flag: u64, register_id: u64) -> [u64] = host;
    // miscellaneous
    value_return(value_len: u64, value_ptr: u64) -> [] = host;
    panic() -> [] = host;
    panic_utf8(len: u64, ptr: u64) -> [] = host;
    log_utf8(len: u64, ptr: u64) -> [] = host;
    log_utf16(len: u64, ptr: u64) -> [] = host;
    abort(msg_ptr: u32, filename_ptr: u32, line: u32, col: u32) -> [] = host;
    // promises
    promise_create(account_id_len: u64, account_id_ptr: u64, method_name_len: u64, method_name_ptr: u64, arguments_len: u64, arguments_ptr: u64, amount_ptr: u64, gas: u64) -> [u64] = host;
    promise_then(promise_index: u64, account_id_len: u64, account_id_ptr: u64, method_name_len: u64, method_name_ptr: u64, arguments_len: u64, arguments_ptr: u64, amount_ptr: u64, gas: u64) -> [u64] = host;
    promise_and(promise_idx_ptr: u64, promise_idx_count: u64) -> [u64] = host;
    promise_batch_create(account_id_len: u64, account_id_ptr: u64) -> [u64] = host;
    promise_batch_then(promise_index: u64, account_id_len: u64, account_id_ptr: u64) -> [u64] = host;
    promise_set_refund_to(promise_index: u64, account_id_len: u64, account_id_ptr: u64) -> [] = host;
    promise_batch_action_state_init(promise_idx: u64, code_len: u64, code_ptr: u64, amount_ptr: u64) -> [u64] = unsupported;
    promise_batch_action_state_init_by_account_id(promise_idx: u64, account_id_len: u64, code_hash_ptr: u64, amount_ptr: u64) -> [u64] = unsupported;
    set_state_init_data_entry(promise_idx: u64, action_index: u64, key_len: u64, key_ptr: u64, value_len: u64, value_ptr: u64) -> [] = unsupported;
    current_contract_code(register_id: u64) -> [u64] = host;
    refund_to_account_id(register_id: u64) -> [] = host;
    universal_state_init_to_account_id(state_init_len: u64, state_init_ptr: u64, register_id: u64) -> [u64] = unsupported;
    promise_batch_action_universal_state_init(promise_idx: u64, state_init_len: u64, state_init_ptr: u64, amount_ptr: u64) -> [] = unsupported;
    // promise actions
    promise_batch_action_create_account(promise_index: u64) -> [] = host;
    promise_batch_action_deploy_contract(promise_index: u64, code_len: u64, code_ptr: u64) -> [] = host;
    promise_batch_action_deploy_global_contract(promise_index: u64, code_len: u64, code_ptr: u64) -> [] = unsupported;
    promise_batch_action_deploy_global_contract_by_account_id(promise_index: u64, code_len: u64, code_ptr: u64) -> [] = unsupported;
    promise_batch_action_use_global_contract(promise_index: u64, code_hash_len: u64, code_hash_ptr: u64) -> [] = unsupported;
    promise_batch_action_use_global_contract_by_account_id(promise_index: u64, account_id_len: u64, account_id_ptr: u64) -> [] = unsupported;
    promise_batch_action_function_call(promise_index: u64, method_name_len: u64, method_name_ptr: u64, arguments_len: u64, arguments_ptr: u64, amount_ptr: u64, gas: u64) -> [] = host;
    promise_batch_action_function_call_weight(promise_index: u64, method_name_len: u64, method_name_ptr: u64, arguments_len: u64, arguments_ptr: u64, amount_ptr: u64, gas: u64, gas_weight: u64) -> [] = host;
    promise_batch_action_transfer(promise_index: u64, amount_ptr: u64) -> [] = host;
    promise_batch_action_stake(promise_index: u64, amount_ptr: u64, public_key_len: u64, public_key_ptr: u64) -> [] = unsupported;
    promise_batch_action_add_key_with_full_access(promise_index: u64, public_key_len: u64, public_key_ptr: u64, nonce: u64) -> [] = unsupported;
    promise_batch_action_add_key_with_function_call(promise_index: u64, public_key_len: u64, public_key_ptr: u64, nonce: u64, allowance_ptr: u64, receiver_id_len: u64, receiver_id_ptr: u64, method_names_len: u64, method_names_ptr: u64) -> [] = unsupported;
    promise_batch_action_delete_key(promise_index: u64, public_key_len: u64, public_key_ptr: u64) -> [] = unsupported;
    promise_batch_action_delete_account(promise_index: u64, beneficiary_id_len: u64, beneficiary_id_ptr: u64) -> [] = unsupported;
    promise_batch_action_transfer_to_gas_key(promise_index: u64, public_key_len: u64, public_key_ptr: u64, amount_ptr: u64) -> [] = unsupported;
    promise_batch_action_add_gas_key_with_full_access(promise_index: u64, public_key_len: u64, public_key_ptr: u64, num_nonces: u64) -> [] = unsupported;
    promise_batch_action_add_gas_key_with_function_call(promise_index: u64, public_key_len: u64, public_key_ptr: u64, num_nonces: u64, allowance_ptr: u64, receiver_id_len: u64, receiver_id_ptr: u64, method_names_len: u64, method_names_ptr: u64) -> [] = unsupported;
    // yield / resume
    promise_yield_create(method_name_len: u64, method_name_ptr: u64, arguments_len: u64, arguments_ptr: u64, gas: u64, gas_weight: u64, register_id: u64) -> [u64] = unsupported;
    promise_yield_create_with_id(method_name_len: u64, method_name_ptr: u64, arguments_len: u64, arguments_ptr: u64, amount_ptr: u64, gas: u64, gas_weight: u64, yield_id_len: u64, yield_id_ptr: u64) -> [u64] = unsupported;
    promise_yield_resume(data_id_len: u64, data_id_ptr: u64, payload_len: u64, payload_ptr: u64) -> [u32] = unsupported;
    promise_yield_resume_with_yield_id(yield_id_len: u64, yield_id_ptr: u64, payload_len: u64, payload_ptr: u64) -> [u32] = unsupported;
    // promise results
    promise_results_count() -> [u64] = host;
    promise_result(result_idx: u64, register_id: u64) -> [u64] = host;
    promise_return(promise_idx: u64) -> [] = host;
    // storage
    storage_write(key_len: u64, key_ptr: u64, value_len: u64, value_ptr: u64, register_id: u64) -> [u64] = host;
    storage_read(key_len: u64, key_ptr: u64, register_id: u64) -> [u64] = host;
    storage_remove(key_len: u64, key_ptr: u64, register_id: u64) -> [u64] = host;
    storage_has_key(key_len: u64, key_ptr: u64) -> [u64] = host;
    storage_iter_prefix(prefix_len: u64, prefix_ptr: u64) -> [u64] = host;
    storage_iter_range(start_len: u64, start_ptr: u64, end_len: u64, end_ptr: u64) -> [u64] = host;
    storage_iter_next(iterator_id: u64, key_register_id: u64, value_register_id: u64) -> [u64] = host;
    // the legacy injected gas counter
    gas(opcodes: u32) -> [] = host;
    // validators
    validator_stake(account_id_len: u64, account_id_ptr: u64, stake_ptr: u64) -> [] = unsupported;
    validator_total_stake(stake_ptr: u64) -> [] = unsupported;
    // alt_bn128
    alt_bn128_g1_multiexp(value_len: u64, value_ptr: u64, register_id: u64) -> [] = unsupported;
    alt_bn128_g1_sum(value_len: u64, value_ptr: u64, register_id: u64) -> [] = unsupported;
    alt_bn128_pairing_check(value_len: u64, value_ptr: u64) -> [u64] = unsupported;
    // bls12-381
    bls12381_p1_sum(value_len: u64, value_ptr: u64, register_id: u64) -> [u64] = unsupported;
    bls12381_p2_sum(value_len: u64, value_ptr: u64, register_id: u64) -> [u64] = unsupported;
    bls12381_g1_multiexp(value_len: u64, value_ptr: u64, register_id: u64) -> [u64] = unsupported;
    bls12381_g2_multiexp(value_len: u64, value_ptr: u64, register_id: u64) -> [u64] = unsupported;
    bls12381_map_fp_to_g1(value_len: u64, value_ptr: u64, register_id: u64) -> [u64] = unsupported;
    bls12381_map_fp2_to_g2(value_len: u64, value_ptr: u64, register_id: u64) -> [u64] = unsupported;
    bls12381_pairing_check(value_len: u64, value_ptr: u64) -> [u64] = unsupported;
    bls12381_p1_decompress(value_len: u64, value_ptr: u64, register_id: u64) -> [u64] = unsupported;
    bls12381_p2_decompress(value_len: u64, value_ptr: u64, register_id: u64) -> [u64] = unsupported;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_names_are_unique() {
        let mut names: Vec<&str> = IMPORTS.iter().map(|(n, _, _)| *n).collect();
        names.sort();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count);
    }
}
