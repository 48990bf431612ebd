//! The `env` imports of CosmWasm's `interface_version_8`, with cosmwasm-vm 3's semantics:
//! return codes, region handling, size limits and error messages follow cosmwasm-vm so a
//! contract cannot tell the two apart (besides gas).

use std::sync::Arc;

use cosmwasm_crypto::{
    bls12_381_aggregate_g1, bls12_381_aggregate_g2, bls12_381_hash_to_g1, bls12_381_hash_to_g2,
    bls12_381_pairing_equality, ed25519_batch_verify, ed25519_verify, secp256k1_recover_pubkey,
    secp256k1_verify, secp256r1_recover_pubkey, secp256r1_verify, CryptoError, HashFunction,
};
use wasmi::{AsContextMut, Caller, Linker, Memory, TypedFunc};

use crate::backend::{Backend, BackendError, KeyRange, Order};
use crate::gas::{gas_to_fuel, GasCosts};
use crate::VmError;

const KI: usize = 1024;
const MI: usize = 1024 * 1024;
const MAX_LENGTH_DB_KEY: usize = 64 * KI;
const MAX_LENGTH_DB_VALUE: usize = 128 * KI;
const MAX_LENGTH_CANONICAL_ADDRESS: usize = 64;
const MAX_LENGTH_HUMAN_ADDRESS: usize = 256;
const MAX_LENGTH_QUERY_CHAIN_REQUEST: usize = 64 * KI;
const MAX_LENGTH_ED25519_SIGNATURE: usize = 64;
const MAX_LENGTH_ED25519_MESSAGE: usize = 128 * KI;
const MAX_COUNT_ED25519_BATCH: usize = 256;
const MAX_LENGTH_DEBUG: usize = 2 * MI;
const MAX_LENGTH_ABORT: usize = 2 * MI;
const MESSAGE_HASH_MAX_LEN: usize = 32;
const ECDSA_SIGNATURE_LEN: usize = 64;
const ECDSA_PUBKEY_MAX_LEN: usize = 65;
const EDDSA_PUBKEY_LEN: usize = 32;
const BLS12_381_G1_POINT_LEN: usize = 48;
const BLS12_381_G2_POINT_LEN: usize = 96;
const BLS12_381_MAX_AGGREGATE_SIZE: usize = 2 * MI;
const BLS12_381_MAX_MESSAGE_SIZE: usize = 5 * MI;
const BLS12_381_MAX_DST_SIZE: usize = 5 * KI;
/// Open iterators per call; each costs a scan fee, this only bounds host memory.
const MAX_ITERATORS: usize = 10_000;

/// Receives the contract's `debug` messages. Plaintext: the enclave must not forward it.
pub type DebugHandler = Arc<dyn Fn(&str) + Send + Sync>;

/// Per-call state the imports work on.
pub(crate) struct HostState {
    pub backend: Backend,
    pub costs: Arc<GasCosts>,
    pub read_only: bool,
    pub memory: Option<Memory>,
    pub allocate: Option<TypedFunc<u32, u32>>,
    pub iterators: Vec<IteratorState>,
    pub limits: wasmi::StoreLimits,
    pub debug: Option<DebugHandler>,
}

pub(crate) struct IteratorState {
    range: KeyRange,
    order: Order,
    /// Last key returned; `None` before the first step.
    last: Option<Vec<u8>>,
    done: bool,
}

type Ctx<'a> = Caller<'a, HostState>;
type HostResult<T> = Result<T, wasmi::Error>;

/// Takes `gas` from the call's budget; out of gas leaves the budget empty.
pub(crate) fn charge(
    mut ctx: impl AsContextMut<Data = HostState>,
    gas: u64,
) -> Result<(), VmError> {
    let mut ctx = ctx.as_context_mut();
    let fuel = gas_to_fuel(gas);
    let left = ctx.get_fuel().map_err(|e| VmError::Trap(e.to_string()))?;
    if left < fuel {
        let _ = ctx.set_fuel(0);
        return Err(VmError::OutOfGas);
    }
    ctx.set_fuel(left - fuel)
        .map_err(|e| VmError::Trap(e.to_string()))
}

