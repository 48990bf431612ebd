//! Veil's copied NEAR prices and limits equal near-parameters 0.38's for the newest
//! stable protocol version.

use near_parameters::{ActionCosts, ExtCosts, RuntimeConfig, RuntimeConfigStore};
use near_primitives_core::version::PROTOCOL_VERSION;
use strum::IntoEnumIterator;
use veil_near_engine::{
    ActionCost, ExtCost, Limits, LINEAR_OP_BASE_COST, LINEAR_OP_UNIT_COST, REGULAR_OP_COST,
};

fn config() -> std::sync::Arc<RuntimeConfig> {
    RuntimeConfigStore::new(None)
        .get_config(PROTOCOL_VERSION)
        .clone()
}

#[test]
fn ext_costs_match() {
    let config = config();
    let ext = &config.wasm_config.ext_costs;
    for cost in ExtCost::ALL {
        let theirs = ExtCosts::iter()
            .find(|c| c.to_string() == cost.name())
            .unwrap_or_else(|| panic!("near-parameters has no ExtCosts::{}", cost.name()));
        assert_eq!(cost.gas(), theirs.gas(ext).as_gas(), "{}", cost.name());
    }
}

#[test]
fn action_fees_match() {
    let config = config();
    for cost in ActionCost::ALL {
        let theirs = ActionCosts::iter()
            .find(|c| c.to_string() == cost.name())
            .unwrap_or_else(|| panic!("near-parameters has no ActionCosts::{}", cost.name()));
        let fee = config.fees.fee(theirs);
        let ours = cost.fee();
        assert_eq!(
            ours.send_sir,
            fee.send_fee(true).gas.as_gas(),
            "{}",
            cost.name()
        );
        assert_eq!(
            ours.send_not_sir,
            fee.send_fee(false).gas.as_gas(),
            "{}",
            cost.name()
        );
        assert_eq!(
            ours.execution,
            fee.exec_fee().gas.as_gas(),
            "{}",
            cost.name()
        );
    }
}

#[test]
fn wasm_costs_and_limits_match() {
    let config = config();
    let wasm = &config.wasm_config;
    assert_eq!(REGULAR_OP_COST, u64::from(wasm.regular_op_cost));
    assert_eq!(LINEAR_OP_BASE_COST, wasm.linear_op_base_cost);
    assert_eq!(LINEAR_OP_UNIT_COST, wasm.linear_op_unit_cost);
    assert!(
        wasm.reftypes_bulk_memory,
        "Veil enables bulk memory and reference types"
    );
    let l = &wasm.limit_config;
    let ours = Limits::default();
    assert_eq!(ours.max_gas_burnt, l.max_gas_burnt.as_gas());
    assert_eq!(ours.max_stack_height, u64::from(l.max_stack_height));
    assert_eq!(ours.initial_memory_pages, l.initial_memory_pages);
    assert_eq!(ours.max_memory_pages, l.max_memory_pages);
    assert_eq!(ours.registers_memory_limit, l.registers_memory_limit);
    assert_eq!(ours.max_register_size, l.max_register_size);
    assert_eq!(ours.max_number_registers, l.max_number_registers);
    assert_eq!(ours.max_number_logs, l.max_number_logs);
    assert_eq!(ours.max_total_log_length, l.max_total_log_length);
    assert_eq!(ours.max_actions_per_receipt, l.max_actions_per_receipt);
    assert_eq!(ours.max_length_method_name, l.max_length_method_name);
    assert_eq!(ours.max_arguments_length, l.max_arguments_length);
    assert_eq!(ours.max_length_returned_data, l.max_length_returned_data);
    assert_eq!(ours.max_contract_size, l.max_contract_size);
    assert_eq!(ours.max_length_storage_key, l.max_length_storage_key);
    assert_eq!(ours.max_length_storage_value, l.max_length_storage_value);
    assert_eq!(
        ours.max_promises_per_function_call_action,
        l.max_promises_per_function_call_action
    );
    assert_eq!(
        ours.max_number_input_data_dependencies,
        l.max_number_input_data_dependencies
    );
    assert_eq!(
        Some(ours.max_functions_number_per_contract),
        l.max_functions_number_per_contract
    );
    assert_eq!(
        Some(ours.max_locals_per_contract),
        l.max_locals_per_contract
    );
    assert_eq!(l.min_contract_size_per_local, Some(2));
    assert_eq!(
        Some(ours.max_tables_per_contract),
        l.max_tables_per_contract
    );
    assert_eq!(
        Some(ours.max_elements_per_contract_table as usize),
        l.max_elements_per_contract_table
    );
    assert_eq!(Some(ours.max_function_body_size), l.max_function_body_size);
    assert_eq!(Some(ours.max_types_per_contract), l.max_types_per_contract);
    assert_eq!(
        Some(ours.max_params_per_function),
        l.max_params_per_function
    );
    assert_eq!(
        Some(ours.max_params_per_contract),
        l.max_params_per_contract
    );
    assert_eq!(
        ours.num_extra_bytes_record,
        config.fees.storage_usage_config.num_extra_bytes_record
    );
}
