//! The engine: stores code (validate + compile + cache) and runs calls.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use cosmwasm_std::{Binary, ContractResult, Env, MessageInfo, Response};
use sha2::{Digest, Sha256};
use wasmi::{CompilationMode, Linker, Memory, MemoryType, Store, StoreLimitsBuilder, TrapCode};

use crate::backend::Backend;
use crate::cache::{CompiledCode, ModuleCache};
use crate::error::HostFailure;
use crate::gas::{fuel_to_gas, operator_costs, GasCosts, BYTES_PER_FUEL, GAS_PER_FUEL};
use crate::imports::{self, read_region_raw, DebugHandler, HostState};
use crate::memory::{import_memory, MemoryPool, MEMORY_IMPORT_MODULE, MEMORY_IMPORT_NAME};
use crate::validate::{check_wasm, WasmLimits};
use crate::VmError;

/// SHA-256 of a contract's Wasm code: how code is named everywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Checksum(pub [u8; 32]);

impl Checksum {
    pub fn of(wasm: &[u8]) -> Self {
        Checksum(Sha256::digest(wasm).into())
    }

    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// Capabilities (`requires_*` exports) Veil provides. `staking`: staking queries are
/// answered from the validator set (no delegations) and staking messages are refused as
/// unsupported, as on a wasmd chain whose contracts never stake. No IBC or stargate: a
/// contract needing them is refused at store time.
pub const DEFAULT_CAPABILITIES: &[&str] = &[
    "iterator",
    "staking",
    "cosmwasm_1_1",
    "cosmwasm_1_2",
    "cosmwasm_1_3",
    "cosmwasm_1_4",
    "cosmwasm_2_0",
    "cosmwasm_2_1",
    "cosmwasm_2_2",
];

#[derive(Clone)]
pub struct EngineConfig {
    /// Linear memory one instance may grow to.
    pub memory_limit_bytes: usize,
    /// Nested Wasm calls allowed within one contract call.
    pub max_call_depth: usize,
    /// Largest message (and env/info JSON) passed into a contract.
    pub max_message_bytes: usize,
    /// Largest result a contract may return.
    pub max_result_bytes: usize,
    /// Memory budget of the compiled-module cache.
    pub cache_bytes: usize,
    pub wasm_limits: WasmLimits,
    pub gas_costs: GasCosts,
    pub capabilities: BTreeSet<String>,
    /// Receives contract `debug` output; `None` drops it.
    pub debug_handler: Option<DebugHandler>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            memory_limit_bytes: 32 * 1024 * 1024,
            max_call_depth: 1024,
            max_message_bytes: 1024 * 1024,
            max_result_bytes: 4 * 1024 * 1024,
            cache_bytes: 256 * 1024 * 1024,
            wasm_limits: WasmLimits::default(),
            gas_costs: GasCosts::default(),
            capabilities: DEFAULT_CAPABILITIES.iter().map(|c| c.to_string()).collect(),
            debug_handler: None,
        }
    }
}

/// A contract entry point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    Instantiate,
    Execute,
    Query,
    Migrate,
    Sudo,
    Reply,
}

impl Entry {
    pub fn name(self) -> &'static str {
        match self {
            Entry::Instantiate => "instantiate",
            Entry::Execute => "execute",
            Entry::Query => "query",
            Entry::Migrate => "migrate",
            Entry::Sudo => "sudo",
            Entry::Reply => "reply",
        }
    }

    /// Entry points that receive a `MessageInfo`.
    pub fn takes_info(self) -> bool {
        matches!(self, Entry::Instantiate | Entry::Execute)
    }
}

impl std::str::FromStr for Entry {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "instantiate" => Entry::Instantiate,
            "execute" => Entry::Execute,
            "query" => Entry::Query,
            "migrate" => Entry::Migrate,
            "sudo" => Entry::Sudo,
            "reply" => Entry::Reply,
            other => {
                return Err(format!(
                    "unknown entry point {other:?} (expected instantiate, execute, query, migrate, sudo or reply)"
                ))
            }
        })
    }
}

/// One call into a contract. For `Reply`, `msg` is the `Reply` JSON.
pub struct Call<'a> {
    pub entry: Entry,
    pub env: &'a Env,
    /// Required for instantiate and execute, ignored otherwise.
    pub info: Option<&'a MessageInfo>,
    pub msg: &'a [u8],
    pub gas_limit: u64,
    /// A private random value for this call, shown to the contract as `env.block.random`
    /// (base64, the field Secret Network uses); `None` leaves `env` exactly as cosmwasm-std has it.
    pub random: Option<[u8; 32]>,
}