/// Charges the price `price` picks from the cost table.
fn charge_by(caller: &mut Ctx<'_>, price: impl FnOnce(&GasCosts) -> u64) -> Result<(), VmError> {
    let gas = price(&caller.data().costs);
    charge(&mut *caller, gas)
}

fn memory(caller: &Ctx<'_>) -> Result<Memory, VmError> {
    caller
        .data()
        .memory
        .ok_or_else(|| VmError::Region("memory is not available yet".into()))
}

/// A CosmWasm region: `offset`, `capacity`, `length`, each a little-endian u32.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Region {
    pub offset: u32,
    pub capacity: u32,
    pub length: u32,
}

pub(crate) fn get_region(data: &[u8], ptr: u32) -> Result<Region, VmError> {
    let start = ptr as usize;
    let bytes = data
        .get(start..start.saturating_add(12))
        .ok_or_else(|| VmError::Region(format!("region pointer {ptr} is outside memory")))?;
    let word = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
    let region = Region {
        offset: word(0),
        capacity: word(4),
        length: word(8),
    };
    if region.offset == 0 {
        return Err(VmError::Region("region has a zero offset".into()));
    }
    if region.length > region.capacity {
        return Err(VmError::Region(format!(
            "region length {} exceeds its capacity {}",
            region.length, region.capacity
        )));
    }
    if region.offset.checked_add(region.capacity).is_none() {
        return Err(VmError::Region("region extends past 4 GiB".into()));
    }
    Ok(region)
}

/// Copies the bytes a region points to out of contract memory.
pub(crate) fn read_region_raw(data: &[u8], ptr: u32, max_len: usize) -> Result<Vec<u8>, VmError> {
    let region = get_region(data, ptr)?;
    if region.length as usize > max_len {
        return Err(VmError::Region(format!(
            "region length {} exceeds the maximum of {max_len} bytes",
            region.length
        )));
    }
    let start = region.offset as usize;
    data.get(start..start + region.length as usize)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| VmError::Region("region data is outside memory".into()))
}

/// Writes `bytes` into the region at `ptr` and sets its length.
pub(crate) fn write_region_raw(data: &mut [u8], ptr: u32, bytes: &[u8]) -> Result<(), VmError> {
    let region = get_region(data, ptr)?;
    if bytes.len() > region.capacity as usize {
        return Err(VmError::Region(format!(
            "region capacity {} is too small for {} bytes",
            region.capacity,
            bytes.len()
        )));
    }
    let start = region.offset as usize;
    data.get_mut(start..start + bytes.len())
        .ok_or_else(|| VmError::Region("region data is outside memory".into()))?
        .copy_from_slice(bytes);
    let len_at = ptr as usize + 8;
    data[len_at..len_at + 4].copy_from_slice(&(bytes.len() as u32).to_le_bytes());
    Ok(())
}

fn read_region(caller: &mut Ctx<'_>, ptr: u32, max_len: usize) -> Result<Vec<u8>, VmError> {
    let mem = memory(caller)?;
    let bytes = read_region_raw(mem.data(&*caller), ptr, max_len)?;
    charge_by(caller, |g| g.read_region.total(bytes.len() as u64))?;
    Ok(bytes)
}

fn maybe_read_region(
    caller: &mut Ctx<'_>,
    ptr: u32,
    max_len: usize,
) -> Result<Option<Vec<u8>>, VmError> {
    if ptr == 0 {
        Ok(None)
    } else {
        read_region(caller, ptr, max_len).map(Some)
    }
}

fn write_region(caller: &mut Ctx<'_>, ptr: u32, bytes: &[u8]) -> Result<(), VmError> {
    charge_by(caller, |g| g.write_region.total(bytes.len() as u64))?;
    let mem = memory(caller)?;
    write_region_raw(mem.data_mut(&mut *caller), ptr, bytes)
}

