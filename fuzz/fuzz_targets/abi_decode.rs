//! Every message of the enclave ABI on the side that receives it, plus the stdio frame
//! reader: the host decodes `EcallResponse`s and answers `Ocall`s through
//! `HostServices::handle_ocall` (its real entry point); the enclave decodes `Ecall`s and
//! `OcallResponse`s (its entry point is driven by `enclave_ecall`). What decodes must
//! survive an encode/decode round trip.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use veil_enclave_abi::{
    decode, encode, read_frame, write_frame, Ecall, EcallResponse, FrameKind, Ocall, OcallResponse,
    ABI_VERSION, MAX_FRAME_BYTES,
};
use veil_host::{HostServices, MemoryNodes};

fn round_trip<T>(bytes: &[u8]) -> Option<T>
where
    T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let message = decode::<T>(bytes).ok()?;
    let again = encode(&message);
    assert_eq!(decode::<T>(&again).expect("own encoding decodes"), message);
    Some(message)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    // Most inputs get the right version in front, so the fuzzer spends its time on the
    // bodies; the rest are taken as they are (the version check is fuzzed too).
    let with_version;
    let bytes = if selector & 0x80 == 0 {
        with_version = [&ABI_VERSION.to_be_bytes()[..], rest].concat();
        &with_version[..]
    } else {
        rest
    };
    match selector & 0x07 {
        0 => {
            round_trip::<Ecall>(bytes);
        }
        1 => {
            round_trip::<EcallResponse>(bytes);
        }
        2 => {
            round_trip::<OcallResponse>(bytes);
        }
        3 => {
            // The host answering an ocall from a (compromised) enclave.
            let services = HostServices::new(
                Arc::new(MemoryNodes::default()),
                Box::new(veil_engine::BankQuerier::default()),
                false,
                None,
            );
            let answer = services.handle_ocall(bytes);
            round_trip::<OcallResponse>(&answer).expect("the host answers in the codec");
            let _ = round_trip::<Ocall>(bytes);
        }
        _ => {
            // A stream of frames, as either process reads its pipe.
            let mut reader = bytes;
            let mut frames = Vec::new();
            while let Ok(Some((kind, payload))) = read_frame(&mut reader) {
                assert!(payload.len() <= MAX_FRAME_BYTES);
                frames.push((kind, payload));
            }
            let mut written = Vec::new();
            for (kind, payload) in &frames {
                write_frame(&mut written, *kind, payload).expect("writing to a Vec");
            }
            assert_eq!(written[..], bytes[..written.len()]);
            let mut again = written.as_slice();
            for frame in &frames {
                assert_eq!(read_frame(&mut again).unwrap().as_ref(), Some(frame));
            }
            assert!(read_frame(&mut again).unwrap().is_none());
            let _ = FrameKind::Ecall;
        }
    }
});