/// What a successful contract call produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Response(Response),
    Query(Binary),
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    /// The contract returned an error (its own message).
    #[error("contract error: {0}")]
    Contract(String),
    #[error(transparent)]
    Vm(#[from] VmError),
}

#[derive(Debug, Clone, PartialEq)]
pub struct CallReport {
    pub result: Result<Output, CallError>,
    /// Gas used, including on failure; equals the limit when gas ran out.
    pub gas_used: u64,
}

pub struct Engine {
    wasmi: wasmi::Engine,
    linker: Linker<HostState>,
    cache: Mutex<ModuleCache<CompiledCode>>,
    memory_pool: MemoryPool,
    costs: Arc<GasCosts>,
    config: EngineConfig,
}

impl Engine {
    pub fn new(config: EngineConfig) -> Self {
        let mut wasmi_config = wasmi::Config::default();
        wasmi_config
            .consume_fuel(true)
            // Validated when stored, translated on a function's first call: storing
            // cw20-base is half the work of translating everything up front. Translation
            // and validation cost no fuel (below), so a call's gas cannot depend on which
            // functions earlier calls translated. Never `Lazy`: it would defer validation,
            // so whether code is valid would depend on what runs.
            .compilation_mode(CompilationMode::LazyTranslation)
            .operator_cost(operator_costs())
            .fuel_cost(wasmi::CustomFuelCosts {
                bytes_copied_per_fuel: BYTES_PER_FUEL,
                fuel_per_bytes_translated: 0,
                fuel_per_bytes_validated: 0,
            })
            .set_max_recursion_depth(config.max_call_depth)
            .allow_start_fn(false)
            .wasm_mutable_global(true)
            .wasm_sign_extension(true)
            .wasm_saturating_float_to_int(true)
            .wasm_multi_value(true)
            .wasm_bulk_memory(true)
            .wasm_reference_types(true)
            .wasm_multi_memory(false)
            .wasm_tail_call(false)
            .wasm_extended_const(false)
            .wasm_custom_page_sizes(false)
            .wasm_wide_arithmetic(false)
            .floats(true);
        let wasmi = wasmi::Engine::new(&wasmi_config);
        let mut linker = Linker::new(&wasmi);
        imports::link(&mut linker).expect("import names are unique");
        Self {
            wasmi,
            linker,
            cache: Mutex::new(ModuleCache::new(config.cache_bytes)),
            memory_pool: MemoryPool::new(config.memory_limit_bytes),
            costs: Arc::new(config.gas_costs.clone()),
            config,
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Validates and compiles `wasm` and keeps it in the cache. Storing the same code
    /// again is cheap: it is recognized by checksum and not compiled twice.
    pub fn store_code(&self, wasm: &[u8]) -> Result<Checksum, VmError> {
        let checksum = Checksum::of(wasm);
        if self.cache().get(&checksum).is_some() {
            return Ok(checksum);
        }
        let info = check_wasm(wasm, &self.config.wasm_limits, &self.config.capabilities)?;
        let (wasm_with_imported_memory, initial_pages) = import_memory(wasm)?;
        let module = wasmi::Module::new(&self.wasmi, &wasm_with_imported_memory)
            .map_err(|e| VmError::Compile(e.to_string()))?;
        let code = Arc::new(CompiledCode {
            module,
            info,
            wasm_len: wasm.len(),
            initial_pages,
        });
        self.cache().insert(checksum, code);
        Ok(checksum)
    }

    /// Whether compiled code for `checksum` is in the cache (else: store it again).
    pub fn is_loaded(&self, checksum: &Checksum) -> bool {
        self.cache().get(checksum).is_some()
    }

    /// Exported function names of loaded code (entry points, capabilities, …).
    pub fn exports(&self, checksum: &Checksum) -> Option<BTreeSet<String>> {
        self.cache().get(checksum).map(|c| c.info.exports.clone())
    }

    /// (modules, estimated bytes) held by the cache.
    pub fn cache_usage(&self) -> (usize, usize) {
        let cache = self.cache();
        (cache.len(), cache.used_bytes())
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, ModuleCache<CompiledCode>> {
        // A panic while holding the lock cannot leave the cache inconsistent (no partial
        // updates), so a poisoned lock is still usable.
        self.cache.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs one call. The backend is handed back whatever happens; on failure the caller
    /// must discard the storage writes it received.
    pub fn call(
        &self,
        checksum: &Checksum,
        call: Call<'_>,
        backend: Backend,
    ) -> (CallReport, Backend) {
        let fuel_limit = call.gas_limit / GAS_PER_FUEL;
        let Some(code) = self.cache().get(checksum) else {
            let report = CallReport {
                result: Err(VmError::CodeNotFound(checksum.to_hex()).into()),
                gas_used: 0,
            };
            return (report, backend);
        };
        let state = HostState {
            backend,
            costs: self.costs.clone(),
            read_only: call.entry == Entry::Query,
            memory: None,
            allocate: None,
            iterators: Vec::new(),
            limits: StoreLimitsBuilder::new()
                .memory_size(self.config.memory_limit_bytes)
                // The one memory counts twice: created by the engine, imported by the instance.
                .memories(2)
                .tables(1)
                .table_elements(self.config.wasm_limits.table_elements as usize)
                .instances(1)
                .trap_on_grow_failure(true)
                .build(),
            debug: self.config.debug_handler.clone(),
        };
        let mut lease = self.memory_pool.take();
        let mut store = Store::new(&self.wasmi, state);
        store.limiter(|s| &mut s.limits);
        store
            .set_fuel(fuel_limit)
            .expect("fuel metering is enabled");

        // SAFETY: the buffer moves into `store`, which `into_data` consumes below, before
        // the lease goes back to the pool.
        let buffer = unsafe { lease.as_static_mut() };
        let memory_type = MemoryType::new(code.initial_pages as u32, None);
        let result = Memory::new_static(&mut store, memory_type, buffer)
            .map_err(|e| CallError::Vm(self.vm_error(e)))
            .and_then(|memory| self.run(&mut store, &code, memory, &call));
        let fuel_left = store.get_fuel().expect("fuel metering is enabled");
        let gas_used = match &result {
            Err(CallError::Vm(VmError::OutOfGas)) => call.gas_limit,
            _ => fuel_to_gas(fuel_limit - fuel_left),
        };
        let backend = store.into_data().backend;
        self.memory_pool.give_back(lease);
        (CallReport { result, gas_used }, backend)
    }

    fn run(
        &self,
        store: &mut Store<HostState>,
        code: &CompiledCode,
        memory: Memory,
        call: &Call<'_>,
    ) -> Result<Output, CallError> {
        let entry = call.entry.name();
        if !code.info.exports.contains(entry) {
            return Err(VmError::MissingEntryPoint(entry.to_string()).into());
        }
        let limit = self.config.max_message_bytes;
        if call.msg.len() > limit {
            return Err(VmError::TooLarge {
                what: "message",
                len: call.msg.len(),
                limit,
            }
            .into());
        }
        let env = env_json(call.env, call.random.as_ref())?;
        let info = match (call.entry.takes_info(), call.info) {
            (true, Some(info)) => Some(
                serde_json::to_vec(info).map_err(|e| VmError::BadInput(format!("info: {e}")))?,
            ),
            (true, None) => {
                return Err(VmError::BadInput(format!("{entry} needs a MessageInfo")).into())
            }
            (false, _) => None,
        };

        let mut linker = self.linker.clone();
        linker
            .define(MEMORY_IMPORT_MODULE, MEMORY_IMPORT_NAME, memory)
            .map_err(|e| VmError::Instantiation(e.to_string()))?;
        let instance = linker
            .instantiate_and_start(&mut *store, &code.module)
            .map_err(|e| self.vm_error(e))?;
        let typed = |name: &str| {
            instance
                .get_typed_func::<u32, u32>(&*store, name)
                .map_err(|e| VmError::Instantiation(format!("export {name}: {e}")))
        };
        let allocate = typed("allocate")?;
        let deallocate = instance
            .get_typed_func::<u32, ()>(&*store, "deallocate")
            .map_err(|e| VmError::Instantiation(format!("export deallocate: {e}")))?;
        store.data_mut().memory = Some(memory);
        store.data_mut().allocate = Some(allocate);

        // Arguments in and the result out are charged like region copies, as cosmwasm-vm does.
        let mut args = Vec::with_capacity(3);
        for bytes in [Some(env.as_slice()), info.as_deref(), Some(call.msg)]
            .into_iter()
            .flatten()
        {
            imports::charge(
                &mut *store,
                self.costs.write_region.total(bytes.len() as u64),
            )?;
            let len = u32::try_from(bytes.len()).expect("bounded by max_message_bytes");
            let ptr = allocate
                .call(&mut *store, len)
                .map_err(|e| self.vm_error(e))?;
            imports::write_region_raw(memory.data_mut(&mut *store), ptr, bytes)?;
            args.push(ptr);
        }
        let result_ptr = match args.as_slice() {
            [env, msg] => instance
                .get_typed_func::<(u32, u32), u32>(&*store, entry)
                .and_then(|f| f.call(&mut *store, (*env, *msg))),
            [env, info, msg] => instance
                .get_typed_func::<(u32, u32, u32), u32>(&*store, entry)
                .and_then(|f| f.call(&mut *store, (*env, *info, *msg))),
            _ => unreachable!("two or three arguments"),
        }
        .map_err(|e| self.vm_error(e))?;
        let result = read_region_raw(
            memory.data(&*store),
            result_ptr,
            self.config.max_result_bytes,
        )?;
        imports::charge(
            &mut *store,
            self.costs.read_region.total(result.len() as u64),
        )?;
        deallocate
            .call(&mut *store, result_ptr)
            .map_err(|e| self.vm_error(e))?;
        parse_result(call.entry, &result)
    }

    /// Maps a wasmi error to the engine's own, unwrapping errors raised by imports.
    fn vm_error(&self, error: wasmi::Error) -> VmError {
        if let Some(HostFailure(e)) = error.downcast_ref::<HostFailure>() {
            return e.clone();
        }
        // wasmi names the table here by its store handle, a counter of the process: the
        // message would differ between nodes, and a contract reads it (a query's error).
        if let wasmi::errors::ErrorKind::Instantiation(
            wasmi::errors::InstantiationError::ElementSegmentDoesNotFit {
                table_index, len, ..
            },
        ) = error.kind()
        {
            return VmError::Trap(format!(
                "out of bounds table access: an element segment of {len} elements does not fit at offset {table_index}"
            ));
        }
        match error.as_trap_code() {
            Some(TrapCode::OutOfFuel) => VmError::OutOfGas,
            Some(TrapCode::StackOverflow) => VmError::StackExhausted,
            Some(TrapCode::GrowthOperationLimited) => VmError::MemoryLimit {
                limit_bytes: self.config.memory_limit_bytes,
            },
            Some(code) => VmError::Trap(code.to_string()),
            None => {
                let msg = error.to_string();
                if msg.contains("out of fuel") {
                    VmError::OutOfGas
                } else {
                    VmError::Trap(msg)
                }
            }
        }
    }
}

fn env_json(env: &Env, random: Option<&[u8; 32]>) -> Result<Vec<u8>, VmError> {
    let bad = |e: serde_json::Error| VmError::BadInput(format!("env: {e}"));
    let Some(random) = random else {
        return serde_json::to_vec(env).map_err(bad);
    };
    let mut value = serde_json::to_value(env).map_err(bad)?;
    value["block"]["random"] =
        serde_json::to_value(Binary::from(random.as_slice())).map_err(bad)?;
    serde_json::to_vec(&value).map_err(bad)
}

fn parse_result(entry: Entry, bytes: &[u8]) -> Result<Output, CallError> {
    let bad = |e: serde_json::Error| CallError::Vm(VmError::BadResult(e.to_string()));
    match entry {
        Entry::Query => {
            match serde_json::from_slice::<ContractResult<Binary>>(bytes).map_err(bad)? {
                ContractResult::Ok(data) => Ok(Output::Query(data)),
                ContractResult::Err(msg) => Err(CallError::Contract(msg)),
            }
        }
        _ => match serde_json::from_slice::<ContractResult<Response>>(bytes).map_err(bad)? {
            ContractResult::Ok(response) => Ok(Output::Response(response)),
            ContractResult::Err(msg) => Err(CallError::Contract(msg)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_is_added_to_env_block_only_when_given() {
        let block = crate::BlockContext {
            height: 5,
            time_nanos: 7,
            chain_id: "c".into(),
            tx_index: Some(1),
        };
        let env = crate::build_env(&block, "veil1contract");
        let plain: serde_json::Value =
            serde_json::from_slice(&env_json(&env, None).unwrap()).unwrap();
        assert!(plain["block"].get("random").is_none());
        assert_eq!(plain, serde_json::to_value(&env).unwrap());
        let with: serde_json::Value =
            serde_json::from_slice(&env_json(&env, Some(&[0xab; 32])).unwrap()).unwrap();
        assert_eq!(
            with["block"]["random"],
            serde_json::json!("q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=")
        );
        assert_eq!(with["block"]["height"], serde_json::json!(5));
    }
}
