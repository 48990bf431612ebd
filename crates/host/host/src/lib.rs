//! The untrusted side of Veil's enclave boundary.
//!
//! [`ConfidentialHost`] links to the enclave — in this process or as the `veil-enclave`
//! executable, chosen by configuration; both speak the same byte codec — answers its
//! ocalls, stores the encrypted state nodes it produces, and keeps its sealed state on
//! disk. Everything that passes through here is ciphertext or public. Every crossing is
//! logged with its name, sizes, gas and error kind, never its contents.

use std::collections::{HashMap, VecDeque};
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex, TryLockError, Weak};

pub use veil_enclave::{simulated_attestation_policy, simulated_measurements};
use veil_enclave::{Enclave, OcallChannel, TxChecker};
pub use veil_enclave_abi::TxCheck;
use veil_enclave_abi::{
    decode, encode, read_frame, write_frame, BlockRef, ContractRef, Ecall, EcallResponse,
    EnclaveError, EntryPoint, FrameKind, Hash, InitRequest, InitResponse, LeftOut, Ocall,
    OcallResponse, RunRequest, RunResponse, SealedCheckpoint,
};
use veil_engine::Querier;
use veil_types::k256::ecdsa::SigningKey;
use veil_types::{Msg, QueryPolicy, TxBody};

mod confidential;
pub use confidential::{signer_address, ConfidentialHost, ContractRecord, SignedExecute};

/// Where the enclave runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EnclaveMode {
    /// A library in this process (simulation).
    InProcess,
    /// The `veil-enclave` executable at this path (what a TEE build runs).
    Process(PathBuf),
}

#[derive(Debug, Clone)]
pub struct HostConfig {
    /// Holds the simulated machine secret, the genesis and the sealed enclave state.
    pub home: PathBuf,
    /// The chain this chainless host's enclave is bound to (its genesis is written at the
    /// first start: no accounts, no attestation policy).
    pub chain_id: String,
    pub mode: EnclaveMode,
    /// Also print each crossing to stderr.
    pub log_crossings: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error(transparent)]
    Enclave(#[from] EnclaveError),
    #[error("genesis: {0}")]
    Genesis(String),
    #[error("enclave link: {0}")]
    Link(String),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("unknown contract {0}")]
    UnknownContract(String),
    #[error("unknown code {0}")]
    UnknownCode(String),
    #[error("the enclave answered {0} with an unexpected response")]
    Protocol(&'static str),
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> HostError {
    let context = context.into();
    move |source| HostError::Io { context, source }
}

/// One crossing of the boundary, as the host logs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crossing {
    /// `ecall` or `ocall`.
    pub direction: &'static str,
    pub name: &'static str,
    pub request_bytes: usize,
    pub response_bytes: usize,
    pub gas_used: Option<u64>,
    pub error_kind: Option<String>,
}

impl std::fmt::Display for Crossing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} request={}B response={}B",
            self.direction, self.name, self.request_bytes, self.response_bytes
        )?;
        if let Some(gas) = self.gas_used {
            write!(f, " gas={gas}")?;
        }
        if let Some(kind) = &self.error_kind {
            write!(f, " error={kind}")?;
        }
        Ok(())
    }
}

/// Sees every byte that crosses the boundary or reaches the disk (for tests and audits).
pub type Tap = Arc<dyn Fn(&str, &[u8]) + Send + Sync>;

const CROSSING_LOG_LEN: usize = 4096;

/// What the host keeps for the enclave: encrypted state nodes (by id, the blob's SHA-256)
/// and contract code (by its SHA-256), served on request.
pub trait NodeStore: Send + Sync {
    fn node(&self, id: &Hash) -> Option<Vec<u8>>;
    fn code(&self, code_hash: &Hash) -> Option<Vec<u8>>;
}

/// Nodes and code in memory: for [`ConfidentialHost`] and tests.
#[derive(Default)]
pub struct MemoryNodes {
    nodes: Mutex<HashMap<Hash, Vec<u8>>>,
    codes: Mutex<HashMap<Hash, Vec<u8>>>,
}

