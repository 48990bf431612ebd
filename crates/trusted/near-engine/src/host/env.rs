//! Registers, context, economics, math and miscellaneous host functions.

use sha2::Digest as _;

use super::*;
use crate::costs::{ExtCost::*, REGULAR_OP_COST};

// ---- registers ----

pub(crate) fn read_register(
    st: &mut HostState,
    mem: &mut [u8],
    register_id: u64,
    ptr: u64,
) -> Result<()> {
    st.gas.pay_base(base)?;
    let data = st.registers.get(&mut st.gas, register_id)?.to_vec();
    write_memory(&mut st.gas, mem, ptr, &data)
}

pub(crate) fn register_len(st: &mut HostState, _mem: &mut [u8], register_id: u64) -> Result<u64> {
    st.gas.pay_base(base)?;
    Ok(st.registers.len_of(register_id).unwrap_or(u64::MAX))
}

pub(crate) fn write_register(
    st: &mut HostState,
    mem: &mut [u8],
    register_id: u64,
    data_len: u64,
    data_ptr: u64,
) -> Result<()> {
    st.gas.pay_base(base)?;
    let data = read_memory(&mut st.gas, mem, data_ptr, data_len)?.to_vec();
    set_register(st, register_id, data)
}

// ---- context ----

fn context_to_register(
    st: &mut HostState,
    register_id: u64,
    view_name: Option<&str>,
    value: impl FnOnce(&NearContext) -> Vec<u8>,
) -> Result<()> {
    st.gas.pay_base(base)?;
    if let Some(name) = view_name {
        prohibited_in_view(st, name)?;
    }
    let data = value(&st.context);
    set_register(st, register_id, data)
}

pub(crate) fn current_account_id(
    st: &mut HostState,
    _mem: &mut [u8],
    register_id: u64,
) -> Result<()> {
    context_to_register(st, register_id, None, |c| {
        c.current_account_id.clone().into_bytes()
    })
}

pub(crate) fn chain_id(st: &mut HostState, _mem: &mut [u8], register_id: u64) -> Result<()> {
    context_to_register(st, register_id, None, |c| c.chain_id.clone().into_bytes())
}

pub(crate) fn signer_account_id(
    st: &mut HostState,
    _mem: &mut [u8],
    register_id: u64,
) -> Result<()> {
    context_to_register(st, register_id, Some("signer_account_id"), |c| {
        c.signer_account_id.clone().into_bytes()
    })
}

pub(crate) fn signer_account_pk(
    st: &mut HostState,
    _mem: &mut [u8],
    register_id: u64,
) -> Result<()> {
    context_to_register(st, register_id, Some("signer_account_pk"), |c| {
        c.signer_account_pk.clone()
    })
}

pub(crate) fn predecessor_account_id(
    st: &mut HostState,
    _mem: &mut [u8],
    register_id: u64,
) -> Result<()> {
    context_to_register(st, register_id, Some("predecessor_account_id"), |c| {
        c.predecessor_account_id.clone().into_bytes()
    })
}

pub(crate) fn refund_to_account_id(
    st: &mut HostState,
    _mem: &mut [u8],
    register_id: u64,
) -> Result<()> {
    context_to_register(st, register_id, Some("refund_to_account_id"), |c| {
        c.refund_to_account_id.clone().into_bytes()
    })
}

pub(crate) fn input(st: &mut HostState, _mem: &mut [u8], register_id: u64) -> Result<()> {
    st.gas.pay_base(base)?;
    let data = st.context.input.clone();
    st.registers
        .set_shared(&mut st.gas, &st.limits, register_id, data)
}

pub(crate) fn block_index(st: &mut HostState, _mem: &mut [u8]) -> Result<u64> {
    st.gas.pay_base(base)?;
    Ok(st.context.block_height)
}

pub(crate) fn block_timestamp(st: &mut HostState, _mem: &mut [u8]) -> Result<u64> {
    st.gas.pay_base(base)?;
    Ok(st.context.block_timestamp)
}

pub(crate) fn epoch_height(st: &mut HostState, _mem: &mut [u8]) -> Result<u64> {
    st.gas.pay_base(base)?;
    Ok(st.context.epoch_height)
}

