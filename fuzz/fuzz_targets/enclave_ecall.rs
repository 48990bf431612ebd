//! The enclave's real entry point, `Enclave::handle`, driven by a (malicious) host: a
//! sequence of ecalls — raw bytes, or well-formed ones with fuzzed fields, including
//! blocks with valid commit certificates of the genesis validator and transactions
//! signed with real keys — while every ocall is answered with bytes the fuzzer chose.
//! Every answer must be an `EcallResponse` in the codec; nothing may panic.
#![no_main]

#[path = "../common/msg.rs"]
mod msg;

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use arbitrary::Arbitrary;
use k256::ecdsa::SigningKey;
use libfuzzer_sys::fuzz_target;
use msg::MsgSpec;
use veil_enclave::{Enclave, OcallChannel};
use veil_enclave_abi::{
    decode, encode, BlockRef, ContractRef, Ecall, EcallResponse, EntryPoint, InitRequest, LeftOut,
    RunRequest, ABI_VERSION,
};
use veil_types::consensus::{sign_precommit, CommitCertificate, ValidatorKey};
use veil_types::genesis::{Genesis, GenesisValidator};
use veil_types::{BlockHeader, TxBody};

const CHAIN_ID: &str = "veil-fuzz";
const GENESIS_TIME: u64 = 1_700_000_000_000_000_000;
const MACHINE_SECRET: [u8; 32] = [7; 32];

fn validator_key() -> ValidatorKey {
    ValidatorKey::from([0x5a; 32])
}

fn genesis() -> Genesis {
    Genesis {
        chain_id: CHAIN_ID.into(),
        genesis_time_nanos: GENESIS_TIME,
        accounts: Vec::new(),
        params: Default::default(),
        attestation_policy: Some(veil_enclave::simulated_attestation_policy()),
        validators: vec![GenesisValidator {
            name: "fuzz".into(),
            public_key: validator_key().verification_key().to_bytes(),
            power: 1,
        }],
        authority: None,
        network: None,
        dev: false,
    }
}

/// Ocalls get the fuzzer's answers in order, then an error (a host that stopped answering).
struct ScriptedHost(Mutex<VecDeque<Vec<u8>>>);

impl OcallChannel for ScriptedHost {
    fn ocall(&self, request: Vec<u8>) -> Result<Vec<u8>, String> {
        decode::<veil_enclave_abi::Ocall>(&request).expect("the enclave sends valid ocalls");
        self.0
            .lock()
            .unwrap()
            .pop_front()
            .ok_or_else(|| "host gone".to_string())
    }
}

#[derive(Debug, Arbitrary)]
struct Input {
    /// Start with the enclave bootstrapped on the fuzz genesis (most inputs do).
    skip_init: bool,
    calls: Vec<Call>,
    ocall_answers: Vec<OcallAnswer>,
}

#[derive(Debug, Arbitrary)]
enum OcallAnswer {
    Raw(Vec<u8>),
    Node(Option<Vec<u8>>),
    Code(Option<Vec<u8>>),
    Query(Vec<u8>),
    Error(String),
}

impl OcallAnswer {
    fn bytes(self) -> Vec<u8> {
        use veil_enclave_abi::OcallResponse as R;
        match self {
            OcallAnswer::Raw(bytes) => bytes,
            OcallAnswer::Node(n) => encode(&R::Node(n)),
            OcallAnswer::Code(c) => encode(&R::Code(c)),
            OcallAnswer::Query(q) => encode(&R::QueryResult(q)),
            OcallAnswer::Error(e) => encode(&R::Error(e)),
        }
    }
}

#[derive(Debug, Arbitrary)]
enum TxSpec {
    Raw(Vec<u8>),
    Signed {
        key: [u8; 32],
        other_chain: bool,
        sequence: u64,
        gas_limit: u64,
        msg: MsgSpec,
    },
}

