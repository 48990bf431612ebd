//! NEAR's prices and limits, in NEAR gas (10^12 gas = 1 Tgas ≈ 1 ms of NEAR execution).
//!
//! The numbers are nearcore's, copied from near-parameters 0.38
//! (`res/runtime_configs/parameters.snap`, the newest protocol version) rather than
//! depending on that crate: it pulls clap, serde_yaml and schemars into what must stay a
//! small trusted build. `crates/tools/near-reference` checks every value here against
//! near-parameters itself.

/// A host-function price of nearcore's `ExtCosts`, by its nearcore name.
macro_rules! ext_costs {
    ($($name:ident = $gas:expr,)*) => {
        /// nearcore's `ExtCosts`: what a host function pays, per call or per unit.
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ExtCost { $($name,)* }

        impl ExtCost {
            pub const ALL: &'static [ExtCost] = &[$(ExtCost::$name,)*];

            /// nearcore's name (`ExtCosts` variant; the parameter is `wasm_<name>`).
            pub fn name(self) -> &'static str {
                match self { $(ExtCost::$name => stringify!($name),)* }
            }

            /// Price in gas.
            pub fn gas(self) -> u64 {
                match self { $(ExtCost::$name => $gas,)* }
            }
        }
    };
}

ext_costs! {
    base = 264_768_111,
    contract_loading_base = 35_445_963,
    contract_loading_bytes = 1_089_295,
    read_memory_base = 2_609_863_200,
    read_memory_byte = 3_801_333,
    write_memory_base = 2_803_794_861,
    write_memory_byte = 2_723_772,
    read_register_base = 2_517_165_186,
    read_register_byte = 98_562,
    write_register_base = 2_865_522_486,
    write_register_byte = 3_801_564,
    utf8_decoding_base = 3_111_779_061,
    utf8_decoding_byte = 291_580_479,
    utf16_decoding_base = 3_543_313_050,
    utf16_decoding_byte = 163_577_493,
    sha256_base = 4_540_970_250,
    sha256_byte = 24_117_351,
    keccak256_base = 5_879_491_275,
    keccak256_byte = 21_471_105,
    keccak512_base = 5_811_388_236,
    keccak512_byte = 36_649_701,
    sha3_256_base = 5_879_491_275,
    sha3_256_byte = 21_471_105,
    sha3_384_base = 5_811_388_236,
    sha3_384_byte = 36_649_701,
    sha3_512_base = 5_811_388_236,
    sha3_512_byte = 36_649_701,
    ripemd160_base = 853_675_086,
    ripemd160_block = 680_107_584,
    ecrecover_base = 278_821_988_457,
    ed25519_verify_base = 210_000_000_000,
    ed25519_verify_byte = 9_000_000,
    log_base = 3_543_313_050,
    log_byte = 13_198_791,
    storage_write_base = 64_196_736_000,
    storage_write_key_byte = 70_482_867,
    storage_write_value_byte = 31_018_539,
    storage_write_evicted_byte = 32_117_307,
    storage_read_base = 56_356_845_749,
    storage_read_key_byte = 30_952_533,
    storage_read_value_byte = 5_611_004,
    storage_large_read_overhead_base = 1,
    storage_large_read_overhead_byte = 1,
    storage_remove_base = 53_473_030_500,
    storage_remove_key_byte = 38_220_384,
    storage_remove_ret_value_byte = 11_531_556,
    storage_has_key_base = 54_039_896_625,
    storage_has_key_byte = 30_790_845,
    touching_trie_node = 2_280_000_000,
    read_cached_trie_node = 2_280_000_000,
    promise_and_base = 1_465_013_400,
    promise_and_per_promise = 5_452_176,
    promise_return = 560_152_386,
}

/// A receipt or action fee of nearcore's `ActionCosts`: gas burnt to send it (to the
/// same account — "sir", sender is receiver — or another) and gas reserved for its
/// execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fee {
    pub send_sir: u64,
    pub send_not_sir: u64,
    pub execution: u64,
}

impl Fee {
    pub const fn send(&self, sir: bool) -> u64 {
        if sir {
            self.send_sir
        } else {
            self.send_not_sir
        }
    }
}

const fn fee(send_sir: u64, send_not_sir: u64, execution: u64) -> Fee {
    Fee {
        send_sir,
        send_not_sir,
        execution,
    }
}

macro_rules! action_fees {
    ($($name:ident = $fee:expr,)*) => {
        /// nearcore's `ActionCosts` that contracts can incur.
        #[allow(non_camel_case_types)]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum ActionCost { $($name,)* }

        impl ActionCost {
            pub const ALL: &'static [ActionCost] = &[$(ActionCost::$name,)*];

            /// nearcore's name (`ActionCosts` variant).
            pub fn name(self) -> &'static str {
                match self { $(ActionCost::$name => stringify!($name),)* }
            }

            pub fn fee(self) -> Fee {
                match self { $(ActionCost::$name => $fee,)* }
            }
        }
    };
}

