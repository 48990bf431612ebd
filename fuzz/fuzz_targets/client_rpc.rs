//! Node answers as the client receives them — the node is untrusted for the client:
//! every RPC call of `veil_client::rpc::Client`, over real HTTP from a loopback server
//! that answers with the fuzzer's status, headers and body (or raw bytes), and the
//! client-side decoding of what it returns (`decrypt_result`, `decrypt_own_message`,
//! `decode_data`). A bad answer is a clear error, never a panic or a hang.
#![no_main]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex, OnceLock};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use veil_client::rpc::Client;
use veil_client::tx::{decode_data, decrypt_own_message, decrypt_result};
use veil_client::KeyPair;

#[derive(Debug, Arbitrary)]
struct Input {
    call: u8,
    answer: Answer,
    envelope: Vec<u8>,
}

#[derive(Debug, Arbitrary)]
enum Answer {
    Http {
        status: u16,
        chunked: bool,
        body: Vec<u8>,
    },
    Raw(Vec<u8>),
}

impl Answer {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Answer::Raw(bytes) => bytes.clone(),
            Answer::Http {
                status,
                chunked,
                body,
            } => {
                let status = 100 + status % 500;
                let mut out = format!("HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nConnection: close\r\n")
                    .into_bytes();
                if *chunked {
                    out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                    for chunk in body.chunks(7) {
                        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                        out.extend_from_slice(chunk);
                        out.extend_from_slice(b"\r\n");
                    }
                    out.extend_from_slice(b"0\r\n\r\n");
                } else {
                    out.extend_from_slice(
                        format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
                    );
                    out.extend_from_slice(body);
                }
                out
            }
        }
    }
}

type Slot = Arc<Mutex<Vec<u8>>>;

/// A loopback server that answers every connection with the answer in the slot.
fn server() -> &'static (Slot, String) {
    static SERVER: OnceLock<(Slot, String)> = OnceLock::new();
    SERVER.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let slot: Slot = Arc::default();
        let answers = slot.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let answer = answers.lock().unwrap().clone();
                // Read the request head and body, then answer and close.
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0usize;
                let mut line = String::new();
                while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                    if line == "\r\n" {
                        break;
                    }
                    if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                    line.clear();
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let _ = stream.write_all(&answer);
                let _ = stream.shutdown(std::net::Shutdown::Both);
            }
        });
        (slot, url)
    })
}

fn key() -> &'static KeyPair {
    static KEY: OnceLock<KeyPair> = OnceLock::new();
    KEY.get_or_init(|| KeyPair::from_secret_bytes(&[7; 32]).expect("a valid key"))
}

fuzz_target!(|input: Input| {
    let (slot, url) = server();
    *slot.lock().unwrap() = input.answer.bytes();
    let client = Client::new(url);
    let hash = [3u8; 32];
    match input.call % 14 {
        0 => drop(client.status()),
        1 => drop(client.network_key()),
        2 => drop(client.account("veil1xyz")),
        3 => drop(client.code(1)),
        4 => drop(client.contract("veil1xyz")),
        5 => drop(client.block(None)),
        6 => drop(client.block_receipts(1)),
        7 => drop(client.submit_bytes(b"tx")),
        8 => drop(client.genesis()),
        9 => drop(client.registration(&hash)),
        10 => drop(client.registrations(None, Some(3))),
        11 => drop(client.attestation_policy()),
        12 => drop(client.tx(&hash)),
        _ => {
            if let Ok(answer) = client.query_contract("veil1xyz", &input.envelope, None) {
                let network_key = [9u8; 32];
                if let Ok(value) = decrypt_result(
                    key(),
                    &network_key,
                    &input.envelope,
                    &answer.encrypted_result,
                ) {
                    let _ = decode_data(&value);
                }
                let _ = decrypt_own_message(key(), &network_key, &input.envelope);
            }
        }
    }
});