impl MemoryNodes {
    pub fn insert(&self, id: Hash, blob: Vec<u8>) {
        self.nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, blob);
    }

    /// Deletes a node the enclave released.
    pub fn remove(&self, id: &Hash) {
        self.nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }

    /// Replaces or removes a stored node blob: how tests play a malicious host.
    pub fn overwrite_node(&self, id: Hash, blob: Option<Vec<u8>>) {
        let mut store = self.nodes.lock().unwrap_or_else(|p| p.into_inner());
        match blob {
            Some(blob) => store.insert(id, blob),
            None => store.remove(&id),
        };
    }

    pub fn insert_code(&self, code_hash: Hash, wasm: Vec<u8>) {
        self.codes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(code_hash, wasm);
    }

    /// Replaces or removes the code stored under a hash: how tests play a malicious host.
    pub fn overwrite_code(&self, code_hash: Hash, wasm: Option<Vec<u8>>) {
        let mut codes = self.codes.lock().unwrap_or_else(|p| p.into_inner());
        match wasm {
            Some(wasm) => codes.insert(code_hash, wasm),
            None => codes.remove(&code_hash),
        };
    }
}

impl NodeStore for MemoryNodes {
    fn node(&self, id: &Hash) -> Option<Vec<u8>> {
        self.nodes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    fn code(&self, code_hash: &Hash) -> Option<Vec<u8>> {
        self.codes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(code_hash)
            .cloned()
    }
}

/// The services the host offers the enclave: state nodes, chain queries, the crossing log.
pub struct HostServices {
    nodes: Arc<dyn NodeStore>,
    querier: Box<dyn Querier + Send + Sync>,
    log: Mutex<VecDeque<Crossing>>,
    print: bool,
    tap: Option<Tap>,
}

impl HostServices {
    pub fn new(
        nodes: Arc<dyn NodeStore>,
        querier: Box<dyn Querier + Send + Sync>,
        print: bool,
        tap: Option<Tap>,
    ) -> Self {
        Self {
            nodes,
            querier,
            log: Mutex::new(VecDeque::new()),
            print,
            tap,
        }
    }

    /// Shows bytes that are about to be stored or cross to the tap (if any).
    pub fn tap(&self, what: &str, bytes: &[u8]) {
        if let Some(tap) = &self.tap {
            tap(what, bytes);
        }
    }

    fn record(&self, crossing: Crossing) {
        if self.print {
            eprintln!("veil-host: {crossing}");
        }
        if self.tap.is_some() {
            self.tap("log", crossing.to_string().as_bytes());
        }
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if log.len() == CROSSING_LOG_LEN {
            log.pop_front();
        }
        log.push_back(crossing);
    }

    /// Answers one encoded ocall.
    pub fn handle_ocall(&self, request: &[u8]) -> Vec<u8> {
        self.tap("ocall", request);
        let (name, response) = match decode::<Ocall>(request) {
            Ok(call) => {
                let name = call.name();
                let response = match call {
                    Ocall::FetchNode { id, .. } => OcallResponse::Node(self.nodes.node(&id)),
                    Ocall::LoadCode { code_hash } => {
                        OcallResponse::Code(self.nodes.code(&code_hash))
                    }
                    Ocall::QueryChain { request } => {
                        let (answer, _gas) = self.querier.query_raw(&request, u64::MAX);
                        OcallResponse::QueryResult(
                            serde_json::to_vec(&answer).expect("serializable"),
                        )
                    }
                };
                (name, response)
            }
            Err(e) => ("malformed", OcallResponse::Error(e.to_string())),
        };
        let bytes = encode(&response);
        self.tap("ocall_response", &bytes);
        self.record(Crossing {
            direction: "ocall",
            name,
            request_bytes: request.len(),
            response_bytes: bytes.len(),
            gas_used: None,
            error_kind: None,
        });
        bytes
    }

    pub fn crossings(&self) -> Vec<Crossing> {
        self.log
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .cloned()
            .collect()
    }
}

struct ServicesChannel(Arc<HostServices>);

impl OcallChannel for ServicesChannel {
    fn ocall(&self, request: Vec<u8>) -> Result<Vec<u8>, String> {
        Ok(self.0.handle_ocall(&request))
    }
}

struct ProcessLink {
    child: Child,
    input: BufWriter<ChildStdin>,
    output: BufReader<ChildStdout>,
}

impl Drop for ProcessLink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// One per host: the in-process enclave's size does not matter.
#[allow(clippy::large_enum_variant)]
enum Link {
    InProcess {
        enclave: Mutex<Enclave>,
        /// Answers `CheckTx` without waiting for `enclave` (as a TEE's second thread would).
        checker: TxChecker,
    },
    Process(Mutex<ProcessLink>),
}

impl Link {
    fn open(mode: &EnclaveMode, services: &Arc<HostServices>) -> Result<Self, HostError> {
        Ok(match mode {
            EnclaveMode::InProcess => {
                let enclave = Enclave::new(Arc::new(ServicesChannel(services.clone())));
                Link::InProcess {
                    checker: enclave.tx_checker(),
                    enclave: Mutex::new(enclave),
                }
            }
            EnclaveMode::Process(path) => {
                let mut child = Command::new(path)
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit())
                    .spawn()
                    .map_err(io_err(format!(
                        "starting enclave executable {}",
                        path.display()
                    )))?;
                let input = BufWriter::new(child.stdin.take().expect("piped"));
                let output = BufReader::new(child.stdout.take().expect("piped"));
                Link::Process(Mutex::new(ProcessLink {
                    child,
                    input,
                    output,
                }))
            }
        })
    }

