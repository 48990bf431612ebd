//! Contract linear memory, supplied by the engine instead of allocated by wasmi.
//!
//! wasmi keeps a module-defined memory in a `Vec` that is reallocated, and so copied, when
//! the contract grows it — which Rust's allocator does on every call. Instead, stored code
//! is rewritten so its memory is imported (`veil.memory`), and each call gets a buffer from
//! a pool, sized to the memory limit up front: growth never copies, and a buffer's pages
//! stay mapped from one call to the next. wasmi zeroes the initial pages on every use and
//! each grown page as it grows, so no bytes of one call are visible to the next.

use std::ptr::NonNull;
use std::sync::Mutex;

pub use wasm_encoder::MemoryType;
use wasm_encoder::{EntityType, ImportSection, RawSection, Section};
use wasmparser::{Parser, Payload, TypeRef};

use crate::VmError;

/// Where the rewritten module imports its memory from.
pub const MEMORY_IMPORT_MODULE: &str = "veil";
pub const MEMORY_IMPORT_NAME: &str = "memory";

const IMPORT_SECTION_ID: u8 = 2;
const MEMORY_SECTION_ID: u8 = 5;

/// Returns `wasm` with its one defined memory turned into an import of the same type,
/// and that memory's initial size in pages. Memory indices are unchanged (an imported
/// memory takes index 0), so data segments and the `memory` export still refer to it.
/// `wasm` must have passed `check_wasm` (exactly one defined memory, no memory imports).
pub fn import_memory(wasm: &[u8]) -> Result<(Vec<u8>, u64), VmError> {
    let bad = |e: wasmparser::BinaryReaderError| VmError::StaticValidation(e.to_string());
    let mut memory = None;
    for payload in Parser::new(0).parse_all(wasm) {
        if let Payload::MemorySection(reader) = payload.map_err(bad)? {
            for m in reader {
                memory = Some(m.map_err(bad)?);
            }
        }
    }
    let memory = memory.ok_or_else(|| VmError::StaticValidation("module has no memory".into()))?;
    let memory_type = MemoryType {
        minimum: memory.initial,
        maximum: memory.maximum,
        memory64: memory.memory64,
        shared: memory.shared,
        page_size_log2: memory.page_size_log2,
    };
    Ok((
        replace_memory_with_import(wasm, memory_type)?,
        memory.initial,
    ))
}

/// Returns `wasm` with its defined memory (if any) dropped and a memory of `memory_type`
/// imported from `veil.memory` in its place, at index 0. This is how NEAR prepares code
/// (nearcore imports a standard 64–128 MiB memory whatever the contract declared).
/// `wasm` must not import a memory itself.
pub fn replace_memory_with_import(
    wasm: &[u8],
    memory_type: MemoryType,
) -> Result<Vec<u8>, VmError> {
    let bad = |e: wasmparser::BinaryReaderError| VmError::StaticValidation(e.to_string());
    let memory_import = |imports: &mut ImportSection| {
        imports.import(
            MEMORY_IMPORT_MODULE,
            MEMORY_IMPORT_NAME,
            EntityType::Memory(memory_type),
        );
    };
    let header = wasm
        .get(..8)
        .ok_or_else(|| VmError::StaticValidation("not a Wasm module".into()))?;
    let mut out = header.to_vec(); // magic and version
    let mut imports_written = false;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(bad)?;
        let Some((id, range)) = payload.as_section() else {
            continue;
        };
        match id {
            IMPORT_SECTION_ID => {
                let Payload::ImportSection(reader) = payload else {
                    unreachable!("id 2 is imports")
                };
                let mut imports = ImportSection::new();
                for import in reader {
                    let import = import.map_err(bad)?;
                    let TypeRef::Func(ty) = import.ty else {
                        return Err(VmError::StaticValidation(
                            "only function imports are allowed".into(),
                        ));
                    };
                    imports.import(import.module, import.name, EntityType::Function(ty));
                }
                memory_import(&mut imports);
                imports.append_to(&mut out);
                imports_written = true;
            }
            MEMORY_SECTION_ID => {}
            _ => {
                // Sections come in id order (custom sections anywhere, data count 12
                // before code): the first one past imports is where a new import section goes.
                if !imports_written && id != 0 && id != 1 {
                    let mut imports = ImportSection::new();
                    memory_import(&mut imports);
                    imports.append_to(&mut out);
                    imports_written = true;
                }
                RawSection {
                    id,
                    data: &wasm[range],
                }
                .append_to(&mut out);
            }
        }
    }
    Ok(out)
}

