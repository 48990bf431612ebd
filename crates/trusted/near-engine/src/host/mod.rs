//! NEAR's host functions, ported from nearcore's `near-vm-runner` 0.38 (`logic/host.rs`):
//! the same checks in the same order, the same costs, the same errors. Each takes the
//! call's [`HostState`] and the contract's memory; `crate::imports` links them.

mod env;
mod promises;
mod storage;

pub(crate) use env::*;
pub(crate) use promises::*;
pub(crate) use storage::*;

use std::collections::HashMap;
use std::sync::Arc;

use crate::context::NearContext;
use crate::costs::{ExtCost, Limits};
use crate::error::HostError;
use crate::gas::GasCounter;
use crate::outcome::{Receipt, ReturnData};
use crate::storage::Overlay;

pub(crate) type Result<T> = std::result::Result<T, HostError>;

/// A promise index as the contract sees it: one receipt, or a join (`promise_and`).
#[derive(Debug, Clone)]
pub(crate) enum Promise {
    Receipt(u64),
    Joint(Vec<u64>),
}

/// Everything one call works on.
pub(crate) struct HostState {
    pub gas: GasCounter,
    pub registers: Registers,
    pub context: NearContext,
    pub limits: Arc<Limits>,
    pub storage: Overlay,
    pub logs: Vec<String>,
    pub total_log_length: u64,
    pub return_data: ReturnData,
    pub promises: Vec<Promise>,
    pub receipts: Vec<Receipt>,
    pub balance: u128,
    pub storage_usage: u64,
    pub code_hash: [u8; 32],
    pub memory: Option<wasmi::Memory>,
    /// wasmi's fuel when the contract last left the host (see `crate::gas`).
    pub fuel_at_sync: u64,
    /// The memory's size in pages then.
    pub pages_at_sync: u64,
    pub store_limits: wasmi::StoreLimits,
}

/// wasmi charges `memory.grow` one fuel per byte added (`bytes_copied_per_fuel` is 1 so
/// that `memory.copy`/`fill` cost one instruction per byte, as in nearcore); nearcore
/// charges `linear_op_unit_cost` per page. The fuel of grown pages is given back here.
const FUEL_PER_GROWN_PAGE: u64 = 64 * 1024;

impl HostState {
    /// Charges the Wasm instructions run since the last sync, given wasmi's fuel and the
    /// memory size now; gives wasmi the fuel the gas left allows and returns it.
    pub fn sync_wasm(&mut self, fuel_now: u64, pages_now: u64) -> Result<u64> {
        let grown = pages_now.saturating_sub(self.pages_at_sync);
        let executed = self
            .fuel_at_sync
            .saturating_sub(fuel_now)
            .saturating_sub(grown.saturating_mul(FUEL_PER_GROWN_PAGE));
        let per_page = crate::costs::LINEAR_OP_UNIT_COST / crate::costs::REGULAR_OP_COST;
        let result = self
            .gas
            .burn_instructions(executed.saturating_add(grown.saturating_mul(per_page)));
        self.pages_at_sync = pages_now;
        self.fuel_at_sync = self.gas.fuel_left();
        result.map(|()| self.fuel_at_sync)
    }
}

/// nearcore's registers: a sparse map (near-sdk uses ids near `u64::MAX`), bounded in
/// count, size and total memory.
#[derive(Default)]
pub(crate) struct Registers {
    registers: HashMap<u64, Vec<u8>>,
    total_memory_usage: u64,
}

impl Registers {
    pub fn get(&self, gas: &mut GasCounter, register_id: u64) -> Result<&[u8]> {
        let data = self
            .registers
            .get(&register_id)
            .ok_or(HostError::InvalidRegisterId { register_id })?;
        gas.pay_base(ExtCost::read_register_base)?;
        gas.pay_per(ExtCost::read_register_byte, data.len() as u64)?;
        Ok(data)
    }

    pub fn len_of(&self, register_id: u64) -> Option<u64> {
        self.registers.get(&register_id).map(|d| d.len() as u64)
    }

    pub fn set(
        &mut self,
        gas: &mut GasCounter,
        limits: &Limits,
        register_id: u64,
        data: Vec<u8>,
    ) -> Result<()> {
        self.set_impl(gas, limits, register_id, data, true)
    }

    /// nearcore shares some buffers with registers (`input`, promise results) and does
    /// not charge their bytes.
    pub fn set_shared(
        &mut self,
        gas: &mut GasCounter,
        limits: &Limits,
        register_id: u64,
        data: Vec<u8>,
    ) -> Result<()> {
        self.set_impl(gas, limits, register_id, data, false)
    }

    fn set_impl(
        &mut self,
        gas: &mut GasCounter,
        limits: &Limits,
        register_id: u64,
        data: Vec<u8>,
        charge_bytes: bool,
    ) -> Result<()> {
        let len = data.len() as u64;
        gas.pay_base(ExtCost::write_register_base)?;
        if charge_bytes {
            gas.pay_per(ExtCost::write_register_byte, len)?;
        }
        if len > limits.max_register_size {
            return Err(HostError::MemoryAccessViolation);
        }
        if self.registers.len() as u64 >= limits.max_number_registers {
            return Err(HostError::MemoryAccessViolation);
        }
        let usage = |len: u64| len + 8;
        let old = self
            .registers
            .get(&register_id)
            .map_or(0, |d| usage(d.len() as u64));
        let total = (self.total_memory_usage - old)
            .checked_add(usage(len))
            .ok_or(HostError::MemoryAccessViolation)?;
        if total > limits.registers_memory_limit {
            return Err(HostError::MemoryAccessViolation);
        }
        self.total_memory_usage = total;
        self.registers.insert(register_id, data);
        Ok(())
    }
}

