//! Promises: recorded as receipts in the outcome, priced as nearcore prices them.
//! Veil does not execute them yet; actions it cannot honour fail the call.

use sha2::Digest as _;

use super::*;
use crate::context::{account_type, is_valid_account_id, AccountType};
use crate::costs::{ActionCost, ExtCost::*};
use crate::outcome::Action;

fn read_account_id(st: &mut HostState, mem: &[u8], ptr: u64, len: u64) -> Result<String> {
    let bytes = memory_or_register(st, mem, ptr, len)?;
    st.gas.pay_base(utf8_decoding_base)?;
    st.gas.pay_per(utf8_decoding_byte, bytes.len() as u64)?;
    let id = String::from_utf8(bytes).map_err(|_| HostError::BadUTF8)?;
    if !is_valid_account_id(&id) {
        return Err(HostError::InvalidAccountId);
    }
    Ok(id)
}

fn push_promise(st: &mut HostState, promise: Promise) -> Result<u64> {
    let index = st.promises.len() as u64;
    st.promises.push(promise);
    let limit = st.limits.max_promises_per_function_call_action;
    if st.promises.len() as u64 > limit {
        return Err(HostError::NumberPromisesExceeded {
            number_of_promises: st.promises.len() as u64,
            limit,
        });
    }
    Ok(index)
}

/// A new receipt's fee; each data dependency (true: from the same receiver) is burnt.
fn pay_for_new_receipt(st: &mut HostState, sir: bool, dependencies: &[bool]) -> Result<()> {
    let receipt = ActionCost::new_action_receipt.fee();
    let data = ActionCost::new_data_receipt_base.fee();
    let mut burnt = receipt.send(sir);
    for dep_sir in dependencies {
        burnt = burnt
            .checked_add(data.send(*dep_sir))
            .and_then(|b| b.checked_add(data.execution))
            .ok_or(HostError::IntegerOverflow)?;
    }
    let used = burnt
        .checked_add(receipt.execution)
        .ok_or(HostError::IntegerOverflow)?;
    st.gas.deduct_gas(burnt, used)
}

fn new_receipt(st: &mut HostState, receiver_id: String, depends_on: Vec<u64>) -> u64 {
    st.receipts.push(Receipt {
        receiver_id,
        depends_on,
        actions: Vec::new(),
        refund_to: None,
    });
    st.receipts.len() as u64 - 1
}

/// The receipt of a promise that actions are appended to, and whether it goes to the
/// current account.
fn receipt_of(st: &HostState, promise_idx: u64) -> Result<(usize, bool)> {
    let receipt = match st.promises.get(promise_idx as usize) {
        Some(Promise::Receipt(r)) => *r as usize,
        Some(Promise::Joint(_)) => return Err(HostError::CannotAppendActionToJointPromise),
        None => return Err(HostError::InvalidPromiseIndex { promise_idx }),
    };
    let sir = st.receipts[receipt].receiver_id == st.context.current_account_id;
    Ok((receipt, sir))
}

