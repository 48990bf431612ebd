//! The gas counter: nearcore's `GasCounter`, with Wasm instructions counted by wasmi fuel.
//!
//! One unit of wasmi fuel is one Wasm instruction at [`REGULAR_OP_COST`]. Host functions
//! run on an exact counter in gas; when one is entered the instructions run since the
//! last host call are added to it (`sync_wasm`), and when it returns, the fuel left is set
//! from the gas left. So `burnt = instructions × regular_op_cost + host costs`, exactly
//! as nearcore computes it, with the instruction count taken from wasmi.

use crate::costs::{ActionCost, ExtCost, REGULAR_OP_COST};
use crate::error::HostError;

#[derive(Debug, Clone)]
pub struct GasCounter {
    burnt_gas: u64,
    /// The part of `burnt_gas` Wasm instructions burnt (nearcore's profile shows it too).
    instruction_gas: u64,
    /// Gas handed on to promises (prepaid gas of function calls, receipt execution fees).
    promises_gas: u64,
    max_gas_burnt: u64,
    prepaid_gas: u64,
}

impl GasCounter {
    pub fn new(max_gas_burnt: u64, prepaid_gas: u64, is_view: bool) -> Self {
        // A view call gets the burnt-gas limit as its budget (nearcore does the same).
        let prepaid_gas = if is_view { max_gas_burnt } else { prepaid_gas };
        Self {
            burnt_gas: 0,
            instruction_gas: 0,
            promises_gas: 0,
            max_gas_burnt,
            prepaid_gas,
        }
    }

    pub fn burnt_gas(&self) -> u64 {
        self.burnt_gas
    }

    pub fn used_gas(&self) -> u64 {
        self.burnt_gas.saturating_add(self.promises_gas)
    }

    /// The most gas that may still be burnt.
    pub fn burn_limit(&self) -> u64 {
        self.max_gas_burnt
            .min(self.prepaid_gas.saturating_sub(self.promises_gas))
    }

    /// Wasm instructions that still fit in the budget: the fuel wasmi gets.
    pub fn fuel_left(&self) -> u64 {
        self.burn_limit().saturating_sub(self.burnt_gas) / REGULAR_OP_COST
    }

    /// Charges `instructions` Wasm instructions.
    pub fn burn_instructions(&mut self, instructions: u64) -> Result<(), HostError> {
        let gas = instructions
            .checked_mul(REGULAR_OP_COST)
            .ok_or(HostError::IntegerOverflow)?;
        let before = self.burnt_gas;
        let result = self.burn_gas(gas);
        self.instruction_gas += self.burnt_gas - before;
        result
    }

    pub fn instruction_gas(&self) -> u64 {
        self.instruction_gas
    }

    /// Wasm ran out of fuel: nearcore burns everything up to the limit.
    pub fn exhausted(&mut self) -> HostError {
        // Just past whichever limit binds, so the error names that limit.
        let new_burnt = self.burn_limit().saturating_add(1);
        let before = self.burnt_gas;
        let error = self.process_gas_limit(new_burnt, new_burnt.saturating_add(self.promises_gas));
        self.instruction_gas += self.burnt_gas - before;
        error
    }

    pub fn burn_gas(&mut self, gas: u64) -> Result<(), HostError> {
        let new_burnt = self
            .burnt_gas
            .checked_add(gas)
            .ok_or(HostError::IntegerOverflow)?;
        if new_burnt <= self.burn_limit() {
            self.burnt_gas = new_burnt;
            Ok(())
        } else {
            let new_used = new_burnt.wrapping_add(self.promises_gas);
            Err(self.process_gas_limit(new_burnt, new_used))
        }
    }

    pub fn pay_base(&mut self, cost: ExtCost) -> Result<(), HostError> {
        self.burn_gas(cost.gas())
    }

    pub fn pay_per(&mut self, cost: ExtCost, count: u64) -> Result<(), HostError> {
        let gas = cost
            .gas()
            .checked_mul(count)
            .ok_or(HostError::IntegerOverflow)?;
        self.burn_gas(gas)
    }