// ---- memory access, charged as nearcore charges it ----

fn range(memory_len: usize, ptr: u64, len: u64) -> Result<std::ops::Range<usize>> {
    let start = usize::try_from(ptr).map_err(|_| HostError::MemoryAccessViolation)?;
    let len = usize::try_from(len).map_err(|_| HostError::MemoryAccessViolation)?;
    let end = start
        .checked_add(len)
        .ok_or(HostError::MemoryAccessViolation)?;
    if end > memory_len {
        return Err(HostError::MemoryAccessViolation);
    }
    Ok(start..end)
}

pub(crate) fn read_memory_free(memory: &[u8], ptr: u64, len: u64) -> Result<&[u8]> {
    Ok(&memory[range(memory.len(), ptr, len)?])
}

pub(crate) fn read_memory<'m>(
    gas: &mut GasCounter,
    memory: &'m [u8],
    ptr: u64,
    len: u64,
) -> Result<&'m [u8]> {
    gas.pay_base(ExtCost::read_memory_base)?;
    gas.pay_per(ExtCost::read_memory_byte, len)?;
    read_memory_free(memory, ptr, len)
}

pub(crate) fn write_memory(
    gas: &mut GasCounter,
    memory: &mut [u8],
    ptr: u64,
    data: &[u8],
) -> Result<()> {
    gas.pay_base(ExtCost::write_memory_base)?;
    gas.pay_per(ExtCost::write_memory_byte, data.len() as u64)?;
    let range = range(memory.len(), ptr, data.len() as u64)?;
    memory[range].copy_from_slice(data);
    Ok(())
}

pub(crate) fn get_u128(gas: &mut GasCounter, memory: &[u8], ptr: u64) -> Result<u128> {
    let bytes = read_memory(gas, memory, ptr, 16)?;
    Ok(u128::from_le_bytes(bytes.try_into().expect("16 bytes")))
}

pub(crate) fn set_u128(
    gas: &mut GasCounter,
    memory: &mut [u8],
    ptr: u64,
    value: u128,
) -> Result<()> {
    write_memory(gas, memory, ptr, &value.to_le_bytes())
}

/// `len == u64::MAX` reads register `ptr`, else `len` bytes of memory at `ptr`.
pub(crate) fn memory_or_register(
    st: &mut HostState,
    memory: &[u8],
    ptr: u64,
    len: u64,
) -> Result<Vec<u8>> {
    if len == u64::MAX {
        Ok(st.registers.get(&mut st.gas, ptr)?.to_vec())
    } else {
        Ok(read_memory(&mut st.gas, memory, ptr, len)?.to_vec())
    }
}

/// Puts `data` into a register, charging its bytes.
pub(crate) fn set_register(st: &mut HostState, register_id: u64, data: Vec<u8>) -> Result<()> {
    st.registers.set(&mut st.gas, &st.limits, register_id, data)
}

pub(crate) fn prohibited_in_view(st: &HostState, method_name: &str) -> Result<()> {
    if st.context.view {
        return Err(HostError::ProhibitedInView {
            method_name: method_name.to_string(),
        });
    }
    Ok(())
}

/// A NEAR host function Veil links but does not provide: charges the base cost like any
/// host call, then fails the call.
pub(crate) fn unsupported(st: &mut HostState, name: &'static str) -> Result<()> {
    st.gas.pay_base(ExtCost::base)?;
    Err(HostError::Unsupported(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_are_sparse_and_bounded() {
        let limits = Limits {
            max_number_registers: 2,
            ..Limits::default()
        };
        let mut gas = GasCounter::new(u64::MAX, u64::MAX, false);
        let mut registers = Registers::default();
        registers
            .set(&mut gas, &limits, u64::MAX - 1, b"a".to_vec())
            .unwrap();
        registers.set(&mut gas, &limits, 7, b"bc".to_vec()).unwrap();
        assert_eq!(
            registers.set(&mut gas, &limits, 8, b"d".to_vec()),
            Err(HostError::MemoryAccessViolation)
        );
        assert_eq!(registers.len_of(u64::MAX - 1), Some(1));
        assert_eq!(registers.len_of(3), None);
        assert_eq!(
            registers.get(&mut gas, 3),
            Err(HostError::InvalidRegisterId { register_id: 3 })
        );
    }

    #[test]
    fn memory_access_out_of_bounds_is_an_error_not_a_panic() {
        let mut gas = GasCounter::new(u64::MAX, u64::MAX, false);
        let memory = [0u8; 16];
        assert!(read_memory(&mut gas, &memory, 8, 8).is_ok());
        for (ptr, len) in [(8, 9), (u64::MAX, 2), (1 << 40, 1)] {
            assert_eq!(
                read_memory(&mut gas, &memory, ptr, len),
                Err(HostError::MemoryAccessViolation)
            );
        }
        // Its price overflows first, as in nearcore.
        assert_eq!(
            read_memory(&mut gas, &memory, 0, u64::MAX),
            Err(HostError::IntegerOverflow)
        );
    }
}
