//! The engine: stores code (validate + compile + cache) and runs function calls.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use veil_engine::cache::{CachedCode, ModuleCache};
use veil_engine::memory::{
    replace_memory_with_import, MemoryPool, MemoryType as EncodedMemoryType, MEMORY_IMPORT_MODULE,
    MEMORY_IMPORT_NAME,
};
use veil_engine::Checksum;
use wasmi::{CompilationMode, Linker, Memory, MemoryType, Store, StoreLimitsBuilder, TrapCode};

use crate::context::NearContext;
use crate::costs::{ExtCost, Limits, LINEAR_OP_BASE_COST, REGULAR_OP_COST};
use crate::error::{FunctionCallError, HostError, HostTrap, NearVmError};
use crate::host::{HostState, Registers};
use crate::imports;
use crate::outcome::{NearOutcome, ReturnData, StateChange};
use crate::storage::{NearStorage, Overlay};
use crate::validate::{check_code, near_wasm_features, CodeInfo};

const PAGE: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct NearEngineConfig {
    pub limits: Limits,
    /// Memory budget of the compiled-module cache.
    pub cache_bytes: usize,
    /// Nested Wasm calls allowed within one call (wasmi frames; nearcore bounds the
    /// stack in bytes instead, see docs/gas.md).
    pub max_call_depth: usize,
}

impl Default for NearEngineConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            cache_bytes: 256 * 1024 * 1024,
            max_call_depth: 4 * 1024,
        }
    }
}

struct NearCode {
    module: wasmi::Module,
    info: CodeInfo,
    wasm_len: usize,
    code_hash: [u8; 32],
}

impl CachedCode for NearCode {
    fn wasm_len(&self) -> usize {
        self.wasm_len
    }
}

pub struct NearEngine {
    wasmi: wasmi::Engine,
    linker: Linker<HostState>,
    cache: Mutex<ModuleCache<NearCode>>,
    memory_pool: MemoryPool,
    limits: Arc<Limits>,
    config: NearEngineConfig,
}

/// wasmi's fuel per operator: one per instruction at `regular_op_cost`, as finite-wasm
/// charges; `block`, `end` and `else` free (nearcore's `SimpleGasCostCfg`); bulk memory
/// and table operations their base cost (`linear_op_base_cost`), and one instruction per
/// byte or element moved (`linear_op_unit_cost` = `regular_op_cost`).
fn operator_costs() -> wasmi::OperatorCost {
    let mut cost = wasmi::OperatorCost::default();
    for charged in [
        &mut cost.nop,
        &mut cost.drop,
        &mut cost.loop_,
        &mut cost.unreachable,
        &mut cost.return_,
    ] {
        *charged = 1;
    }
    for free in [&mut cost.block, &mut cost.end, &mut cost.else_] {
        *free = 0;
    }
    let linear_base = (LINEAR_OP_BASE_COST / REGULAR_OP_COST) as u8;
    for linear in [
        &mut cost.memory_copy,
        &mut cost.memory_fill,
        &mut cost.memory_init,
        &mut cost.memory_grow,
        &mut cost.table_copy,
        &mut cost.table_fill,
        &mut cost.table_init,
        &mut cost.table_grow,
    ] {
        *linear = linear_base;
    }
    cost
}

impl NearEngine {
    pub fn new(config: NearEngineConfig) -> Self {
        let features = near_wasm_features();
        let mut wasmi_config = wasmi::Config::default();
        wasmi_config
            .consume_fuel(true)
            // As veil-engine: validated at store, translated lazily at no fuel, so gas
            // never depends on what earlier calls translated.
            .compilation_mode(CompilationMode::LazyTranslation)
            .operator_cost(operator_costs())
            .fuel_cost(wasmi::CustomFuelCosts {
                bytes_copied_per_fuel: 1,
                fuel_per_bytes_translated: 0,
                fuel_per_bytes_validated: 0,
            })
            .set_max_recursion_depth(config.max_call_depth)
            .wasm_mutable_global(true)
            .wasm_sign_extension(features.sign_extension())
            .wasm_saturating_float_to_int(features.saturating_float_to_int())
            .wasm_multi_value(false)
            .wasm_bulk_memory(features.bulk_memory())
            .wasm_reference_types(features.reference_types())
            .wasm_multi_memory(false)
            .wasm_tail_call(false)
            .wasm_extended_const(false)
            .wasm_custom_page_sizes(false)
            .wasm_wide_arithmetic(false)
            .floats(true);
        let wasmi = wasmi::Engine::new(&wasmi_config);
        let mut linker = Linker::new(&wasmi);
        imports::link(&mut linker).expect("import names are unique");
        let memory_bytes = config.limits.max_memory_pages as usize * PAGE;
        Self {
            wasmi,
            linker,
            cache: Mutex::new(ModuleCache::new(config.cache_bytes)),
            memory_pool: MemoryPool::new(memory_bytes),
            limits: Arc::new(config.limits.clone()),
            config,
        }
    }