/// Allocates a region in the contract (its `allocate` export) and fills it with `bytes`.
fn write_to_contract(caller: &mut Ctx<'_>, bytes: &[u8]) -> HostResult<u32> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| VmError::Region("value larger than 4 GiB".into()))?;
    let allocate = caller
        .data()
        .allocate
        .ok_or_else(|| VmError::Region("allocate is not available yet".into()))?;
    let ptr = allocate.call(&mut *caller, len)?;
    if ptr == 0 {
        return Err(VmError::Region("contract's allocate returned a zero pointer".into()).into());
    }
    write_region(caller, ptr, bytes)?;
    Ok(ptr)
}

/// CosmWasm's section encoding: each item followed by its length as a big-endian u32.
fn encode_sections(items: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(items.iter().map(|i| i.len() + 4).sum());
    for item in items {
        out.extend_from_slice(item);
        out.extend_from_slice(&(item.len() as u32).to_be_bytes());
    }
    out
}

fn decode_sections(data: &[u8]) -> Result<Vec<Vec<u8>>, VmError> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let split = rest
            .len()
            .checked_sub(4)
            .ok_or_else(|| VmError::Region("section length is truncated".into()))?;
        let len = u32::from_be_bytes(rest[split..].try_into().expect("4 bytes")) as usize;
        let start = split
            .checked_sub(len)
            .ok_or_else(|| VmError::Region("section length exceeds data".into()))?;
        out.push(rest[start..split].to_vec());
        rest = &rest[..start];
    }
    out.reverse();
    Ok(out)
}

fn user_message(caller: &mut Ctx<'_>, result: Result<u32, BackendError>) -> HostResult<u32> {
    match result {
        Ok(code) => Ok(code),
        Err(BackendError::InvalidAddress(msg)) => write_to_contract(caller, msg.as_bytes()),
        Err(e) => Err(VmError::Backend(e).into()),
    }
}

fn crypto_code(err: CryptoError) -> u32 {
    err.code()
}