impl TxSpec {
    fn bytes(&self) -> Vec<u8> {
        match self {
            TxSpec::Raw(bytes) => bytes.clone(),
            TxSpec::Signed {
                key,
                other_chain,
                sequence,
                gas_limit,
                msg,
            } => {
                let key = SigningKey::from_slice(key)
                    .unwrap_or_else(|_| SigningKey::from_slice(&[1; 32]).unwrap());
                let msg = msg.to_msg();
                TxBody {
                    chain_id: if *other_chain { "other" } else { CHAIN_ID }.into(),
                    sequence: *sequence,
                    gas_limit: *gas_limit,
                    fee: 0,
                    memo: String::new(),
                    msg,
                }
                .sign(&key)
                .to_bytes()
            }
        }
    }
}

#[derive(Debug, Arbitrary)]
enum Call {
    /// Any bytes (the ABI version is put in front unless `versioned` is false).
    Raw {
        versioned: bool,
        bytes: Vec<u8>,
    },
    Init {
        sealed_state: Option<Vec<u8>>,
        min_seal_generation: u64,
        genesis: Option<Vec<u8>>,
    },
    NetworkKey,
    StoreCode {
        wasm: Vec<u8>,
        tx: Option<TxSpec>,
    },
    CheckTx(TxSpec),
    /// A block the genesis validator certified (unless `forge`), after the last one.
    Block {
        time_step: u64,
        txs: Vec<TxSpec>,
        round: u32,
        forge: Option<Vec<u8>>,
    },
    LeaveOut {
        index: u32,
        reason: u8,
    },
    EndBlock,
    Run(Run),
    Attest {
        operator: String,
    },
    RegisterNode(TxSpec),
    InstallSeed(Vec<u8>),
    Govern(TxSpec),
    SetQueryPolicy(TxSpec),
}

#[derive(Debug, Arbitrary)]
struct Run {
    entry: u8,
    address: String,
    code_hash: [u8; 32],
    creator: String,
    height: u64,
    time_nanos: u64,
    tx_index: Option<u32>,
    sender: String,
    funds: Vec<(String, u128)>,
    envelope: Vec<u8>,
    state_root: Option<[u8; 32]>,
    gas_limit: u64,
    tx: Option<TxSpec>,
    simulate: bool,
    encrypted_permit: Option<Vec<u8>>,
}

/// What the harness remembers between calls to build the next certified block.
#[derive(Default)]
struct Chain {
    height: u64,
    prev_hash: [u8; 32],
    time: u64,
}

fn block(
    chain: &mut Chain,
    time_step: u64,
    txs: &[TxSpec],
    round: u32,
    forge: Option<Vec<u8>>,
) -> Ecall {
    let txs: Vec<Vec<u8>> = txs.iter().map(TxSpec::bytes).collect();
    let hashes: Vec<[u8; 32]> = txs.iter().map(|t| veil_types::tx_hash(t)).collect();
    let header = BlockHeader {
        chain_id: CHAIN_ID.into(),
        height: chain.height + 1,
        time_nanos: chain.time.saturating_add(time_step),
        prev_block_hash: chain.prev_hash,
        txs_hash: veil_types::txs_hash(&hashes),
        app_hash: [0; 32],
    };
    let hash = header.hash();
    let certificate = match forge {
        Some(bytes) => bytes,
        None => CommitCertificate {
            height: header.height,
            round,
            block_hash: hash,
            signatures: vec![sign_precommit(
                &validator_key(),
                CHAIN_ID,
                header.height,
                round,
                &hash,
            )],
        }
        .to_bytes(),
    };
    chain.height = header.height;
    chain.prev_hash = hash;
    chain.time = header.time_nanos;
    Ecall::BeginBlock {
        header: header.to_bytes(),
        txs,
        certificate,
    }
}