fn deduct_balance(st: &mut HostState, amount: u128) -> Result<()> {
    st.balance = st
        .balance
        .checked_sub(amount)
        .ok_or(HostError::BalanceExceeded)?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn promise_create(
    st: &mut HostState,
    mem: &mut [u8],
    account_id_len: u64,
    account_id_ptr: u64,
    method_name_len: u64,
    method_name_ptr: u64,
    arguments_len: u64,
    arguments_ptr: u64,
    amount_ptr: u64,
    gas: u64,
) -> Result<u64> {
    let index = promise_batch_create(st, mem, account_id_len, account_id_ptr)?;
    promise_batch_action_function_call(
        st,
        mem,
        index,
        method_name_len,
        method_name_ptr,
        arguments_len,
        arguments_ptr,
        amount_ptr,
        gas,
    )?;
    Ok(index)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn promise_then(
    st: &mut HostState,
    mem: &mut [u8],
    promise_idx: u64,
    account_id_len: u64,
    account_id_ptr: u64,
    method_name_len: u64,
    method_name_ptr: u64,
    arguments_len: u64,
    arguments_ptr: u64,
    amount_ptr: u64,
    gas: u64,
) -> Result<u64> {
    let index = promise_batch_then(st, mem, promise_idx, account_id_len, account_id_ptr)?;
    promise_batch_action_function_call(
        st,
        mem,
        index,
        method_name_len,
        method_name_ptr,
        arguments_len,
        arguments_ptr,
        amount_ptr,
        gas,
    )?;
    Ok(index)
}

pub(crate) fn promise_and(
    st: &mut HostState,
    mem: &mut [u8],
    promise_idx_ptr: u64,
    promise_idx_count: u64,
) -> Result<u64> {
    st.gas.pay_base(base)?;
    prohibited_in_view(st, "promise_and")?;
    st.gas.pay_base(promise_and_base)?;
    let bytes = promise_idx_count
        .checked_mul(8)
        .ok_or(HostError::IntegerOverflow)?;
    st.gas.pay_per(promise_and_per_promise, bytes)?;
    let indices = read_memory(&mut st.gas, mem, promise_idx_ptr, bytes)?.to_vec();
    let mut receipts = Vec::new();
    for chunk in indices.chunks_exact(8) {
        let promise_idx = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        match st.promises.get(promise_idx as usize) {
            Some(Promise::Receipt(r)) => receipts.push(*r),
            Some(Promise::Joint(rs)) => receipts.extend(rs.iter().copied()),
            None => return Err(HostError::InvalidPromiseIndex { promise_idx }),
        }
        let limit = st.limits.max_number_input_data_dependencies;
        if receipts.len() as u64 > limit {
            return Err(HostError::NumberInputDataDependenciesExceeded {
                number_of_input_data_dependencies: receipts.len() as u64,
                limit,
            });
        }
    }
    push_promise(st, Promise::Joint(receipts))
}

pub(crate) fn promise_batch_create(
    st: &mut HostState,
    mem: &mut [u8],
    account_id_len: u64,
    account_id_ptr: u64,
) -> Result<u64> {
    st.gas.pay_base(base)?;
    prohibited_in_view(st, "promise_batch_create")?;
    let account_id = read_account_id(st, mem, account_id_ptr, account_id_len)?;
    let sir = account_id == st.context.current_account_id;
    pay_for_new_receipt(st, sir, &[])?;
    let receipt = new_receipt(st, account_id, Vec::new());
    push_promise(st, Promise::Receipt(receipt))
}

pub(crate) fn promise_batch_then(
    st: &mut HostState,
    mem: &mut [u8],
    promise_idx: u64,
    account_id_len: u64,
    account_id_ptr: u64,
) -> Result<u64> {
    st.gas.pay_base(base)?;
    prohibited_in_view(st, "promise_batch_then")?;
    let account_id = read_account_id(st, mem, account_id_ptr, account_id_len)?;
    let depends_on = match st.promises.get(promise_idx as usize) {
        Some(Promise::Receipt(r)) => vec![*r],
        Some(Promise::Joint(rs)) => rs.clone(),
        None => return Err(HostError::InvalidPromiseIndex { promise_idx }),
    };
    let sir = account_id == st.context.current_account_id;
    let dependencies: Vec<bool> = depends_on
        .iter()
        .map(|&r| st.receipts[r as usize].receiver_id == account_id)
        .collect();
    pay_for_new_receipt(st, sir, &dependencies)?;
    let receipt = new_receipt(st, account_id, depends_on);
    push_promise(st, Promise::Receipt(receipt))
}

pub(crate) fn promise_set_refund_to(
    st: &mut HostState,
    mem: &mut [u8],
    promise_idx: u64,
    account_id_len: u64,
    account_id_ptr: u64,
) -> Result<()> {
    st.gas.pay_base(base)?;
    prohibited_in_view(st, "promise_set_refund_to")?;
    let refund_to = read_account_id(st, mem, account_id_ptr, account_id_len)?;
    let receipt = match st.promises.get(promise_idx as usize) {
        Some(Promise::Receipt(r)) => *r as usize,
        Some(Promise::Joint(_)) => return Err(HostError::CannotSetRefundToOnJointPromise),
        None => return Err(HostError::InvalidPromiseIndex { promise_idx }),
    };
    st.receipts[receipt].refund_to = Some(refund_to);
    Ok(())
}

fn append_action(st: &mut HostState, receipt: usize, action: Action) -> Result<()> {
    st.receipts[receipt].actions.push(action);
    Ok(())
}

pub(crate) fn promise_batch_action_create_account(
    st: &mut HostState,
    _mem: &mut [u8],
    promise_idx: u64,
) -> Result<()> {
    st.gas.pay_base(base)?;
    prohibited_in_view(st, "promise_batch_action_create_account")?;
    let (receipt, sir) = receipt_of(st, promise_idx)?;
    st.gas.pay_action_base(ActionCost::create_account, sir)?;
    append_action(st, receipt, Action::CreateAccount)
}

pub(crate) fn promise_batch_action_deploy_contract(
    st: &mut HostState,
    mem: &mut [u8],
    promise_idx: u64,
    code_len: u64,
    code_ptr: u64,
) -> Result<()> {
    st.gas.pay_base(base)?;
    prohibited_in_view(st, "promise_batch_action_deploy_contract")?;
    let code = memory_or_register(st, mem, code_ptr, code_len)?;
    let code_len = code.len() as u64;
    let limit = st.limits.max_contract_size;
    if code_len > limit {
        return Err(HostError::ContractSizeExceeded {
            size: code_len,
            limit,
        });
    }
    let (receipt, sir) = receipt_of(st, promise_idx)?;
    st.gas
        .pay_action_base(ActionCost::deploy_contract_base, sir)?;
    st.gas
        .pay_action_per_byte(ActionCost::deploy_contract_byte, code_len, sir)?;
    let code_hash = sha2::Sha256::digest(&code).into();
    append_action(
        st,
        receipt,
        Action::DeployContract {
            code_hash,
            code_len,
        },
    )
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn promise_batch_action_function_call(
    st: &mut HostState,
    mem: &mut [u8],
    promise_idx: u64,
    method_name_len: u64,
    method_name_ptr: u64,
    arguments_len: u64,
    arguments_ptr: u64,
    amount_ptr: u64,
    gas: u64,
) -> Result<()> {
    promise_batch_action_function_call_weight(
        st,
        mem,
        promise_idx,
        method_name_len,
        method_name_ptr,
        arguments_len,
        arguments_ptr,
        amount_ptr,
        gas,
        0,
    )
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn promise_batch_action_function_call_weight(
    st: &mut HostState,
    mem: &mut [u8],
    promise_idx: u64,
    method_name_len: u64,
    method_name_ptr: u64,
    arguments_len: u64,
    arguments_ptr: u64,
    amount_ptr: u64,
    gas: u64,
    gas_weight: u64,
) -> Result<()> {
    st.gas.pay_base(base)?;
    prohibited_in_view(st, "promise_batch_action_function_call")?;
    let deposit = get_u128(&mut st.gas, mem, amount_ptr)?;
    let method_name = memory_or_register(st, mem, method_name_ptr, method_name_len)?;
    if method_name.is_empty() {
        return Err(HostError::EmptyMethodName);
    }
    let args = memory_or_register(st, mem, arguments_ptr, arguments_len)?;
    let (receipt, sir) = receipt_of(st, promise_idx)?;
    let bytes = (method_name.len() + args.len()) as u64;
    st.gas
        .pay_action_base(ActionCost::function_call_base, sir)?;
    st.gas
        .pay_action_per_byte(ActionCost::function_call_byte, bytes, sir)?;
    st.gas.prepay_gas(gas)?;
    // nearcore lets a contract with no balance attach exactly 1 yoctoNEAR (for
    // `ft_transfer_call` and friends); the network subsidizes it.
    if !(deposit == 1 && st.balance == 0) {
        deduct_balance(st, deposit)?;
    }
    // nearcore stores method names as bytes and checks UTF-8 only when the receipt runs;
    // the outcome shows them lossily.
    let method_name = String::from_utf8_lossy(&method_name).into_owned();
    append_action(
        st,
        receipt,
        Action::FunctionCall {
            method_name,
            args,
            deposit,
            gas,
            gas_weight,
        },
    )
}

pub(crate) fn promise_batch_action_transfer(
    st: &mut HostState,
    mem: &mut [u8],
    promise_idx: u64,
    amount_ptr: u64,
) -> Result<()> {
    st.gas.pay_base(base)?;
    prohibited_in_view(st, "promise_batch_action_transfer")?;
    let deposit = get_u128(&mut st.gas, mem, amount_ptr)?;
    let (receipt, sir) = receipt_of(st, promise_idx)?;
    // A transfer to an implicit account creates it (and, NEAR-implicit, its key).
    let transfer = ActionCost::transfer.fee();
    let create = ActionCost::create_account.fee();
    let key = ActionCost::add_full_access_key.fee();
    let (mut send, mut exec) = (transfer.send(sir), transfer.execution);
    match account_type(&st.receipts[receipt].receiver_id) {
        AccountType::Named => {}
        AccountType::NearImplicit => {
            send += create.send(sir) + key.send(sir);
            exec += create.execution + key.execution;
        }
        AccountType::EthImplicit | AccountType::NearDeterministic | AccountType::Universal => {
            send += create.send(sir);
            exec += create.execution;
        }
    }
    st.gas.deduct_gas(send, send + exec)?;
    deduct_balance(st, deposit)?;
    append_action(st, receipt, Action::Transfer { deposit })
}

pub(crate) fn promise_results_count(st: &mut HostState, _mem: &mut [u8]) -> Result<u64> {
    st.gas.pay_base(base)?;
    prohibited_in_view(st, "promise_results_count")?;
    Ok(st.context.promise_results.len() as u64)
}

pub(crate) fn promise_result(
    st: &mut HostState,
    _mem: &mut [u8],
    result_idx: u64,
    register_id: u64,
) -> Result<u64> {
    st.gas.pay_base(base)?;
    prohibited_in_view(st, "promise_result")?;
    match st.context.promise_results.get(result_idx as usize) {
        None => Err(HostError::InvalidPromiseResultIndex { result_idx }),
        Some(crate::context::PromiseResult::Successful(data)) => {
            let data = data.clone();
            st.registers
                .set_shared(&mut st.gas, &st.limits, register_id, data)?;
            Ok(1)
        }
        Some(crate::context::PromiseResult::Failed) => Ok(2),
    }
}

pub(crate) fn promise_return(st: &mut HostState, _mem: &mut [u8], promise_idx: u64) -> Result<()> {
    st.gas.pay_base(base)?;
    st.gas.pay_base(crate::costs::ExtCost::promise_return)?;
    prohibited_in_view(st, "promise_return")?;
    match st.promises.get(promise_idx as usize) {
        Some(Promise::Receipt(r)) => {
            st.return_data = ReturnData::ReceiptIndex(*r);
            Ok(())
        }
        Some(Promise::Joint(_)) => Err(HostError::CannotReturnJointPromise),
        None => Err(HostError::InvalidPromiseIndex { promise_idx }),
    }
}