/// Registers every import on `linker`.
pub(crate) fn link(linker: &mut Linker<HostState>) -> Result<(), wasmi::Error> {
    linker.func_wrap(
        "env",
        "db_read",
        |mut c: Ctx<'_>, key_ptr: u32| -> HostResult<u32> {
            charge_by(&mut c, |g| g.host_call)?;
            let key = read_region(&mut c, key_ptr, MAX_LENGTH_DB_KEY)?;
            let value = c.data().backend.storage.get(&key).map_err(VmError::from)?;
            let read_len = key.len() + value.as_ref().map_or(0, Vec::len);
            charge_by(&mut c, |g| g.storage_read.total(read_len as u64))?;
            match value {
                Some(value) => write_to_contract(&mut c, &value),
                None => Ok(0),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "db_write",
        |mut c: Ctx<'_>, key_ptr: u32, value_ptr: u32| -> HostResult<()> {
            charge_by(&mut c, |g| g.host_call)?;
            if c.data().read_only {
                return Err(VmError::WriteAccessDenied.into());
            }
            let too_big = |what: &'static str, limit: usize| {
                move |e: VmError| match e {
                    VmError::Region(_) => VmError::BadInput(format!(
                        "{what} too big for storage (limit {limit} bytes)"
                    )),
                    other => other,
                }
            };
            let key = read_region(&mut c, key_ptr, MAX_LENGTH_DB_KEY)
                .map_err(too_big("Key", MAX_LENGTH_DB_KEY))?;
            let value = read_region(&mut c, value_ptr, MAX_LENGTH_DB_VALUE)
                .map_err(too_big("Value", MAX_LENGTH_DB_VALUE))?;
            charge_by(&mut c, |g| {
                g.storage_write.total((key.len() + value.len()) as u64)
            })?;
            c.data_mut()
                .backend
                .storage
                .set(&key, &value)
                .map_err(VmError::from)?;
            Ok(())
        },
    )?;
    linker.func_wrap(
        "env",
        "db_remove",
        |mut c: Ctx<'_>, key_ptr: u32| -> HostResult<()> {
            charge_by(&mut c, |g| g.host_call)?;
            if c.data().read_only {
                return Err(VmError::WriteAccessDenied.into());
            }
            let key = read_region(&mut c, key_ptr, MAX_LENGTH_DB_KEY)?;
            charge_by(&mut c, |g| g.storage_remove)?;
            c.data_mut()
                .backend
                .storage
                .remove(&key)
                .map_err(VmError::from)?;
            Ok(())
        },
    )?;
    linker.func_wrap(
        "env",
        "db_scan",
        |mut c: Ctx<'_>, start_ptr: u32, end_ptr: u32, order: i32| -> HostResult<u32> {
            charge_by(&mut c, |g| g.host_call)?;
            let start = maybe_read_region(&mut c, start_ptr, MAX_LENGTH_DB_KEY)?;
            let end = maybe_read_region(&mut c, end_ptr, MAX_LENGTH_DB_KEY)?;
            let order = Order::try_from(order)
                .map_err(|_| VmError::BadInput(format!("invalid iteration order {order}")))?;
            charge_by(&mut c, |g| g.storage_scan)?;
            let iterators = &mut c.data_mut().iterators;
            if iterators.len() >= MAX_ITERATORS {
                return Err(VmError::BadInput(format!(
                    "more than {MAX_ITERATORS} iterators opened"
                ))
                .into());
            }
            iterators.push(IteratorState {
                range: KeyRange { start, end },
                order,
                last: None,
                done: false,
            });
            Ok(iterators.len() as u32)
        },
    )?;
    linker.func_wrap(
        "env",
        "db_next",
        |mut c: Ctx<'_>, iterator_id: u32| -> HostResult<u32> {
            charge_by(&mut c, |g| g.host_call)?;
            let (key, value) = step_iterator(&mut c, iterator_id)?.unwrap_or_default();
            write_to_contract(&mut c, &encode_sections(&[&key, &value]))
        },
    )?;
    linker.func_wrap(
        "env",
        "db_next_key",
        |mut c: Ctx<'_>, iterator_id: u32| -> HostResult<u32> {
            charge_by(&mut c, |g| g.host_call)?;
            match step_iterator(&mut c, iterator_id)? {
                Some((key, _)) => write_to_contract(&mut c, &key),
                None => Ok(0),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "db_next_value",
        |mut c: Ctx<'_>, iterator_id: u32| -> HostResult<u32> {
            charge_by(&mut c, |g| g.host_call)?;
            match step_iterator(&mut c, iterator_id)? {
                Some((_, value)) => write_to_contract(&mut c, &value),
                None => Ok(0),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "addr_validate",
        |mut c: Ctx<'_>, source_ptr: u32| -> HostResult<u32> {
            charge_by(&mut c, |g| g.host_call)?;
            let source = read_region(&mut c, source_ptr, MAX_LENGTH_HUMAN_ADDRESS)?;
            if source.is_empty() {
                return write_to_contract(&mut c, b"Input is empty");
            }
            charge_by(&mut c, |g| g.addr_validate)?;
            let Ok(source) = String::from_utf8(source) else {
                return write_to_contract(&mut c, b"Input is not valid UTF-8");
            };
            let result = c.data().backend.api.addr_validate(&source).map(|()| 0);
            user_message(&mut c, result)
        },
    )?;
    linker.func_wrap(
        "env",
        "addr_canonicalize",
        |mut c: Ctx<'_>, source_ptr: u32, destination_ptr: u32| -> HostResult<u32> {
            charge_by(&mut c, |g| g.host_call)?;
            let source = read_region(&mut c, source_ptr, MAX_LENGTH_HUMAN_ADDRESS)?;
            if source.is_empty() {
                return write_to_contract(&mut c, b"Input is empty");
            }
            charge_by(&mut c, |g| g.addr_canonicalize)?;
            let Ok(source) = String::from_utf8(source) else {
                return write_to_contract(&mut c, b"Input is not valid UTF-8");
            };
            match c.data().backend.api.addr_canonicalize(&source) {
                Ok(canonical) => {
                    write_region(&mut c, destination_ptr, &canonical)?;
                    Ok(0)
                }
                Err(e) => user_message(&mut c, Err(e)),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "addr_humanize",
        |mut c: Ctx<'_>, source_ptr: u32, destination_ptr: u32| -> HostResult<u32> {
            charge_by(&mut c, |g| g.host_call)?;
            let canonical = read_region(&mut c, source_ptr, MAX_LENGTH_CANONICAL_ADDRESS)?;
            charge_by(&mut c, |g| g.addr_humanize)?;
            match c.data().backend.api.addr_humanize(&canonical) {
                Ok(human) => {
                    write_region(&mut c, destination_ptr, human.as_bytes())?;
                    Ok(0)
                }
                Err(e) => user_message(&mut c, Err(e)),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "secp256k1_verify",
        |c: Ctx<'_>, hash: u32, sig: u32, pubkey: u32| {
            ecdsa_verify(
                c,
                [hash, sig, pubkey],
                |g| g.secp256k1_verify,
                secp256k1_verify,
            )
        },
    )?;
    linker.func_wrap(
        "env",
        "secp256k1_recover_pubkey",
        |c: Ctx<'_>, hash: u32, sig: u32, param: u32| {
            ecdsa_recover(
                c,
                [hash, sig],
                param,
                |g| g.secp256k1_recover_pubkey,
                secp256k1_recover_pubkey,
            )
        },
    )?;
    linker.func_wrap(
        "env",
        "secp256r1_verify",
        |c: Ctx<'_>, hash: u32, sig: u32, pubkey: u32| {
            ecdsa_verify(
                c,
                [hash, sig, pubkey],
                |g| g.secp256r1_verify,
                secp256r1_verify,
            )
        },
    )?;
    linker.func_wrap(
        "env",
        "secp256r1_recover_pubkey",
        |c: Ctx<'_>, hash: u32, sig: u32, param: u32| {
            ecdsa_recover(
                c,
                [hash, sig],
                param,
                |g| g.secp256r1_recover_pubkey,
                secp256r1_recover_pubkey,
            )
        },
    )?;
    linker.func_wrap(
        "env",
        "ed25519_verify",
        |mut c: Ctx<'_>, msg_ptr: u32, sig_ptr: u32, pubkey_ptr: u32| -> HostResult<u32> {
            charge_by(&mut c, |g| g.host_call)?;
            let msg = read_region(&mut c, msg_ptr, MAX_LENGTH_ED25519_MESSAGE)?;
            let sig = read_region(&mut c, sig_ptr, MAX_LENGTH_ED25519_SIGNATURE)?;
            let pubkey = read_region(&mut c, pubkey_ptr, EDDSA_PUBKEY_LEN)?;
            charge_by(&mut c, |g| g.ed25519_verify)?;
            Ok(verify_code(ed25519_verify(&msg, &sig, &pubkey)))
        },
    )?;
    linker.func_wrap(
        "env",
        "ed25519_batch_verify",
        |mut c: Ctx<'_>, msgs_ptr: u32, sigs_ptr: u32, pubkeys_ptr: u32| -> HostResult<u32> {
            charge_by(&mut c, |g| g.host_call)?;
            let msgs = read_region(
                &mut c,
                msgs_ptr,
                (MAX_LENGTH_ED25519_MESSAGE + 4) * MAX_COUNT_ED25519_BATCH,
            )?;
            let sigs = read_region(
                &mut c,
                sigs_ptr,
                (MAX_LENGTH_ED25519_SIGNATURE + 4) * MAX_COUNT_ED25519_BATCH,
            )?;
            let pubkeys = read_region(
                &mut c,
                pubkeys_ptr,
                (EDDSA_PUBKEY_LEN + 4) * MAX_COUNT_ED25519_BATCH,
            )?;
            let (msgs, sigs, pubkeys) = (
                decode_sections(&msgs)?,
                decode_sections(&sigs)?,
                decode_sections(&pubkeys)?,
            );
            let one_pubkey = pubkeys.len() == 1;
            charge_by(&mut c, |g| {
                let price = if one_pubkey {
                    g.ed25519_batch_verify_one_pubkey
                } else {
                    g.ed25519_batch_verify
                };
                price.total(sigs.len() as u64)
            })?;
            // Batch verification draws random coefficients; the verdict does not depend on them.
            let verdict = ed25519_batch_verify(
                &mut rand_core::OsRng,
                &as_slices(&msgs),
                &as_slices(&sigs),
                &as_slices(&pubkeys),
            );
            Ok(verify_code(verdict))
        },
    )?;
    linker.func_wrap(
        "env",
        "bls12_381_aggregate_g1",
        |mut c: Ctx<'_>, points_ptr: u32, out_ptr: u32| -> HostResult<u32> {
            charge_by(&mut c, |g| g.host_call)?;
            let points = read_region(&mut c, points_ptr, BLS12_381_MAX_AGGREGATE_SIZE)?;
            charge_by(&mut c, |g| {
                g.bls12_381_aggregate_g1
                    .total((points.len() / BLS12_381_G1_POINT_LEN) as u64)
            })?;
            match bls12_381_aggregate_g1(&points) {
                Ok(point) => {
                    write_region(&mut c, out_ptr, &point)?;
                    Ok(0)
                }
                Err(e) => Ok(crypto_code(e)),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "bls12_381_aggregate_g2",
        |mut c: Ctx<'_>, points_ptr: u32, out_ptr: u32| -> HostResult<u32> {
            charge_by(&mut c, |g| g.host_call)?;
            let points = read_region(&mut c, points_ptr, BLS12_381_MAX_AGGREGATE_SIZE)?;
            charge_by(&mut c, |g| {
                g.bls12_381_aggregate_g2
                    .total((points.len() / BLS12_381_G2_POINT_LEN) as u64)
            })?;
            match bls12_381_aggregate_g2(&points) {
                Ok(point) => {
                    write_region(&mut c, out_ptr, &point)?;
                    Ok(0)
                }
                Err(e) => Ok(crypto_code(e)),
            }
        },
    )?;
    linker.func_wrap(
        "env",
        "bls12_381_pairing_equality",
        |mut c: Ctx<'_>, ps_ptr: u32, qs_ptr: u32, r_ptr: u32, s_ptr: u32| -> HostResult<u32> {
            charge_by(&mut c, |g| g.host_call)?;
            let ps = read_region(&mut c, ps_ptr, BLS12_381_MAX_AGGREGATE_SIZE)?;
            let qs = read_region(&mut c, qs_ptr, BLS12_381_MAX_AGGREGATE_SIZE)?;
            let r = read_region(&mut c, r_ptr, BLS12_381_G1_POINT_LEN)?;
            let s = read_region(&mut c, s_ptr, BLS12_381_G2_POINT_LEN)?;
            let pairs = (ps.len() / BLS12_381_G1_POINT_LEN) as u64;
            charge_by(&mut c, |g| g.bls12_381_pairing_equality.total(pairs + 1))?;
            Ok(verify_code(bls12_381_pairing_equality(&ps, &qs, &r, &s)))
        },
    )?;
    linker.func_wrap(
        "env",
        "bls12_381_hash_to_g1",
        |mut c: Ctx<'_>,
         hash_function: u32,
         msg_ptr: u32,
         dst_ptr: u32,
         out_ptr: u32|
         -> HostResult<u32> {
            charge_by(&mut c, |g| g.host_call)?;
            let msg = read_region(&mut c, msg_ptr, BLS12_381_MAX_MESSAGE_SIZE)?;
            let dst = read_region(&mut c, dst_ptr, BLS12_381_MAX_DST_SIZE)?;
            charge_by(&mut c, |g| g.bls12_381_hash_to_g1)?;
            let hash_function = match HashFunction::from_u32(hash_function) {
                Ok(f) => f,
                Err(e) => return Ok(e.code()),
            };
            write_region(
                &mut c,
                out_ptr,
                &bls12_381_hash_to_g1(hash_function, &msg, &dst),
            )?;
            Ok(0)
        },
    )?;
    linker.func_wrap(
        "env",
        "bls12_381_hash_to_g2",
        |mut c: Ctx<'_>,
         hash_function: u32,
         msg_ptr: u32,
         dst_ptr: u32,
         out_ptr: u32|
         -> HostResult<u32> {
            charge_by(&mut c, |g| g.host_call)?;
            let msg = read_region(&mut c, msg_ptr, BLS12_381_MAX_MESSAGE_SIZE)?;
            let dst = read_region(&mut c, dst_ptr, BLS12_381_MAX_DST_SIZE)?;
            charge_by(&mut c, |g| g.bls12_381_hash_to_g2)?;
            let hash_function = match HashFunction::from_u32(hash_function) {
                Ok(f) => f,
                Err(e) => return Ok(e.code()),
            };
            write_region(
                &mut c,
                out_ptr,
                &bls12_381_hash_to_g2(hash_function, &msg, &dst),
            )?;
            Ok(0)
        },
    )?;
    linker.func_wrap(
        "env",
        "debug",
        |mut c: Ctx<'_>, msg_ptr: u32| -> HostResult<()> {
            charge_by(&mut c, |g| g.host_call)?;
            let msg = read_region(&mut c, msg_ptr, MAX_LENGTH_DEBUG)?;
            if let Some(handler) = &c.data().debug {
                handler(&String::from_utf8_lossy(&msg));
            }
            Ok(())
        },
    )?;
    linker.func_wrap(
        "env",
        "abort",
        |mut c: Ctx<'_>, msg_ptr: u32| -> HostResult<()> {
            charge_by(&mut c, |g| g.host_call)?;
            let msg = read_region(&mut c, msg_ptr, MAX_LENGTH_ABORT)?;
            Err(VmError::Aborted(String::from_utf8_lossy(&msg).into_owned()).into())
        },
    )?;
    linker.func_wrap(
        "env",
        "query_chain",
        |mut c: Ctx<'_>, request_ptr: u32| -> HostResult<u32> {
            charge_by(&mut c, |g| g.host_call)?;
            let request = read_region(&mut c, request_ptr, MAX_LENGTH_QUERY_CHAIN_REQUEST)?;
            charge_by(&mut c, |g| g.query_chain)?;
            let gas_left = crate::gas::fuel_to_gas(c.get_fuel().unwrap_or(0));
            let (answer, gas_used) = c.data().backend.querier.query_raw(&request, gas_left);
            charge(&mut c, gas_used)?;
            let bytes = serde_json::to_vec(&answer).map_err(|e| {
                VmError::BadResult(format!("query answer could not be serialized: {e}"))
            })?;
            write_to_contract(&mut c, &bytes)
        },
    )?;
    Ok(())
}