pub(crate) fn storage_usage(st: &mut HostState, _mem: &mut [u8]) -> Result<u64> {
    st.gas.pay_base(base)?;
    Ok(st.storage_usage)
}

/// SHA-256 of the running code, as nearcore's `current_contract_code` reports a local
/// contract (1: the hash is in the register).
pub(crate) fn current_contract_code(
    st: &mut HostState,
    _mem: &mut [u8],
    register_id: u64,
) -> Result<u64> {
    st.gas.pay_base(base)?;
    let hash = st.code_hash.to_vec();
    set_register(st, register_id, hash)?;
    Ok(1)
}

// ---- economics ----

pub(crate) fn account_balance(st: &mut HostState, mem: &mut [u8], balance_ptr: u64) -> Result<()> {
    st.gas.pay_base(base)?;
    set_u128(&mut st.gas, mem, balance_ptr, st.balance)
}

pub(crate) fn account_locked_balance(
    st: &mut HostState,
    mem: &mut [u8],
    balance_ptr: u64,
) -> Result<()> {
    st.gas.pay_base(base)?;
    set_u128(
        &mut st.gas,
        mem,
        balance_ptr,
        st.context.account_locked_balance,
    )
}

pub(crate) fn attached_deposit(st: &mut HostState, mem: &mut [u8], balance_ptr: u64) -> Result<()> {
    st.gas.pay_base(base)?;
    set_u128(&mut st.gas, mem, balance_ptr, st.context.attached_deposit)
}

pub(crate) fn prepaid_gas(st: &mut HostState, _mem: &mut [u8]) -> Result<u64> {
    st.gas.pay_base(base)?;
    prohibited_in_view(st, "prepaid_gas")?;
    Ok(st.context.prepaid_gas)
}

pub(crate) fn used_gas(st: &mut HostState, _mem: &mut [u8]) -> Result<u64> {
    st.gas.pay_base(base)?;
    prohibited_in_view(st, "used_gas")?;
    Ok(st.gas.used_gas())
}

// ---- math ----

pub(crate) fn random_seed(st: &mut HostState, _mem: &mut [u8], register_id: u64) -> Result<()> {
    context_to_register(st, register_id, None, |c| c.random_seed.clone())
}

fn hash_into_register(
    st: &mut HostState,
    mem: &[u8],
    value_len: u64,
    value_ptr: u64,
    register_id: u64,
    (base_cost, byte_cost): (ExtCost, ExtCost),
    digest: fn(&[u8]) -> Vec<u8>,
) -> Result<()> {
    st.gas.pay_base(base_cost)?;
    let value = memory_or_register(st, mem, value_ptr, value_len)?;
    st.gas.pay_per(byte_cost, value.len() as u64)?;
    set_register(st, register_id, digest(&value))
}

pub(crate) fn sha256(
    st: &mut HostState,
    mem: &mut [u8],
    len: u64,
    ptr: u64,
    register_id: u64,
) -> Result<()> {
    hash_into_register(
        st,
        mem,
        len,
        ptr,
        register_id,
        (sha256_base, sha256_byte),
        |v| sha2::Sha256::digest(v).to_vec(),
    )
}

pub(crate) fn keccak256(
    st: &mut HostState,
    mem: &mut [u8],
    len: u64,
    ptr: u64,
    register_id: u64,
) -> Result<()> {
    hash_into_register(
        st,
        mem,
        len,
        ptr,
        register_id,
        (keccak256_base, keccak256_byte),
        |v| sha3::Keccak256::digest(v).to_vec(),
    )
}

pub(crate) fn keccak512(
    st: &mut HostState,
    mem: &mut [u8],
    len: u64,
    ptr: u64,
    register_id: u64,
) -> Result<()> {
    hash_into_register(
        st,
        mem,
        len,
        ptr,
        register_id,
        (keccak512_base, keccak512_byte),
        |v| sha3::Keccak512::digest(v).to_vec(),
    )
}