    fn ecall(&self, request: &[u8], services: &HostServices) -> Result<Vec<u8>, HostError> {
        match self {
            Link::InProcess { enclave, .. } => Ok(enclave
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .handle(request)),
            Link::Process(link) => {
                let mut link = link.lock().unwrap_or_else(|p| p.into_inner());
                link.ecall(request, services)
            }
        }
    }

    /// A `CheckTx` ecall if the enclave can take it now: always in process; over the
    /// enclave process's one pipe only when no other ecall holds it (`None` then).
    fn check_tx(
        &self,
        request: &[u8],
        services: &HostServices,
    ) -> Option<Result<Vec<u8>, HostError>> {
        match self {
            Link::InProcess { checker, .. } => Some(Ok(checker.handle(request))),
            Link::Process(link) => match link.try_lock() {
                Ok(mut link) => Some(link.ecall(request, services)),
                Err(TryLockError::Poisoned(p)) => Some(p.into_inner().ecall(request, services)),
                Err(TryLockError::WouldBlock) => None,
            },
        }
    }
}

impl ProcessLink {
    /// One ecall over the pipes, answering the enclave's ocalls until its response.
    fn ecall(&mut self, request: &[u8], services: &HostServices) -> Result<Vec<u8>, HostError> {
        let lost = |e: veil_enclave_abi::AbiError| HostError::Link(format!("enclave process: {e}"));
        write_frame(&mut self.input, FrameKind::Ecall, request).map_err(lost)?;
        loop {
            match read_frame(&mut self.output).map_err(lost)? {
                Some((FrameKind::Ocall, payload)) => {
                    let answer = services.handle_ocall(&payload);
                    write_frame(&mut self.input, FrameKind::OcallResponse, &answer)
                        .map_err(lost)?;
                }
                Some((FrameKind::EcallResponse, payload)) => return Ok(payload),
                Some((kind, _)) => {
                    return Err(HostError::Link(format!(
                        "unexpected {kind:?} frame from enclave"
                    )))
                }
                None => return Err(HostError::Link("enclave process exited".into())),
            }
        }
    }
}

/// A typed connection to the enclave: every ecall is encoded, crossed, decoded and logged.
pub struct EnclaveClient {
    mode: EnclaveMode,
    services: Arc<HostServices>,
    link: Arc<Link>,
}

/// Sends `CheckTx` to the enclave from any thread, beside the ecalls of the
/// [`EnclaveClient`] it came from ([`EnclaveClient::tx_checker`]).
#[derive(Clone)]
pub struct TxCheckLink {
    /// Gone once the enclave is restarted (checks then answer `None`).
    link: Weak<Link>,
    services: Arc<HostServices>,
}

impl TxCheckLink {
    /// The enclave's check of a transaction's signature (it then need not verify it again
    /// when the transaction runs), or `None` when the enclave cannot take the call now
    /// (the process enclave is busy with a block) and the caller checks it itself.
    pub fn check(&self, tx: &[u8]) -> Option<Result<TxCheck, HostError>> {
        let link = self.link.upgrade()?;
        let call = Ecall::CheckTx { tx: tx.to_vec() };
        let request = encode(&call);
        let mut busy = false;
        let response = crossed(&self.services, &call, &request, || {
            link.check_tx(&request, &self.services).unwrap_or_else(|| {
                busy = true;
                Err(HostError::Link("busy".into()))
            })
        });
        if busy {
            return None;
        }
        Some(response.and_then(|r| match r {
            EcallResponse::TxChecked(check) => Ok(check),
            _ => Err(HostError::Protocol("check_tx")),
        }))
    }
}