/// Buffers of `buffer_bytes` each, lent to one call at a time.
pub struct MemoryPool {
    buffer_bytes: usize,
    free: Mutex<Vec<Buffer>>,
}

/// An owned, zero-initialized heap buffer, freed when the pool drops it.
struct Buffer {
    ptr: NonNull<u8>,
    len: usize,
}

// The buffer is plain heap memory owned by the pool; only one call uses it at a time.
unsafe impl Send for Buffer {}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: `ptr`/`len` come from `Box::into_raw` in `MemoryPool::take` and no lent
        // slice outlives the lease (see `Lease`).
        unsafe {
            drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                self.ptr.as_ptr(),
                self.len,
            )))
        }
    }
}

/// A buffer lent to one call. The slice handed to wasmi must be gone (its `Store`
/// dropped) before the lease is returned with `MemoryPool::give_back`.
pub struct Lease(Buffer);

impl Lease {
    /// The buffer as wasmi wants it. Call once per lease.
    ///
    /// # Safety
    ///
    /// The caller (an engine) upholds: the returned slice is moved into a `Store` that is
    /// dropped before `give_back(self)`; nothing else reads or writes the buffer meanwhile.
    pub unsafe fn as_static_mut(&mut self) -> &'static mut [u8] {
        unsafe { std::slice::from_raw_parts_mut(self.0.ptr.as_ptr(), self.0.len) }
    }
}

impl MemoryPool {
    pub fn new(buffer_bytes: usize) -> Self {
        Self {
            buffer_bytes,
            free: Mutex::new(Vec::new()),
        }
    }

    pub fn take(&self) -> Lease {
        let reused = self.free.lock().unwrap_or_else(|p| p.into_inner()).pop();
        Lease(reused.unwrap_or_else(|| {
            // calloc-backed: pages are mapped lazily, so an unused tail costs nothing.
            let boxed = vec![0u8; self.buffer_bytes].into_boxed_slice();
            let len = boxed.len();
            let ptr = NonNull::new(Box::into_raw(boxed).cast::<u8>()).expect("Box is non-null");
            Buffer { ptr, len }
        }))
    }

    pub fn give_back(&self, lease: Lease) {
        self.free
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(lease.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_becomes_an_import_and_the_module_still_validates() {
        for src in [
            r#"(module (memory (export "memory") 3) (data (i32.const 8) "hi"))"#,
            r#"(module (import "env" "debug" (func (param i32))) (memory 2) (func (export "f") (call 0 (i32.const 1))))"#,
        ] {
            let wasm = wat::parse_str(src).unwrap();
            let (rewritten, pages) = import_memory(&wasm).unwrap();
            wasmparser::Validator::new()
                .validate_all(&rewritten)
                .unwrap();
            let mut memory_import = None;
            for payload in Parser::new(0).parse_all(&rewritten) {
                match payload.unwrap() {
                    Payload::MemorySection(_) => panic!("memory section must be gone"),
                    Payload::ImportSection(r) => {
                        memory_import = r
                            .into_iter()
                            .map(Result::unwrap)
                            .find(|i| i.module == MEMORY_IMPORT_MODULE)
                    }
                    _ => {}
                }
            }
            let import = memory_import.expect("memory import present");
            assert!(matches!(import.ty, TypeRef::Memory(m) if m.initial == pages));
        }
    }

    #[test]
    fn pool_reuses_buffers() {
        let pool = MemoryPool::new(1 << 16);
        let mut lease = pool.take();
        let first = unsafe { lease.as_static_mut() }.as_ptr();
        pool.give_back(lease);
        let mut again = pool.take();
        assert_eq!(unsafe { again.as_static_mut() }.as_ptr(), first);
        pool.give_back(again);
    }
}