/// A curve's ECDSA verification: (message hash, signature, public key).
type EcdsaVerify = fn(&[u8], &[u8], &[u8]) -> Result<bool, CryptoError>;
/// A curve's public key recovery: (message hash, signature, recovery param).
type EcdsaRecover = fn(&[u8], &[u8], u8) -> Result<Vec<u8>, CryptoError>;

/// `secp256k1_verify` / `secp256r1_verify`: 0 valid, 1 invalid, else a crypto error code.
fn ecdsa_verify(
    mut c: Ctx<'_>,
    [hash_ptr, sig_ptr, pubkey_ptr]: [u32; 3],
    price: fn(&GasCosts) -> u64,
    verify: EcdsaVerify,
) -> HostResult<u32> {
    charge_by(&mut c, |g| g.host_call)?;
    let hash = read_region(&mut c, hash_ptr, MESSAGE_HASH_MAX_LEN)?;
    let sig = read_region(&mut c, sig_ptr, ECDSA_SIGNATURE_LEN)?;
    let pubkey = read_region(&mut c, pubkey_ptr, ECDSA_PUBKEY_MAX_LEN)?;
    charge_by(&mut c, price)?;
    Ok(verify_code(verify(&hash, &sig, &pubkey)))
}

/// `secp256k1_recover_pubkey` / `secp256r1_recover_pubkey`: the key's region pointer in the
/// low half, or a crypto error code in the high half.
fn ecdsa_recover(
    mut c: Ctx<'_>,
    [hash_ptr, sig_ptr]: [u32; 2],
    param: u32,
    price: fn(&GasCosts) -> u64,
    recover: EcdsaRecover,
) -> HostResult<u64> {
    charge_by(&mut c, |g| g.host_call)?;
    let hash = read_region(&mut c, hash_ptr, MESSAGE_HASH_MAX_LEN)?;
    let sig = read_region(&mut c, sig_ptr, ECDSA_SIGNATURE_LEN)?;
    let Ok(param) = u8::try_from(param) else {
        return Ok(u64::from(CryptoError::invalid_recovery_param().code()) << 32);
    };
    charge_by(&mut c, price)?;
    match recover(&hash, &sig, param) {
        Ok(pubkey) => Ok(u64::from(write_to_contract(&mut c, &pubkey)?)),
        Err(e) => Ok(u64::from(crypto_code(e)) << 32),
    }
}