/// Decodes and logs the answer to an ecall that crossed.
fn crossed(
    services: &HostServices,
    call: &Ecall,
    request: &[u8],
    cross: impl FnOnce() -> Result<Vec<u8>, HostError>,
) -> Result<EcallResponse, HostError> {
    services.tap("ecall", request);
    let response_bytes = cross()?;
    services.tap("ecall_response", &response_bytes);
    let response: EcallResponse =
        decode(&response_bytes).map_err(|e| HostError::Link(format!("enclave response: {e}")))?;
    let (gas_used, error_kind) = match &response {
        EcallResponse::Ran(r) => (Some(r.gas_used), r.error_kind.clone()),
        EcallResponse::Error(e) => (None, Some(format!("{:?}", e.kind))),
        _ => (None, None),
    };
    services.record(Crossing {
        direction: "ecall",
        name: call.name(),
        request_bytes: request.len(),
        response_bytes: response_bytes.len(),
        gas_used,
        error_kind,
    });
    match response {
        EcallResponse::Error(e) => Err(e.into()),
        other => Ok(other),
    }
}

impl EnclaveClient {
    pub fn open(mode: &EnclaveMode, services: Arc<HostServices>) -> Result<Self, HostError> {
        let link = Arc::new(Link::open(mode, &services)?);
        Ok(Self {
            mode: mode.clone(),
            services,
            link,
        })
    }

    /// Replaces the enclave by a fresh one (it must be initialized again).
    pub fn restart(&mut self) -> Result<(), HostError> {
        self.link = Arc::new(Link::open(&self.mode, &self.services)?);
        Ok(())
    }

    pub fn services(&self) -> &Arc<HostServices> {
        &self.services
    }

    /// A handle for `CheckTx` from other threads (a node's mempool admission).
    pub fn tx_checker(&self) -> TxCheckLink {
        TxCheckLink {
            link: Arc::downgrade(&self.link),
            services: self.services.clone(),
        }
    }

    pub fn ecall(&self, call: &Ecall) -> Result<EcallResponse, HostError> {
        let request = encode(call);
        crossed(&self.services, call, &request, || {
            self.link.ecall(&request, &self.services)
        })
    }

    pub fn init(&self, request: InitRequest) -> Result<InitResponse, HostError> {
        match self.ecall(&Ecall::Init(request))? {
            EcallResponse::Init(init) => Ok(init),
            _ => Err(HostError::Protocol("init")),
        }
    }

    /// Validates and compiles code in the enclave; returns its code hash. With the signed
    /// `store_code` transaction the enclave also records the code and returns its code id.
    pub fn store_code(
        &self,
        wasm: &[u8],
        tx: Option<Vec<u8>>,
        chain_id: &str,
    ) -> Result<(Hash, Option<u64>), HostError> {
        match self.ecall(&Ecall::StoreCode {
            wasm: wasm.to_vec(),
            tx,
            chain_id: chain_id.to_string(),
        })? {
            EcallResponse::CodeStored { code_hash, code_id } => Ok((code_hash, code_id)),
            _ => Err(HostError::Protocol("store_code")),
        }
    }

    /// This enclave's registration key and attestation for `operator`.
    pub fn attest(&self, operator: &str) -> Result<veil_enclave_abi::AttestResponse, HostError> {
        match self.ecall(&Ecall::Attest {
            operator: operator.to_string(),
        })? {
            EcallResponse::Attested(response) => Ok(response),
            _ => Err(HostError::Protocol("attest")),
        }
    }

    /// Executes a signed `register_node` transaction in the enclave: the seed share for
    /// the new enclave and a public summary of its attestation.
    /// Executes a `register_node` transaction of the open block.
    pub fn register_node(&self, tx: Vec<u8>) -> Result<(Vec<u8>, String), HostError> {
        match self.ecall(&Ecall::RegisterNode { tx })? {
            EcallResponse::NodeRegistered {
                seed_share,
                enclave,
            } => Ok((seed_share, enclave)),
            _ => Err(HostError::Protocol("register_node")),
        }
    }

    /// Hands the enclave the seed share a registration produced for it.
    pub fn install_seed(&self, seed_share: Vec<u8>) -> Result<InitResponse, HostError> {
        match self.ecall(&Ecall::InstallSeed { seed_share })? {
            EcallResponse::SeedInstalled(response) => Ok(response),
            _ => Err(HostError::Protocol("install_seed")),
        }
    }

    /// Replaces a contract's query policy (the enclave checks the admin signed `tx`).
    pub fn set_query_policy(&self, tx: Vec<u8>, chain_id: &str) -> Result<(), HostError> {
        match self.ecall(&Ecall::SetQueryPolicy {
            tx,
            chain_id: chain_id.to_string(),
        })? {
            EcallResponse::QueryPolicySet => Ok(()),
            _ => Err(HostError::Protocol("set_query_policy")),
        }
    }

