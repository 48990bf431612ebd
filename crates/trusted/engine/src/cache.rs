//! Compiled modules by code checksum, bounded by an estimate of their size in memory.
//! Generic over what is cached with a module, so the NEAR engine shares it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::{Checksum, ModuleInfo};

/// wasmi does not report the size of a compiled module; its IR is a few times the Wasm
/// size, so the cache budgets this many bytes per byte of Wasm.
pub const COMPILED_BYTES_PER_WASM_BYTE: usize = 4;

/// What the CosmWasm engine keeps per stored code.
pub(crate) struct CompiledCode {
    pub module: wasmi::Module,
    pub info: ModuleInfo,
    pub wasm_len: usize,
    /// Initial size of the contract's (imported) memory, in pages.
    pub initial_pages: u64,
}

impl CachedCode for CompiledCode {
    fn wasm_len(&self) -> usize {
        self.wasm_len
    }
}

/// Anything kept in a [`ModuleCache`]: its budget is charged by Wasm size.
pub trait CachedCode {
    fn wasm_len(&self) -> usize;

    fn cost(&self) -> usize {
        self.wasm_len().saturating_mul(COMPILED_BYTES_PER_WASM_BYTE)
    }
}

/// Least-recently-used cache; `tick` orders uses.
pub struct ModuleCache<T> {
    entries: HashMap<Checksum, (Arc<T>, u64)>,
    budget_bytes: usize,
    used_bytes: usize,
    tick: u64,
}

impl<T: CachedCode> ModuleCache<T> {
    pub fn new(budget_bytes: usize) -> Self {
        Self {
            entries: HashMap::new(),
            budget_bytes,
            used_bytes: 0,
            tick: 0,
        }
    }

    pub fn get(&mut self, checksum: &Checksum) -> Option<Arc<T>> {
        self.tick += 1;
        let tick = self.tick;
        self.entries.get_mut(checksum).map(|(code, used)| {
            *used = tick;
            code.clone()
        })
    }

    pub fn insert(&mut self, checksum: Checksum, code: Arc<T>) {
        self.tick += 1;
        let cost = code.cost();
        if let Some((old, _)) = self.entries.insert(checksum, (code, self.tick)) {
            self.used_bytes -= old.cost();
        }
        self.used_bytes += cost;
        // Evict least recently used entries, but never the one just inserted.
        while self.used_bytes > self.budget_bytes && self.entries.len() > 1 {
            let (&victim, _) = self
                .entries
                .iter()
                .filter(|(k, _)| **k != checksum)
                .min_by_key(|(_, (_, used))| *used)
                .expect("more than one entry");
            let (old, _) = self.entries.remove(&victim).expect("present");
            self.used_bytes -= old.cost();
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn used_bytes(&self) -> usize {
        self.used_bytes
    }
}