fn ecall_bytes(call: Call, chain: &mut Chain) -> Vec<u8> {
    let leave_out = [
        LeftOut::OutOfGas,
        LeftOut::UnknownContract,
        LeftOut::UnknownCode,
        LeftOut::ContractExists,
        LeftOut::Unauthorized,
        LeftOut::InvalidInput,
        LeftOut::Registration,
    ];
    let ecall = match call {
        Call::Raw { versioned, bytes } => {
            return if versioned {
                [&ABI_VERSION.to_be_bytes()[..], &bytes].concat()
            } else {
                bytes
            };
        }
        Call::Init {
            sealed_state,
            min_seal_generation,
            genesis: g,
        } => Ecall::Init(InitRequest {
            machine_secret: MACHINE_SECRET.to_vec(),
            sealed_state,
            min_seal_generation,
            genesis: g.unwrap_or_else(|| genesis().to_bytes()),
        }),
        Call::NetworkKey => Ecall::NetworkKey,
        Call::StoreCode { wasm, tx } => Ecall::StoreCode {
            wasm,
            tx: tx.map(|t| t.bytes()),
            chain_id: CHAIN_ID.into(),
        },
        Call::CheckTx(tx) => Ecall::CheckTx { tx: tx.bytes() },
        Call::Block {
            time_step,
            txs,
            round,
            forge,
        } => block(chain, time_step, &txs, round, forge),
        Call::LeaveOut { index, reason } => Ecall::LeaveOut {
            index,
            reason: leave_out[usize::from(reason) % leave_out.len()],
        },
        Call::EndBlock => Ecall::EndBlock,
        Call::Run(run) => Ecall::Run(RunRequest {
            entry: [
                EntryPoint::Instantiate,
                EntryPoint::Execute,
                EntryPoint::Query,
                EntryPoint::Migrate,
            ][usize::from(run.entry % 4)],
            contract: ContractRef {
                address: run.address,
                code_hash: run.code_hash,
                creator: run.creator,
            },
            block: BlockRef {
                height: run.height,
                time_nanos: run.time_nanos,
                chain_id: CHAIN_ID.into(),
                tx_index: run.tx_index,
            },
            sender: run.sender,
            funds: run.funds,
            envelope: run.envelope,
            state_root: run.state_root,
            gas_limit: run.gas_limit,
            tx: run.tx.map(|t| t.bytes()),
            simulate: run.simulate,
            encrypted_permit: run.encrypted_permit,
        }),
        Call::Attest { operator } => Ecall::Attest { operator },
        Call::RegisterNode(tx) => Ecall::RegisterNode { tx: tx.bytes() },
        Call::InstallSeed(seed_share) => Ecall::InstallSeed { seed_share },
        Call::Govern(tx) => Ecall::Govern {
            tx: tx.bytes(),
            chain_id: CHAIN_ID.into(),
        },
        Call::SetQueryPolicy(tx) => Ecall::SetQueryPolicy {
            tx: tx.bytes(),
            chain_id: CHAIN_ID.into(),
        },
    };
    encode(&ecall)
}

fuzz_target!(|input: Input| {
    let answers = input
        .ocall_answers
        .into_iter()
        .map(OcallAnswer::bytes)
        .collect();
    let host = Arc::new(ScriptedHost(Mutex::new(answers)));
    let mut enclave = Enclave::new(host);
    let mut chain = Chain {
        time: GENESIS_TIME,
        ..Chain::default()
    };
    if !input.skip_init {
        let init = Call::Init {
            sealed_state: None,
            min_seal_generation: 0,
            genesis: None,
        };
        let answer = enclave.handle(&ecall_bytes(init, &mut chain));
        assert!(
            matches!(decode::<EcallResponse>(&answer), Ok(EcallResponse::Init(_))),
            "the fuzz genesis bootstraps"
        );
    }
    // Bounded, so one input cannot run for long.
    for call in input.calls.into_iter().take(16) {
        let request = ecall_bytes(call, &mut chain);
        let answer = enclave.handle(&request);
        decode::<EcallResponse>(&answer).expect("every answer is in the codec");
    }
});