    pub fn config(&self) -> &NearEngineConfig {
        &self.config
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, ModuleCache<NearCode>> {
        // No partial updates happen under the lock: a poisoned one is still consistent.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Validates and compiles `wasm` and keeps it in the cache.
    pub fn store_code(&self, wasm: &[u8]) -> Result<Checksum, NearVmError> {
        let checksum = Checksum::of(wasm);
        if self.cache().get(&checksum).is_some() {
            return Ok(checksum);
        }
        let info = check_code(wasm, &self.limits)?;
        let memory = EncodedMemoryType {
            minimum: u64::from(self.limits.initial_memory_pages),
            maximum: Some(u64::from(self.limits.max_memory_pages)),
            memory64: false,
            shared: false,
            page_size_log2: None,
        };
        let prepared = replace_memory_with_import(wasm, memory)
            .map_err(|e| NearVmError::Validation(e.to_string()))?;
        let module = wasmi::Module::new(&self.wasmi, &prepared)
            .map_err(|e| NearVmError::Compile(e.to_string()))?;
        let code = NearCode {
            module,
            info,
            wasm_len: wasm.len(),
            code_hash: Sha256::digest(wasm).into(),
        };
        self.cache().insert(checksum, Arc::new(code));
        Ok(checksum)
    }

    /// Exported methods of loaded code, each with whether it is callable (`() -> ()`).
    pub fn methods(&self, checksum: &Checksum) -> Option<BTreeMap<String, bool>> {
        self.cache().get(checksum).map(|c| c.info.methods.clone())
    }

    /// Runs `method` with `context`. `storage` comes back whatever happens; it receives
    /// this call's writes only if the call succeeds.
    pub fn call<S: NearStorage>(
        &self,
        checksum: &Checksum,
        method: &str,
        context: &NearContext,
        storage: S,
    ) -> (NearOutcome, S) {
        let (outcome, storage) = self.call_boxed(checksum, method, context, Box::new(storage));
        let storage: Box<dyn std::any::Any> = storage;
        let storage = *storage
            .downcast::<S>()
            .expect("the engine hands back the storage it was given");
        (outcome, storage)
    }

    fn call_boxed(
        &self,
        checksum: &Checksum,
        method: &str,
        context: &NearContext,
        storage: Box<dyn NearStorage>,
    ) -> (NearOutcome, Box<dyn NearStorage>) {
        let fail = |e| NearOutcome::failed(e, context.account_balance, context.storage_usage);
        if method.is_empty() {
            return (fail(FunctionCallError::MethodEmptyName), storage);
        }
        let Some(code) = self.cache().get(checksum) else {
            return (
                fail(FunctionCallError::CodeNotFound(checksum.to_hex())),
                storage,
            );
        };
        let max_burnt = if context.view {
            self.limits.max_gas_burnt_view
        } else {
            self.limits.max_gas_burnt
        };
        let memory_bytes = self.limits.max_memory_pages as usize * PAGE;
        let state = HostState {
            gas: crate::gas::GasCounter::new(max_burnt, context.prepaid_gas, context.view),
            registers: Registers::default(),
            context: context.clone(),
            limits: self.limits.clone(),
            storage: Overlay::new(storage),
            logs: Vec::new(),
            total_log_length: 0,
            return_data: ReturnData::None,
            promises: Vec::new(),
            receipts: Vec::new(),
            balance: context.account_balance,
            storage_usage: context.storage_usage,
            code_hash: code.code_hash,
            memory: None,
            fuel_at_sync: 0,
            pages_at_sync: u64::from(self.limits.initial_memory_pages),
            store_limits: StoreLimitsBuilder::new()
                .memory_size(memory_bytes)
                // The one memory counts twice: created by the engine, imported by the code.
                .memories(2)
                .tables(1)
                .table_elements(self.limits.max_elements_per_contract_table as usize)
                .instances(1)
                .trap_on_grow_failure(false)
                .build(),
        };
        let mut lease = self.memory_pool.take();
        let mut store = Store::new(&self.wasmi, state);
        store.limiter(|s| &mut s.store_limits);
        // SAFETY: the buffer moves into `store`, which `into_data` consumes below, before
        // the lease goes back to the pool.
        let buffer = unsafe { lease.as_static_mut() };
        let result = self.run(&mut store, &code, method, buffer);
        let state = store.into_data();
        self.memory_pool.give_back(lease);
        finish(state, result)
    }

    fn run(
        &self,
        store: &mut Store<HostState>,
        code: &NearCode,
        method: &str,
        buffer: &'static mut [u8],
    ) -> Result<(), FunctionCallError> {
        // nearcore charges for loading the code before it looks up the method.
        let loading = {
            let gas = &mut store.data_mut().gas;
            gas.pay_per(ExtCost::contract_loading_bytes, code.wasm_len as u64)
                .and_then(|()| gas.pay_base(ExtCost::contract_loading_base))
        };
        loading.map_err(|_| FunctionCallError::HostError(HostError::GasExceeded))?;
        match code.info.methods.get(method) {
            None => return Err(FunctionCallError::MethodNotFound(method.to_string())),
            Some(false) => {
                return Err(FunctionCallError::MethodInvalidSignature(
                    method.to_string(),
                ))
            }
            Some(true) => {}
        }
        let fuel = store.data().gas.fuel_left();
        store.data_mut().fuel_at_sync = fuel;
        store.set_fuel(fuel).expect("fuel metering is enabled");

        let memory_type = MemoryType::new(
            self.limits.initial_memory_pages,
            Some(self.limits.max_memory_pages),
        );
        let memory = Memory::new_static(&mut *store, memory_type, buffer)
            .map_err(|e| self.trap(store, e))?;
        store.data_mut().memory = Some(memory);
        let mut linker = self.linker.clone();
        linker
            .define(MEMORY_IMPORT_MODULE, MEMORY_IMPORT_NAME, memory)
            .map_err(|e| FunctionCallError::WasmTrap(e.to_string()))?;
        let instance = linker
            .instantiate_and_start(&mut *store, &code.module)
            .map_err(|e| self.trap(store, e))?;
        let function = instance
            .get_typed_func::<(), ()>(&*store, method)
            .map_err(|_| FunctionCallError::MethodInvalidSignature(method.to_string()))?;
        function
            .call(&mut *store, ())
            .map_err(|e| self.trap(store, e))?;
        // Instructions since the last host call.
        let fuel_now = store.get_fuel().expect("fuel metering is enabled");
        let pages = memory.size(&*store);
        store
            .data_mut()
            .sync_wasm(fuel_now, pages)
            .map(|_| ())
            .map_err(FunctionCallError::HostError)
    }

    /// Maps a wasmi error to nearcore's, settling the gas of a trap.
    fn trap(&self, store: &mut Store<HostState>, error: wasmi::Error) -> FunctionCallError {
        if let Some(HostTrap(e)) = error.downcast_ref::<HostTrap>() {
            return FunctionCallError::HostError(e.clone());
        }
        // Instructions run before the trap are burnt, as nearcore burns them.
        let fuel_now = store.get_fuel().unwrap_or(0);
        let pages = store
            .data()
            .memory
            .map_or(u64::from(self.limits.initial_memory_pages), |m| {
                m.size(&*store)
            });
        let state = store.data_mut();
        let settled = state.sync_wasm(fuel_now, pages);
        if matches!(error.as_trap_code(), Some(TrapCode::OutOfFuel)) {
            return FunctionCallError::HostError(state.gas.exhausted());
        }
        if let Err(e) = settled {
            return FunctionCallError::HostError(e);
        }
        match error.as_trap_code() {
            Some(TrapCode::StackOverflow) => {
                FunctionCallError::WasmTrap("call stack exhausted (recursion too deep)".to_string())
            }
            Some(TrapCode::GrowthOperationLimited) => {
                FunctionCallError::WasmTrap("memory limit exceeded".to_string())
            }
            Some(code) => FunctionCallError::WasmTrap(code.to_string()),
            None => FunctionCallError::WasmTrap(error.to_string()),
        }
    }
}

/// Builds the outcome and, if the call succeeded, applies its writes to the storage.
fn finish(
    state: HostState,
    result: Result<(), FunctionCallError>,
) -> (NearOutcome, Box<dyn NearStorage>) {
    let burnt_gas = state.gas.burnt_gas();
    let used_gas = state.gas.used_gas();
    let instruction_gas = state.gas.instruction_gas();
    let (mut storage, changes) = state.storage.into_parts();
    let failed = |error, storage| {
        let outcome = NearOutcome {
            result: Err(error),
            logs: state.logs.clone(),
            burnt_gas,
            used_gas,
            instruction_gas,
            state_changes: Vec::new(),
            receipts: Vec::new(),
            balance: state.context.account_balance,
            storage_usage: state.context.storage_usage,
        };
        (outcome, storage)
    };
    if let Err(error) = result {
        return failed(error, storage);
    }
    for (key, value) in &changes {
        let applied = match value {
            Some(value) => storage.set(key, value),
            None => storage.remove(key),
        };
        if let Err(e) = applied {
            // A storage that fails halfway is the caller's to discard (as after any
            // storage failure); the call is reported failed.
            let error = FunctionCallError::HostError(HostError::Storage(e.0));
            return failed(error, storage);
        }
    }
    let outcome = NearOutcome {
        result: Ok(state.return_data),
        logs: state.logs,
        burnt_gas,
        used_gas,
        instruction_gas,
        state_changes: changes
            .into_iter()
            .map(|(key, value)| StateChange { key, value })
            .collect(),
        receipts: state.receipts,
        balance: state.balance,
        storage_usage: state.storage_usage,
    };
    (outcome, storage)
}