action_fees! {
    new_action_receipt = fee(108_059_500_000, 108_059_500_000, 108_059_500_000),
    new_data_receipt_base = fee(36_486_732_312, 36_486_732_312, 36_486_732_312),
    new_data_receipt_byte = fee(17_212_011, 47_683_715, 17_212_011),
    create_account = fee(500_000_000_000, 500_000_000_000, 7_200_000_000_000),
    deploy_contract_base = fee(184_765_750_000, 184_765_750_000, 184_765_750_000),
    deploy_contract_byte = fee(6_812_999, 47_683_715, 64_572_944),
    function_call_base = fee(200_000_000_000, 200_000_000_000, 780_000_000_000),
    function_call_byte = fee(2_235_934, 47_683_715, 2_235_934),
    transfer = fee(115_123_062_500, 115_123_062_500, 115_123_062_500),
    add_full_access_key = fee(101_765_125_000, 101_765_125_000, 101_765_125_000),
}

/// Gas of one ordinary Wasm instruction (`wasm_regular_op_cost`).
pub const REGULAR_OP_COST: u64 = 822_756;
/// Bulk memory and table instructions: `linear_op_base_cost + linear_op_unit_cost × n`.
pub const LINEAR_OP_BASE_COST: u64 = 26_328_192;
pub const LINEAR_OP_UNIT_COST: u64 = 822_756;

/// nearcore's `LimitConfig` (and the storage-usage parameters) as Veil applies them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub max_gas_burnt: u64,
    pub max_gas_burnt_view: u64,
    pub initial_memory_pages: u32,
    pub max_memory_pages: u32,
    pub registers_memory_limit: u64,
    pub max_register_size: u64,
    pub max_number_registers: u64,
    pub max_number_logs: u64,
    pub max_total_log_length: u64,
    pub max_actions_per_receipt: u64,
    pub max_length_method_name: u64,
    pub max_arguments_length: u64,
    pub max_length_returned_data: u64,
    pub max_contract_size: u64,
    pub max_length_storage_key: u64,
    pub max_length_storage_value: u64,
    pub max_promises_per_function_call_action: u64,
    pub max_number_input_data_dependencies: u64,
    pub max_functions_number_per_contract: u64,
    pub max_locals_per_contract: u64,
    pub max_tables_per_contract: u32,
    pub max_elements_per_contract_table: u64,
    pub max_function_body_size: u64,
    pub max_types_per_contract: u64,
    pub max_params_per_function: u64,
    pub max_params_per_contract: u64,
    /// Bytes of Wasm stack (operands + frames) a call may use (finite-wasm's measure).
    pub max_stack_height: u64,
    /// Storage usage charged per record on top of key and value bytes.
    pub num_extra_bytes_record: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_gas_burnt: 1_000_000_000_000_000,
            max_gas_burnt_view: 1_000_000_000_000_000,
            initial_memory_pages: 1_024,
            max_memory_pages: 2_048,
            registers_memory_limit: 1_073_741_824,
            max_register_size: 104_857_600,
            max_number_registers: 100,
            max_number_logs: 100,
            max_total_log_length: 16_384,
            max_actions_per_receipt: 100,
            max_length_method_name: 256,
            max_arguments_length: 4_194_304,
            max_length_returned_data: 4_194_304,
            max_contract_size: 4_194_304,
            max_length_storage_key: 2_048,
            max_length_storage_value: 4_194_304,
            max_promises_per_function_call_action: 1_024,
            max_number_input_data_dependencies: 128,
            max_functions_number_per_contract: 10_000,
            max_locals_per_contract: 1_000_000,
            max_tables_per_contract: 1,
            max_elements_per_contract_table: 10_000,
            max_function_body_size: 196_608,
            max_types_per_contract: 1_024,
            max_params_per_function: 64,
            max_params_per_contract: 50_000,
            max_stack_height: 262_144,
            num_extra_bytes_record: 40,
        }
    }
}

/// nearcore stores values up to this many bytes inline in trie nodes; reading a longer
/// one pays `storage_large_read_overhead_*`.
pub const INLINE_DISK_VALUE_THRESHOLD: usize = 4_000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_prices_nonzero() {
        let mut names: Vec<_> = ExtCost::ALL.iter().map(|c| c.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), ExtCost::ALL.len());
        assert!(ExtCost::ALL.iter().all(|c| c.gas() > 0));
        assert!(ActionCost::ALL.iter().all(|c| c.fee().execution > 0));
    }
}