    /// Burns `burnt` and reserves `used - burnt` for promises (nearcore's `deduct_gas`).
    pub fn deduct_gas(&mut self, burnt: u64, used: u64) -> Result<(), HostError> {
        debug_assert!(burnt <= used);
        let promises = used.saturating_sub(burnt);
        let new_promises = self
            .promises_gas
            .checked_add(promises)
            .ok_or(HostError::IntegerOverflow)?;
        let new_burnt = self
            .burnt_gas
            .checked_add(burnt)
            .ok_or(HostError::IntegerOverflow)?;
        let new_used = new_burnt
            .checked_add(new_promises)
            .ok_or(HostError::IntegerOverflow)?;
        if new_burnt <= self.max_gas_burnt && new_used <= self.prepaid_gas {
            self.burnt_gas = new_burnt;
            self.promises_gas = new_promises;
            Ok(())
        } else {
            Err(self.process_gas_limit(new_burnt, new_used))
        }
    }

    /// Prepaid gas attached to a function-call promise.
    pub fn prepay_gas(&mut self, gas: u64) -> Result<(), HostError> {
        self.deduct_gas(0, gas)
    }

    /// An action's fee: `send` burnt now, `send + execution` used.
    pub fn pay_action_base(&mut self, action: ActionCost, sir: bool) -> Result<(), HostError> {
        let fee = action.fee();
        let burnt = fee.send(sir);
        self.deduct_gas(burnt, burnt.saturating_add(fee.execution))
    }

    pub fn pay_action_per_byte(
        &mut self,
        action: ActionCost,
        bytes: u64,
        sir: bool,
    ) -> Result<(), HostError> {
        let fee = action.fee();
        let burnt = fee
            .send(sir)
            .checked_mul(bytes)
            .ok_or(HostError::IntegerOverflow)?;
        let exec = fee
            .execution
            .checked_mul(bytes)
            .ok_or(HostError::IntegerOverflow)?;
        let used = burnt.checked_add(exec).ok_or(HostError::IntegerOverflow)?;
        self.deduct_gas(burnt, used)
    }

    /// Burns all gas up to the hard limit and names the limit hit.
    fn process_gas_limit(&mut self, new_burnt: u64, new_used: u64) -> HostError {
        let hard_burnt_limit = self.prepaid_gas.min(self.max_gas_burnt);
        self.burnt_gas = new_burnt.min(hard_burnt_limit);
        let used_limit = self.prepaid_gas.min(new_used);
        self.promises_gas = used_limit.saturating_sub(self.burnt_gas);
        if new_burnt > self.max_gas_burnt {
            HostError::GasLimitExceeded
        } else {
            HostError::GasExceeded
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deduct_gas_splits_burnt_and_used() {
        let mut counter = GasCounter::new(10, 10, false);
        counter.deduct_gas(5, 10).unwrap();
        assert_eq!((counter.burnt_gas(), counter.used_gas()), (5, 10));
        assert_eq!(counter.burn_gas(1), Err(HostError::GasExceeded));
        // As nearcore: the excess is burnt, taken from what promises had reserved.
        assert_eq!((counter.burnt_gas(), counter.used_gas()), (6, 10));
    }

    #[test]
    fn the_burnt_limit_and_the_prepaid_gas_give_different_errors() {
        let mut by_limit = GasCounter::new(100, 1_000, false);
        assert_eq!(by_limit.burn_gas(101), Err(HostError::GasLimitExceeded));
        assert_eq!(by_limit.burnt_gas(), 100);
        let mut by_prepaid = GasCounter::new(1_000, 100, false);
        assert_eq!(by_prepaid.burn_gas(101), Err(HostError::GasExceeded));
        assert_eq!(by_prepaid.burnt_gas(), 100);
    }

    #[test]
    fn fuel_follows_the_gas_left() {
        let mut counter = GasCounter::new(u64::MAX, 10 * REGULAR_OP_COST + 7, false);
        assert_eq!(counter.fuel_left(), 10);
        counter.burn_instructions(3).unwrap();
        assert_eq!(counter.fuel_left(), 7);
        assert_eq!(counter.burn_instructions(8), Err(HostError::GasExceeded));
        assert_eq!(counter.used_gas(), 10 * REGULAR_OP_COST + 7);
    }

    #[test]
    fn a_view_call_is_bounded_by_the_burnt_limit() {
        let counter = GasCounter::new(500, 0, true);
        assert_eq!(counter.prepaid_gas, 500);
        assert_eq!(counter.burn_limit(), 500);
    }
}