pub(crate) fn sha3_256(
    st: &mut HostState,
    mem: &mut [u8],
    len: u64,
    ptr: u64,
    register_id: u64,
) -> Result<()> {
    hash_into_register(
        st,
        mem,
        len,
        ptr,
        register_id,
        (sha3_256_base, sha3_256_byte),
        |v| sha3::Sha3_256::digest(v).to_vec(),
    )
}

pub(crate) fn sha3_384(
    st: &mut HostState,
    mem: &mut [u8],
    len: u64,
    ptr: u64,
    register_id: u64,
) -> Result<()> {
    hash_into_register(
        st,
        mem,
        len,
        ptr,
        register_id,
        (sha3_384_base, sha3_384_byte),
        |v| sha3::Sha3_384::digest(v).to_vec(),
    )
}

pub(crate) fn sha3_512(
    st: &mut HostState,
    mem: &mut [u8],
    len: u64,
    ptr: u64,
    register_id: u64,
) -> Result<()> {
    hash_into_register(
        st,
        mem,
        len,
        ptr,
        register_id,
        (sha3_512_base, sha3_512_byte),
        |v| sha3::Sha3_512::digest(v).to_vec(),
    )
}

pub(crate) fn ripemd160(
    st: &mut HostState,
    mem: &mut [u8],
    len: u64,
    ptr: u64,
    register_id: u64,
) -> Result<()> {
    st.gas.pay_base(ripemd160_base)?;
    let value = memory_or_register(st, mem, ptr, len)?;
    // ripemd160 is charged per 64-byte block of the padded message.
    let blocks = (value.len() as u64)
        .checked_add(8)
        .ok_or(HostError::IntegerOverflow)?
        / 64
        + 1;
    st.gas.pay_per(ripemd160_block, blocks)?;
    set_register(st, register_id, ripemd::Ripemd160::digest(&value).to_vec())
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn ecrecover(
    st: &mut HostState,
    mem: &mut [u8],
    hash_len: u64,
    hash_ptr: u64,
    sig_len: u64,
    sig_ptr: u64,
    v: u64,
    malleability_flag: u64,
    register_id: u64,
) -> Result<u64> {
    let recover_error = |msg: String| HostError::ECRecoverError { msg };
    st.gas.pay_base(ecrecover_base)?;
    let signature = memory_or_register(st, mem, sig_ptr, sig_len)?;
    if signature.len() != 64 {
        return Err(recover_error(format!(
            "The length of the signature: {}, exceeds the limit of 64 bytes",
            signature.len()
        )));
    }
    if v >= 4 {
        return Err(recover_error(format!(
            "V recovery byte 0 through 3 are valid but was provided {v}"
        )));
    }
    let hash = memory_or_register(st, mem, hash_ptr, hash_len)?;
    if hash.len() != 32 {
        return Err(recover_error(format!(
            "The length of the hash: {}, exceeds the limit of 32 bytes",
            hash.len()
        )));
    }
    if malleability_flag > 1 {
        return Err(recover_error(format!(
            "Malleability flag needs to be 0 or 1, but is instead {malleability_flag}"
        )));
    }
    match crate::crypto::secp256k1_recover(&hash, &signature, v as u8, malleability_flag == 1) {
        Some(public_key) => {
            set_register(st, register_id, public_key.to_vec())?;
            Ok(1)
        }
        None => Ok(0),
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn ed25519_verify(
    st: &mut HostState,
    mem: &mut [u8],
    sig_len: u64,
    sig_ptr: u64,
    msg_len: u64,
    msg_ptr: u64,
    pub_key_len: u64,
    pub_key_ptr: u64,
) -> Result<u64> {
    let invalid = |msg: &str| HostError::Ed25519VerifyInvalidInput {
        msg: msg.to_string(),
    };
    st.gas.pay_base(ed25519_verify_base)?;
    let signature = memory_or_register(st, mem, sig_ptr, sig_len)?;
    let signature: [u8; 64] = signature
        .as_slice()
        .try_into()
        .map_err(|_| invalid("invalid signature length"))?;
    // nearcore keeps ed25519-dalek 1's sanity check so costs do not change.
    if signature[63] & 0b1110_0000 != 0 {
        return Ok(0);
    }
    let message = memory_or_register(st, mem, msg_ptr, msg_len)?;
    st.gas.pay_per(ed25519_verify_byte, message.len() as u64)?;
    let public_key = memory_or_register(st, mem, pub_key_ptr, pub_key_len)?;
    let public_key: [u8; 32] = public_key
        .as_slice()
        .try_into()
        .map_err(|_| invalid("invalid public key length"))?;
    Ok(crate::crypto::ed25519_verify(&signature, &message, &public_key) as u64)
}

// ---- miscellaneous ----

pub(crate) fn value_return(
    st: &mut HostState,
    mem: &mut [u8],
    value_len: u64,
    value_ptr: u64,
) -> Result<()> {
    st.gas.pay_base(base)?;
    let value = memory_or_register(st, mem, value_ptr, value_len)?;
    let bytes = value.len() as u64;
    let limit = st.limits.max_length_returned_data;
    if bytes > limit {
        return Err(HostError::ReturnedValueLengthExceeded {
            length: bytes,
            limit,
        });
    }
    // Each receiver of the value gets a data receipt, paid per byte (burnt up front).
    let mut burn = 0u64;
    for receiver in &st.context.output_data_receivers {
        let sir = *receiver == st.context.current_account_id;
        let fee = crate::costs::ActionCost::new_data_receipt_byte.fee();
        burn = fee
            .send(sir)
            .checked_add(fee.execution)
            .and_then(|per_byte| per_byte.checked_mul(bytes))
            .and_then(|cost| burn.checked_add(cost))
            .ok_or(HostError::IntegerOverflow)?;
    }
    st.gas.deduct_gas(burn, burn)?;
    st.return_data = ReturnData::Value(value);
    Ok(())
}

pub(crate) fn panic(st: &mut HostState, _mem: &mut [u8]) -> Result<()> {
    st.gas.pay_base(base)?;
    Err(HostError::GuestPanic {
        panic_msg: "explicit guest panic".to_string(),
    })
}

pub(crate) fn panic_utf8(st: &mut HostState, mem: &mut [u8], len: u64, ptr: u64) -> Result<()> {
    st.gas.pay_base(base)?;
    Err(HostError::GuestPanic {
        panic_msg: utf8_string(st, mem, len, ptr)?,
    })
}

pub(crate) fn log_utf8(st: &mut HostState, mem: &mut [u8], len: u64, ptr: u64) -> Result<()> {
    st.gas.pay_base(base)?;
    check_can_add_log(st)?;
    let message = utf8_string(st, mem, len, ptr)?;
    st.gas.pay_base(log_base)?;
    st.gas.pay_per(log_byte, message.len() as u64)?;
    push_log(st, message)
}

pub(crate) fn log_utf16(st: &mut HostState, mem: &mut [u8], len: u64, ptr: u64) -> Result<()> {
    st.gas.pay_base(base)?;
    check_can_add_log(st)?;
    let message = utf16_string(st, mem, len, ptr)?;
    st.gas.pay_base(log_base)?;
    st.gas.pay_per(log_byte, message.len() as u64)?;
    push_log(st, message)
}

/// AssemblyScript's abort: strings are UTF-16 with their byte length in the 4 bytes before.
pub(crate) fn abort(
    st: &mut HostState,
    mem: &mut [u8],
    msg_ptr: u32,
    filename_ptr: u32,
    line: u32,
    col: u32,
) -> Result<()> {
    st.gas.pay_base(base)?;
    if msg_ptr < 4 || filename_ptr < 4 {
        return Err(HostError::BadUTF16);
    }
    check_can_add_log(st)?;
    let len_at = |st: &mut HostState, ptr: u32| -> Result<u64> {
        let bytes = read_memory(&mut st.gas, mem, u64::from(ptr - 4), 4)?;
        Ok(u64::from(u32::from_le_bytes(
            bytes.try_into().expect("4 bytes"),
        )))
    };
    let msg_len = len_at(st, msg_ptr)?;
    let filename_len = len_at(st, filename_ptr)?;
    let msg = utf16_string(st, mem, msg_len, u64::from(msg_ptr))?;
    let filename = utf16_string(st, mem, filename_len, u64::from(filename_ptr))?;
    let message = format!("{msg}, filename: \"{filename}\" line: {line} col: {col}");
    st.gas.pay_base(log_base)?;
    st.gas.pay_per(log_byte, message.len() as u64)?;
    push_log(st, format!("ABORT: {message}"))?;
    Err(HostError::GuestPanic { panic_msg: message })
}

/// The legacy gas-injection import (`gas`): charges `opcodes` instructions.
pub(crate) fn gas(st: &mut HostState, _mem: &mut [u8], opcodes: u32) -> Result<()> {
    st.gas
        .burn_gas(REGULAR_OP_COST.saturating_mul(u64::from(opcodes)))
}

fn check_can_add_log(st: &HostState) -> Result<()> {
    if st.logs.len() as u64 >= st.limits.max_number_logs {
        return Err(HostError::NumberOfLogsExceeded {
            limit: st.limits.max_number_logs,
        });
    }
    Ok(())
}

fn log_length_exceeded<T>(st: &HostState, add: u64) -> Result<T> {
    Err(HostError::TotalLogLengthExceeded {
        length: st.total_log_length.saturating_add(add),
        limit: st.limits.max_total_log_length,
    })
}

fn push_log(st: &mut HostState, message: String) -> Result<()> {
    let len = message.len() as u64;
    let Some(total) = st.total_log_length.checked_add(len) else {
        return log_length_exceeded(st, len);
    };
    st.total_log_length = total;
    if total > st.limits.max_total_log_length {
        return log_length_exceeded(st, len);
    }
    st.logs.push(message);
    Ok(())
}

/// `len == u64::MAX`: NUL-terminated.
fn utf8_string(st: &mut HostState, mem: &[u8], len: u64, ptr: u64) -> Result<String> {
    st.gas.pay_base(utf8_decoding_base)?;
    let max_len = st
        .limits
        .max_total_log_length
        .saturating_sub(st.total_log_length);
    let bytes = if len != u64::MAX {
        if len > max_len {
            return log_length_exceeded(st, len);
        }
        read_memory(&mut st.gas, mem, ptr, len)?.to_vec()
    } else {
        let mut bytes = Vec::new();
        for i in 0..=max_len {
            let at = ptr.checked_add(i).ok_or(HostError::MemoryAccessViolation)?;
            let byte = read_memory(&mut st.gas, mem, at, 1)?[0];
            if byte == 0 {
                break;
            }
            if i == max_len {
                return log_length_exceeded(st, max_len.saturating_add(1));
            }
            bytes.push(byte);
        }
        bytes
    };
    st.gas.pay_per(utf8_decoding_byte, bytes.len() as u64)?;
    String::from_utf8(bytes).map_err(|_| HostError::BadUTF8)
}

/// `len == u64::MAX`: terminated by a NUL code unit.
fn utf16_string(st: &mut HostState, mem: &[u8], mut len: u64, ptr: u64) -> Result<String> {
    st.gas.pay_base(utf16_decoding_base)?;
    let max_len = st
        .limits
        .max_total_log_length
        .saturating_sub(st.total_log_length);
    let bytes = if len == u64::MAX {
        len = 0;
        loop {
            let at = ptr
                .checked_add(len)
                .ok_or(HostError::MemoryAccessViolation)?;
            let unit = read_memory(&mut st.gas, mem, at, 2)?;
            if unit == [0, 0] {
                break;
            }
            len = match len.checked_add(2) {
                Some(l) if l <= max_len => l,
                Some(l) => return log_length_exceeded(st, l),
                None => return log_length_exceeded(st, u64::MAX),
            };
        }
        read_memory_free(mem, ptr, len)?.to_vec()
    } else {
        read_memory(&mut st.gas, mem, ptr, len)?.to_vec()
    };
    if bytes.len() % 2 != 0 {
        return Err(HostError::BadUTF16);
    }
    if len > max_len {
        return log_length_exceeded(st, len);
    }
    st.gas.pay_per(utf16_decoding_byte, len)?;
    char::decode_utf16(
        bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]])),
    )
    .collect::<std::result::Result<String, _>>()
    .map_err(|_| HostError::BadUTF16)
}
