//! Storage host functions. Values are priced by key and value bytes as in nearcore;
//! nearcore's trie-node charges (`touching_trie_node`) depend on its trie's shape and
//! are not charged (see docs/gas.md, "NEAR").

use super::*;
use crate::costs::{ExtCost::*, INLINE_DISK_VALUE_THRESHOLD};
use crate::storage::StorageError;

fn storage_error(e: StorageError) -> HostError {
    HostError::Storage(e.0)
}

fn read_key(st: &mut HostState, mem: &[u8], key_ptr: u64, key_len: u64) -> Result<Vec<u8>> {
    let key = memory_or_register(st, mem, key_ptr, key_len)?;
    let limit = st.limits.max_length_storage_key;
    if key.len() as u64 > limit {
        return Err(HostError::KeyLengthExceeded {
            length: key.len() as u64,
            limit,
        });
    }
    Ok(key)
}

pub(crate) fn storage_write(
    st: &mut HostState,
    mem: &mut [u8],
    key_len: u64,
    key_ptr: u64,
    value_len: u64,
    value_ptr: u64,
    register_id: u64,
) -> Result<u64> {
    st.gas.pay_base(base)?;
    prohibited_in_view(st, "storage_write")?;
    st.gas.pay_base(storage_write_base)?;
    let key = read_key(st, mem, key_ptr, key_len)?;
    let value = memory_or_register(st, mem, value_ptr, value_len)?;
    let limit = st.limits.max_length_storage_value;
    if value.len() as u64 > limit {
        return Err(HostError::ValueLengthExceeded {
            length: value.len() as u64,
            limit,
        });
    }
    st.gas.pay_per(storage_write_key_byte, key.len() as u64)?;
    st.gas
        .pay_per(storage_write_value_byte, value.len() as u64)?;
    let evicted = st.storage.set(&key, &value).map_err(storage_error)?;
    match evicted {
        Some(old) => {
            st.gas
                .pay_per(storage_write_evicted_byte, old.len() as u64)?;
            st.storage_usage = st
                .storage_usage
                .checked_sub(old.len() as u64)
                .and_then(|u| u.checked_add(value.len() as u64))
                .ok_or(HostError::IntegerOverflow)?;
            set_register(st, register_id, old)?;
            Ok(1)
        }
        None => {
            let record = (key.len() + value.len()) as u64 + st.limits.num_extra_bytes_record;
            st.storage_usage = st
                .storage_usage
                .checked_add(record)
                .ok_or(HostError::IntegerOverflow)?;
            Ok(0)
        }
    }
}

pub(crate) fn storage_read(
    st: &mut HostState,
    mem: &mut [u8],
    key_len: u64,
    key_ptr: u64,
    register_id: u64,
) -> Result<u64> {
    st.gas.pay_base(base)?;
    st.gas.pay_base(storage_read_base)?;
    let key = read_key(st, mem, key_ptr, key_len)?;
    st.gas.pay_per(storage_read_key_byte, key.len() as u64)?;
    match st.storage.get(&key).map_err(storage_error)? {
        Some(value) => {
            st.gas
                .pay_per(storage_read_value_byte, value.len() as u64)?;
            if value.len() > INLINE_DISK_VALUE_THRESHOLD {
                st.gas.pay_base(storage_large_read_overhead_base)?;
                st.gas
                    .pay_per(storage_large_read_overhead_byte, value.len() as u64)?;
            }
            set_register(st, register_id, value)?;
            Ok(1)
        }
        None => Ok(0),
    }
}

pub(crate) fn storage_remove(
    st: &mut HostState,
    mem: &mut [u8],
    key_len: u64,
    key_ptr: u64,
    register_id: u64,
) -> Result<u64> {
    st.gas.pay_base(base)?;
    prohibited_in_view(st, "storage_remove")?;
    st.gas.pay_base(storage_remove_base)?;
    let key = read_key(st, mem, key_ptr, key_len)?;
    st.gas.pay_per(storage_remove_key_byte, key.len() as u64)?;
    match st.storage.remove(&key).map_err(storage_error)? {
        Some(value) => {
            st.gas
                .pay_per(storage_remove_ret_value_byte, value.len() as u64)?;
            let record = (key.len() + value.len()) as u64 + st.limits.num_extra_bytes_record;
            st.storage_usage = st
                .storage_usage
                .checked_sub(record)
                .ok_or(HostError::IntegerOverflow)?;
            set_register(st, register_id, value)?;
            Ok(1)
        }
        None => Ok(0),
    }
}

pub(crate) fn storage_has_key(
    st: &mut HostState,
    mem: &mut [u8],
    key_len: u64,
    key_ptr: u64,
) -> Result<u64> {
    st.gas.pay_base(base)?;
    st.gas.pay_base(storage_has_key_base)?;
    let key = read_key(st, mem, key_ptr, key_len)?;
    st.gas.pay_per(storage_has_key_byte, key.len() as u64)?;
    Ok(st.storage.get(&key).map_err(storage_error)?.is_some() as u64)
}

fn deprecated<T>(method_name: &str) -> Result<T> {
    Err(HostError::Deprecated {
        method_name: method_name.to_string(),
    })
}

pub(crate) fn storage_iter_prefix(
    _st: &mut HostState,
    _mem: &mut [u8],
    _prefix_len: u64,
    _prefix_ptr: u64,
) -> Result<u64> {
    deprecated("storage_iter_prefix")
}

pub(crate) fn storage_iter_range(
    _st: &mut HostState,
    _mem: &mut [u8],
    _start_len: u64,
    _start_ptr: u64,
    _end_len: u64,
    _end_ptr: u64,
) -> Result<u64> {
    deprecated("storage_iter_range")
}

pub(crate) fn storage_iter_next(
    _st: &mut HostState,
    _mem: &mut [u8],
    _iterator_id: u64,
    _key_register_id: u64,
    _value_register_id: u64,
) -> Result<u64> {
    deprecated("storage_iter_next")
}