    /// Executes a signed governance transaction (`set_attestation_policy`, `revoke_node`);
    /// the enclave checks it is the genesis authority's.
    pub fn govern(&self, tx: Vec<u8>, chain_id: &str) -> Result<(), HostError> {
        match self.ecall(&Ecall::Govern {
            tx,
            chain_id: chain_id.to_string(),
        })? {
            EcallResponse::Governed => Ok(()),
            _ => Err(HostError::Protocol("govern")),
        }
    }

    /// Runs a call. Code the enclave has not compiled (after a restart) it loads itself
    /// from the host's [`NodeStore`].
    pub fn run(&self, request: RunRequest) -> Result<RunResponse, HostError> {
        match self.ecall(&Ecall::Run(request))? {
            EcallResponse::Ran(response) => Ok(response),
            _ => Err(HostError::Protocol("run")),
        }
    }

    /// The enclave's sealed state now, to be stored with the state it belongs to.
    /// Opens a certified block in the enclave (which verifies the certificate itself).
    pub fn begin_block(
        &self,
        header: &veil_types::BlockHeader,
        txs: &[Vec<u8>],
        certificate: &veil_types::consensus::CommitCertificate,
    ) -> Result<(), HostError> {
        let call = Ecall::BeginBlock {
            header: header.to_bytes(),
            txs: txs.to_vec(),
            certificate: certificate.to_bytes(),
        };
        match self.ecall(&call)? {
            EcallResponse::BlockBegun => Ok(()),
            _ => Err(HostError::Protocol("begin_block")),
        }
    }

    /// Tells the enclave that transaction `index` of the open block failed before it
    /// needed the enclave, for `reason` (the enclave checks that it did).
    pub fn leave_out(&self, index: u32, reason: LeftOut) -> Result<(), HostError> {
        match self.ecall(&Ecall::LeaveOut { index, reason })? {
            EcallResponse::LeftOut => Ok(()),
            _ => Err(HostError::Protocol("leave_out")),
        }
    }

    /// Dev chains only: turns inspection on for `owner_key` (the enclave refuses it under
    /// any other genesis). Needed again after every start of the enclave.
    pub fn enable_inspect(&self, owner_key: Hash) -> Result<(), HostError> {
        match self.ecall(&Ecall::EnableInspect { owner_key })? {
            EcallResponse::InspectEnabled => Ok(()),
            _ => Err(HostError::Protocol("enable_inspect")),
        }
    }

    /// Dev chains with inspection on: `contract`'s state under `prefix`, sealed to the
    /// owner key.
    pub fn inspect_state(
        &self,
        contract: &str,
        prefix: Vec<u8>,
        start_after: Option<Vec<u8>>,
        limit: u32,
    ) -> Result<Vec<u8>, HostError> {
        match self.ecall(&Ecall::InspectState {
            contract: contract.to_string(),
            prefix,
            start_after,
            limit,
        })? {
            EcallResponse::InspectedState { sealed } => Ok(sealed),
            _ => Err(HostError::Protocol("inspect_state")),
        }
    }

    /// Closes the open block: the enclave's sealed state as of its end.
    pub fn end_block(&self) -> Result<SealedCheckpoint, HostError> {
        match self.ecall(&Ecall::EndBlock)? {
            EcallResponse::BlockEnded(checkpoint) => Ok(checkpoint),
            _ => Err(HostError::Protocol("end_block")),
        }
    }
}

pub(crate) fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, HostError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(HostError::Io {
            context: format!("reading {}", path.display()),
            source: e,
        }),
    }
}

pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), HostError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(io_err(format!("writing {}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(io_err(format!("replacing {}", path.display())))
}

/// The simulated machine secret: created once per home, readable only by its owner.
pub fn load_or_create_machine_secret(path: &Path) -> Result<Vec<u8>, HostError> {
    if let Some(secret) = read_optional(path)? {
        return Ok(secret);
    }
    let secret = veil_crypto::SimulatedSealer::generate_machine_secret(&mut rand_core::OsRng);
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        #[cfg(unix)]
        use std::os::unix::fs::OpenOptionsExt;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        options.mode(0o600);
        let mut file = options
            .open(&tmp)
            .map_err(io_err(format!("creating {}", tmp.display())))?;
        file.write_all(&secret[..])
            .and_then(|_| file.sync_all())
            .map_err(io_err(format!("writing {}", tmp.display())))?;
    }
    std::fs::rename(&tmp, path).map_err(io_err(format!("replacing {}", path.display())))?;
    Ok(secret.to_vec())
}
