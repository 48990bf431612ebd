//! `veil-enclave`: the enclave as its own process, speaking the ABI codec in frames over
//! stdin/stdout (this is the executable a Gramine/SGX build runs). The host writes ecall
//! frames; while handling one, the enclave may write ocall frames and read their answers.
//! Nothing else is ever written to stdout; stderr carries only startup errors.

use std::io::{BufReader, BufWriter, Stdin, Stdout};
use std::sync::{Arc, Mutex};

use veil_enclave::{Enclave, OcallChannel};
use veil_enclave_abi::{read_frame, write_frame, FrameKind};

/// mimalloc: under load, glibc malloc spent ~14% of the block-commit thread in its
/// free-list upkeep (`unlink_chunk`, `malloc_consolidate`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

struct Stdio {
    input: BufReader<Stdin>,
    output: BufWriter<Stdout>,
}

/// Ocalls travel on the same pipes as ecalls; the host answers each before anything else.
struct StdioChannel(Arc<Mutex<Stdio>>);

impl OcallChannel for StdioChannel {
    fn ocall(&self, request: Vec<u8>) -> Result<Vec<u8>, String> {
        let mut io = self.0.lock().map_err(|_| "channel poisoned".to_string())?;
        write_frame(&mut io.output, FrameKind::Ocall, &request).map_err(|e| e.to_string())?;
        match read_frame(&mut io.input).map_err(|e| e.to_string())? {
            Some((FrameKind::OcallResponse, payload)) => Ok(payload),
            Some((kind, _)) => Err(format!("expected an ocall response, got {kind:?}")),
            None => Err("host closed the channel".into()),
        }
    }
}

fn main() {
    let io = Arc::new(Mutex::new(Stdio {
        input: BufReader::new(std::io::stdin()),
        output: BufWriter::new(std::io::stdout()),
    }));
    let mut enclave = Enclave::new(Arc::new(StdioChannel(io.clone())));
    loop {
        let frame = {
            let mut io = io.lock().expect("single-threaded");
            read_frame(&mut io.input)
        };
        let request = match frame {
            Ok(Some((FrameKind::Ecall, payload))) => payload,
            Ok(None) => return, // host closed the channel: clean shutdown
            Ok(Some((kind, _))) => {
                eprintln!("veil-enclave: protocol error: unexpected {kind:?} frame");
                std::process::exit(2);
            }
            Err(e) => {
                eprintln!("veil-enclave: channel error: {e}");
                std::process::exit(2);
            }
        };
        let response = enclave.handle(&request);
        let mut io = io.lock().expect("single-threaded");
        if let Err(e) = write_frame(&mut io.output, FrameKind::EcallResponse, &response) {
            eprintln!("veil-enclave: channel error: {e}");
            std::process::exit(2);
        }
    }
}