fn as_slices(items: &[Vec<u8>]) -> Vec<&[u8]> {
    items.iter().map(Vec::as_slice).collect()
}

fn verify_code(result: Result<bool, CryptoError>) -> u32 {
    match result {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => crypto_code(e),
    }
}

/// Advances iterator `id` by one entry and charges for it.
fn step_iterator(c: &mut Ctx<'_>, id: u32) -> HostResult<Option<(Vec<u8>, Vec<u8>)>> {
    let index = (id as usize)
        .checked_sub(1)
        .filter(|i| *i < c.data().iterators.len())
        .ok_or_else(|| VmError::BadInput(format!("iterator {id} does not exist")))?;
    let state = &c.data().iterators[index];
    if state.done {
        charge_by(c, |g| g.storage_next.base)?;
        return Ok(None);
    }
    let next = c
        .data()
        .backend
        .storage
        .next_in_range(&state.range, state.order, state.last.as_deref())
        .map_err(VmError::from)?;
    let len = next.as_ref().map_or(0, |(k, v)| k.len() + v.len());
    charge_by(c, |g| g.storage_next.total(len as u64))?;
    let state = &mut c.data_mut().iterators[index];
    match &next {
        Some((key, _)) => state.last = Some(key.clone()),
        None => state.done = true,
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_round_trip() {
        let items: [&[u8]; 3] = [b"key", b"", b"value!"];
        let encoded = encode_sections(&items);
        assert_eq!(encoded, b"key\0\0\0\x03\0\0\0\0value!\0\0\0\x06");
        assert_eq!(
            decode_sections(&encoded).unwrap(),
            items.map(<[u8]>::to_vec)
        );
        assert!(decode_sections(b"\0\0\x01").is_err());
        assert!(decode_sections(b"ab\0\0\0\x09").is_err());
    }

    #[test]
    fn regions_are_checked() {
        let mut mem = vec![0u8; 64];
        // region at 0: offset 32, capacity 8, length 3
        mem[0..4].copy_from_slice(&32u32.to_le_bytes());
        mem[4..8].copy_from_slice(&8u32.to_le_bytes());
        mem[8..12].copy_from_slice(&3u32.to_le_bytes());
        mem[32..35].copy_from_slice(b"abc");
        assert_eq!(read_region_raw(&mem, 0, 10).unwrap(), b"abc");
        assert!(read_region_raw(&mem, 0, 2).is_err(), "max length enforced");
        assert!(
            read_region_raw(&mem, 60, 10).is_err(),
            "region header outside memory"
        );
        write_region_raw(&mut mem, 0, b"12345678").unwrap();
        assert_eq!(read_region_raw(&mem, 0, 10).unwrap(), b"12345678");
        assert!(
            write_region_raw(&mut mem, 0, b"123456789").is_err(),
            "capacity enforced"
        );
        mem[0..4].copy_from_slice(&60u32.to_le_bytes());
        assert!(read_region_raw(&mem, 0, 10).is_err(), "data outside memory");
    }
}
