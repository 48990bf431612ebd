//! The chainless confidential host: an enclave with its sealed state, genesis and stored
//! nodes in a home directory, for tests, benchmarks and `veil vm` (the node is the real
//! host of a chain). It signs for its users itself, so it can act out a lying host too.

use super::*;

/// What the host knows of a contract (all public).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractRecord {
    pub code_hash: Hash,
    pub creator: String,
    pub root: Option<Hash>,
}

/// The host's side of confidential execution, without a chain: contract records and
/// nodes in memory, the sealed state in files (checkpointed after every committed call).
pub struct ConfidentialHost {
    config: HostConfig,
    nodes: Arc<MemoryNodes>,
    enclave: EnclaveClient,
    network_key: Hash,
    generation: u32,
    contracts: Mutex<HashMap<String, ContractRecord>>,
    /// Next transaction sequence per sender (see [`ConfidentialHost::sign`]).
    sequences: Mutex<HashMap<String, u64>>,
    /// The last block the enclave executed: every signed transaction runs in a block of
    /// its own, certified by the harness's validator (the only one of its genesis).
    tip: Mutex<Option<Tip>>,
    /// The genesis' chain id and time.
    chain: (String, u64),
}

/// The harness's record of the last block it had executed.
#[derive(Debug, Clone, Copy)]
struct Tip {
    height: u64,
    hash: Hash,
    time_nanos: u64,
}

/// The harness's validator key: public, as the harness is for tests and tools.
pub fn harness_validator_key() -> veil_types::consensus::ValidatorKey {
    let seed: [u8; 32] =
        <sha2::Sha256 as sha2::Digest>::digest(b"veil/harness-validator-v1").into();
    veil_types::consensus::ValidatorKey::from(seed)
}

/// A genesis validator entry for the harness's validator.
pub fn harness_validator() -> veil_types::genesis::GenesisValidator {
    veil_types::genesis::GenesisValidator {
        name: "harness".into(),
        public_key: harness_validator_key().verification_key().to_bytes(),
        power: 1,
    }
}

const MACHINE_SECRET_FILE: &str = "machine-secret";
const SEALED_STATE_FILE: &str = "enclave.sealed";
/// The genesis (postcard) the enclave is bound to.
const GENESIS_FILE: &str = "genesis.bin";
/// Stands in for a chain's record of the latest seal generation.
const SEAL_GENERATION_FILE: &str = "seal-generation";
/// The last block executed: `height hash-hex time-nanos`.
const TIP_FILE: &str = "chain-tip";

impl ConfidentialHost {
    pub fn open(config: HostConfig) -> Result<Self, HostError> {
        Self::open_with_tap(config, None)
    }

    /// Opens a host whose enclave is bound to `genesis` (written to its home unless one is
    /// there already): without a network section the enclave bootstraps the network; with
    /// one it starts without the seed, to join by registration.
    pub fn open_with_genesis(
        config: HostConfig,
        genesis: &veil_types::genesis::Genesis,
    ) -> Result<Self, HostError> {
        std::fs::create_dir_all(&config.home)
            .map_err(io_err(format!("creating {}", config.home.display())))?;
        let path = config.home.join(GENESIS_FILE);
        if !path.exists() {
            let mut genesis = genesis.clone();
            if genesis.validators.is_empty() {
                genesis.validators.push(harness_validator());
            }
            write_atomic(&path, &genesis.to_bytes())?;
        }
        Self::open(config)
    }

    /// The genesis this host's enclave is bound to (completed with its network section).
    pub fn genesis(&self) -> Result<veil_types::genesis::Genesis, HostError> {
        let bytes = std::fs::read(self.path(GENESIS_FILE)).map_err(io_err(format!(
            "reading {}",
            self.path(GENESIS_FILE).display()
        )))?;
        veil_types::genesis::Genesis::from_bytes(&bytes).map_err(HostError::Genesis)
    }

    /// This enclave's registration key and attestation for `operator`.
    pub fn attest(&self, operator: &str) -> Result<veil_enclave_abi::AttestResponse, HostError> {
        self.enclave.attest(operator)
    }

    /// Executes a signed `register_node` transaction as a chain would, in a block at
    /// `block_time_nanos`: answers the seed share and the accepted enclave's summary.
    pub fn register_node(
        &self,
        tx: Vec<u8>,
        block_time_nanos: u64,
    ) -> Result<(Vec<u8>, String), HostError> {
        self.in_block(&tx, block_time_nanos, |_, _| {
            self.enclave.register_node(tx.clone())
        })
    }

    /// Runs `call` inside a block of its own holding `tx` — the next height, at
    /// `time_nanos` or just after the last block — certified by the harness's validator:
    /// `call` is given the block's height and time.
    /// The block is closed (and the sealed state kept) whatever the call answers.
    pub fn in_block<T>(
        &self,
        tx: &[u8],
        time_nanos: u64,
        call: impl FnOnce(u64, u64) -> Result<T, HostError>,
    ) -> Result<T, HostError> {
        self.in_block_of(&[tx.to_vec()], time_nanos, call)
    }

    /// Like [`in_block`](Self::in_block), for a block holding `txs` in this order.
    fn in_block_of<T>(
        &self,
        txs: &[Vec<u8>],
        time_nanos: u64,
        call: impl FnOnce(u64, u64) -> Result<T, HostError>,
    ) -> Result<T, HostError> {
        let mut tip = self.tip.lock().unwrap_or_else(|p| p.into_inner());
        let (chain_id, genesis_time) = &self.chain;
        let header = veil_types::BlockHeader {
            chain_id: chain_id.clone(),
            height: tip.map_or(1, |t| t.height + 1),
            time_nanos: time_nanos.max(tip.map_or(*genesis_time, |t| t.time_nanos + 1)),
            prev_block_hash: tip.map_or([0; 32], |t| t.hash),
            txs_hash: veil_types::txs_hash(
                &txs.iter()
                    .map(|tx| veil_types::tx_hash(tx))
                    .collect::<Vec<_>>(),
            ),
            // The harness keeps no chain state of its own to commit to.
            app_hash: [0; 32],
        };
        let hash = header.hash();
        let certificate = veil_types::consensus::CommitCertificate {
            height: header.height,
            round: 0,
            block_hash: hash,
            signatures: vec![veil_types::consensus::sign_precommit(
                &harness_validator_key(),
                &header.chain_id,
                header.height,
                0,
                &hash,
            )],
        };
        self.enclave.begin_block(&header, txs, &certificate)?;
        let result = call(header.height, header.time_nanos);
        self.keep_checkpoint(self.enclave.end_block()?)?;
        let executed = Tip {
            height: header.height,
            hash,
            time_nanos: header.time_nanos,
        };
        write_atomic(
            &self.path(TIP_FILE),
            format!("{} {} {}", executed.height, hex(&hash), executed.time_nanos).as_bytes(),
        )?;
        *tip = Some(executed);
        result
    }

    /// Executes a signed governance transaction (`set_attestation_policy`, `revoke_node`)
    /// as a chain would, in a block of its own.
    pub fn govern(&self, tx: Vec<u8>, chain_id: &str) -> Result<(), HostError> {
        self.in_block(&tx, 0, |_, _| self.enclave.govern(tx.clone(), chain_id))
    }

    /// Installs the seed share a registration produced for this enclave.
    pub fn install_seed(&mut self, seed_share: Vec<u8>) -> Result<(), HostError> {
        let init = self.enclave.install_seed(seed_share)?;
        self.persist_sealed(&init.sealed_state, init.seal_generation)?;
        self.network_key = init.public_key;
        self.generation = init.generation;
        Ok(())
    }

    /// Like [`open`](Self::open), with a tap that sees every byte crossing or stored.
    pub fn open_with_tap(config: HostConfig, tap: Option<Tap>) -> Result<Self, HostError> {
        std::fs::create_dir_all(&config.home)
            .map_err(io_err(format!("creating {}", config.home.display())))?;
        let nodes = Arc::new(MemoryNodes::default());
        let services = Arc::new(HostServices::new(
            nodes.clone(),
            Box::new(veil_engine::BankQuerier::default()),
            config.log_crossings,
            tap,
        ));
        let enclave = EnclaveClient::open(&config.mode, services)?;
        let mut host = Self {
            config,
            nodes,
            enclave,
            network_key: [0; 32],
            generation: 0,
            contracts: Mutex::new(HashMap::new()),
            sequences: Mutex::new(HashMap::new()),
            tip: Mutex::new(None),
            chain: (String::new(), 0),
        };
        host.init()?;
        Ok(host)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.config.home.join(name)
    }

    fn init(&mut self) -> Result<(), HostError> {
        let machine_secret = load_or_create_machine_secret(&self.path(MACHINE_SECRET_FILE))?;
        let sealed_state = read_optional(&self.path(SEALED_STATE_FILE))?;
        let min_seal_generation = match read_optional(&self.path(SEAL_GENERATION_FILE))? {
            Some(bytes) => String::from_utf8_lossy(&bytes).trim().parse().unwrap_or(0),
            None => 0,
        };
        let genesis_path = self.path(GENESIS_FILE);
        let genesis = match read_optional(&genesis_path)? {
            Some(bytes) => bytes,
            None => veil_types::genesis::Genesis {
                chain_id: self.config.chain_id.clone(),
                genesis_time_nanos: 0,
                accounts: Vec::new(),
                params: Default::default(),
                attestation_policy: None,
                validators: vec![harness_validator()],
                authority: None,
                network: None,
                dev: false,
            }
            .to_bytes(),
        };
        let init = self.enclave.init(InitRequest {
            machine_secret,
            sealed_state,
            min_seal_generation,
            genesis: genesis.clone(),
        })?;
        // A bootstrap completes the genesis with its network section.
        if let Some(network) = &init.network {
            let mut complete =
                veil_types::genesis::Genesis::from_bytes(&genesis).map_err(HostError::Genesis)?;
            complete.network = Some(veil_types::decode_exact(network).map_err(HostError::Genesis)?);
            write_atomic(&genesis_path, &complete.to_bytes())?;
        }
        self.persist_sealed(&init.sealed_state, init.seal_generation)?;
        self.network_key = init.public_key;
        self.generation = init.generation;
        let genesis =
            veil_types::genesis::Genesis::from_bytes(&genesis).map_err(HostError::Genesis)?;
        self.chain = (genesis.chain_id, genesis.genesis_time_nanos);
        *self.tip.lock().unwrap_or_else(|p| p.into_inner()) = read_tip(&self.path(TIP_FILE))?;
        Ok(())
    }

    /// Starts a fresh enclave (same mode) from the sealed state on disk, as after a crash.
    pub fn restart_enclave(&mut self) -> Result<(), HostError> {
        self.enclave.restart()?;
        self.init()
    }

    fn persist_sealed(&self, sealed: &[u8], seal_generation: u64) -> Result<(), HostError> {
        self.enclave.services().tap("sealed_file", sealed);
        write_atomic(&self.path(SEALED_STATE_FILE), sealed)?;
        write_atomic(
            &self.path(SEAL_GENERATION_FILE),
            seal_generation.to_string().as_bytes(),
        )
    }

    /// The height the next block this harness runs will have.
    pub fn next_height(&self) -> u64 {
        self.tip
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map_or(1, |t| t.height + 1)
    }

    /// Closes a block opened through [`enclave`](Self::enclave) and keeps the sealed
    /// state as of its end, as a node commits it.
    pub fn close_block(&self) -> Result<(), HostError> {
        self.keep_checkpoint(self.enclave.end_block()?)
    }

    /// Keeps a block's checkpoint: the records nodes it wrote (served like state nodes)
    /// and its sealed state.
    fn keep_checkpoint(&self, checkpoint: SealedCheckpoint) -> Result<(), HostError> {
        for (id, blob) in checkpoint.records.new_nodes {
            self.services().tap("stored_node", &blob);
            self.nodes.insert(id, blob);
        }
        for id in &checkpoint.records.released_nodes {
            self.nodes.remove(id);
        }
        self.persist_sealed(&checkpoint.sealed_state, checkpoint.seal_generation)
    }

    /// The enclave link itself: for tests that act out a host feeding its enclave blocks
    /// and calls of its own making.
    pub fn enclave(&self) -> &EnclaveClient {
        &self.enclave
    }

    pub fn services(&self) -> &HostServices {
        self.enclave.services()
    }

    /// The encrypted state nodes this host keeps.
    pub fn nodes(&self) -> &MemoryNodes {
        &self.nodes
    }

    /// The network's encryption key and its generation.
    pub fn network_key(&self) -> (Hash, u32) {
        (self.network_key, self.generation)
    }

    pub fn home(&self) -> &Path {
        &self.config.home
    }

    /// Validates and compiles code in the enclave; returns its code hash.
    pub fn store_code(&self, wasm: &[u8]) -> Result<Hash, HostError> {
        let (code_hash, _) = self.enclave.store_code(wasm, None, "")?;
        self.nodes.insert_code(code_hash, wasm.to_vec());
        Ok(code_hash)
    }

    /// The address a contract instantiated from `code_hash` by `creator` with `label` gets.
    pub fn contract_address(&self, code_hash: &Hash, creator: &str, label: &str) -> String {
        veil_types::contract_address(code_hash, creator, label)
    }

    pub fn contract(&self, address: &str) -> Option<ContractRecord> {
        self.contracts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(address)
            .cloned()
    }

    /// Instantiates a contract from an envelope encrypted for `code_hash`, with the
    /// `public` query policy and no admin.
    #[allow(clippy::too_many_arguments)]
    pub fn instantiate(
        &self,
        code_hash: Hash,
        signer: &SigningKey,
        label: &str,
        envelope: Vec<u8>,
        funds: Vec<(String, u128)>,
        block: BlockRef,
        gas_limit: u64,
    ) -> Result<(String, RunResponse), HostError> {
        let policy = QueryPolicy::public();
        self.instantiate_with(
            code_hash, signer, label, envelope, funds, block, gas_limit, None, policy,
        )
    }

    /// Instantiates with an admin and a query policy.
    #[allow(clippy::too_many_arguments)]
    pub fn instantiate_with(
        &self,
        code_hash: Hash,
        signer: &SigningKey,
        label: &str,
        envelope: Vec<u8>,
        funds: Vec<(String, u128)>,
        block: BlockRef,
        gas_limit: u64,
        admin: Option<String>,
        query_policy: QueryPolicy,
    ) -> Result<(String, RunResponse), HostError> {
        if self.nodes.code(&code_hash).is_none() {
            return Err(HostError::UnknownCode(hex(&code_hash)));
        }
        let creator = signer_address(signer);
        let address = self.contract_address(&code_hash, &creator, label);
        let record = ContractRecord {
            code_hash,
            creator: creator.clone(),
            root: None,
        };
        let tx = self.sign(
            signer,
            &block.chain_id,
            Msg::Instantiate {
                code_id: 0,
                label: label.to_string(),
                admin,
                msg: envelope.clone(),
                funds: uveil(&funds),
                query_policy: Some(query_policy),
            },
        );
        let response = self.run(
            EntryPoint::Instantiate,
            &address,
            &record,
            &creator,
            envelope,
            funds,
            block,
            gas_limit,
            Some(tx),
        )?;
        if response.ok {
            let mut record = record;
            record.root = response.state.as_ref().and_then(|s| s.new_root);
            self.contracts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(address.clone(), record);
        }
        Ok((address, response))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn execute(
        &self,
        contract: &str,
        signer: &SigningKey,
        envelope: Vec<u8>,
        funds: Vec<(String, u128)>,
        block: BlockRef,
        gas_limit: u64,
    ) -> Result<RunResponse, HostError> {
        let record = self
            .contract(contract)
            .ok_or_else(|| HostError::UnknownContract(contract.to_string()))?;
        let tx = self.sign(
            signer,
            &block.chain_id,
            Msg::Execute {
                contract: contract.to_string(),
                msg: envelope.clone(),
                funds: uveil(&funds),
            },
        );
        self.run(
            EntryPoint::Execute,
            contract,
            &record,
            &signer_address(signer),
            envelope,
            funds,
            block,
            gas_limit,
            Some(tx),
        )
    }

    /// Signs an execution of `contract` for a later [`execute_block`](Self::execute_block)
    /// (the user's work, apart from running it).
    pub fn sign_execute(
        &self,
        contract: &str,
        signer: &SigningKey,
        envelope: Vec<u8>,
        funds: Vec<(String, u128)>,
        chain_id: &str,
        gas_limit: u64,
    ) -> SignedExecute {
        let tx = self.sign(
            signer,
            chain_id,
            Msg::Execute {
                contract: contract.to_string(),
                msg: envelope.clone(),
                funds: uveil(&funds),
            },
        );
        SignedExecute {
            contract: contract.to_string(),
            sender: signer_address(signer),
            envelope,
            funds,
            gas_limit,
            tx,
        }
    }

    /// The enclave's admission check of a transaction (`Ecall::CheckTx`, as a node's
    /// mempool asks it): a transaction it accepted is not verified again when it runs.
    pub fn check_tx(&self, tx: &[u8]) -> Result<TxCheck, HostError> {
        self.enclave
            .tx_checker()
            .check(tx)
            .unwrap_or_else(|| Err(HostError::Link("the enclave is busy".into())))
    }

    /// Runs `calls` in one certified block, in order, as a node runs a block: one
    /// certificate check and one sealed checkpoint for all of them. Answers each call's
    /// response; the block is closed whatever they answer.
    pub fn execute_block(
        &self,
        calls: Vec<SignedExecute>,
        block: BlockRef,
    ) -> Result<Vec<RunResponse>, HostError> {
        let txs: Vec<Vec<u8>> = calls.iter().map(|c| c.tx.clone()).collect();
        self.in_block_of(&txs, block.time_nanos, |height, time_nanos| {
            let mut responses = Vec::with_capacity(calls.len());
            for (index, call) in calls.into_iter().enumerate() {
                let record = self
                    .contract(&call.contract)
                    .ok_or_else(|| HostError::UnknownContract(call.contract.clone()))?;
                let request = RunRequest {
                    entry: EntryPoint::Execute,
                    contract: ContractRef {
                        address: call.contract.clone(),
                        code_hash: record.code_hash,
                        creator: record.creator.clone(),
                    },
                    block: BlockRef {
                        height,
                        time_nanos,
                        chain_id: block.chain_id.clone(),
                        tx_index: Some(index as u32),
                    },
                    sender: call.sender,
                    funds: call.funds,
                    envelope: call.envelope,
                    state_root: record.root,
                    gas_limit: call.gas_limit,
                    tx: Some(call.tx),
                    simulate: false,
                    encrypted_permit: None,
                };
                responses.push(self.keep_committed(self.enclave.run(request)?, &call.contract));
            }
            Ok(responses)
        })
    }

    /// An anonymous query.
    pub fn query(
        &self,
        contract: &str,
        envelope: Vec<u8>,
        block: BlockRef,
        gas_limit: u64,
    ) -> Result<RunResponse, HostError> {
        self.query_with_permit(contract, envelope, None, block, gas_limit)
    }

    /// A query carrying `encrypted_permit` (a signed permit under the query's key).
    pub fn query_with_permit(
        &self,
        contract: &str,
        envelope: Vec<u8>,
        encrypted_permit: Option<Vec<u8>>,
        block: BlockRef,
        gas_limit: u64,
    ) -> Result<RunResponse, HostError> {
        let record = self
            .contract(contract)
            .ok_or_else(|| HostError::UnknownContract(contract.to_string()))?;
        let request = RunRequest {
            entry: EntryPoint::Query,
            contract: ContractRef {
                address: contract.to_string(),
                code_hash: record.code_hash,
                creator: record.creator.clone(),
            },
            block,
            sender: String::new(),
            funds: Vec::new(),
            envelope,
            state_root: record.root,
            gas_limit,
            tx: None,
            simulate: false,
            encrypted_permit,
        };
        self.enclave.run(request)
    }

    /// Replaces a contract's query policy with its admin's signed transaction.
    pub fn set_query_policy(
        &self,
        contract: &str,
        admin: &SigningKey,
        chain_id: &str,
        query_policy: QueryPolicy,
    ) -> Result<(), HostError> {
        let tx = self.sign(
            admin,
            chain_id,
            Msg::SetQueryPolicy {
                contract: contract.to_string(),
                query_policy,
            },
        );
        self.submit_query_policy(tx, chain_id)
    }

    /// Hands the enclave a signed `set_query_policy` transaction as it is (tests of what
    /// the enclave does with edited or replayed ones), then checkpoints.
    pub fn submit_query_policy(&self, tx: Vec<u8>, chain_id: &str) -> Result<(), HostError> {
        self.in_block(&tx, 0, |_, _| {
            self.enclave.set_query_policy(tx.clone(), chain_id)
        })
    }

    /// Runs with an explicit contract record (public data the host could forge): for tests
    /// of what the enclave does with a lying host.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &self,
        entry: EntryPoint,
        address: &str,
        record: &ContractRecord,
        sender: &str,
        envelope: Vec<u8>,
        funds: Vec<(String, u128)>,
        block: BlockRef,
        gas_limit: u64,
        tx: Option<Vec<u8>>,
    ) -> Result<RunResponse, HostError> {
        let request = RunRequest {
            entry,
            contract: ContractRef {
                address: address.to_string(),
                code_hash: record.code_hash,
                creator: record.creator.clone(),
            },
            block,
            sender: sender.to_string(),
            funds,
            envelope,
            state_root: record.root,
            gas_limit,
            tx,
            simulate: false,
            encrypted_permit: None,
        };
        self.run_request(request)
    }

    /// Hands the enclave a request as it is — `simulate` set or not, whatever `tx` is
    /// signed for (tests of what it refuses) — and keeps the state it commits. A signed
    /// transaction that is not a simulation runs in a certified block of its own.
    pub fn run_request(&self, request: RunRequest) -> Result<RunResponse, HostError> {
        let address = request.contract.address.clone();
        let address = address.as_str();
        let mut request = request;
        let response = match (request.tx.clone(), request.simulate) {
            (Some(tx), false) => {
                self.in_block(&tx, request.block.time_nanos, |height, time_nanos| {
                    request.block.height = height;
                    request.block.time_nanos = time_nanos;
                    request.block.tx_index = Some(0);
                    self.enclave.run(request)
                })?
            }
            _ => self.enclave.run(request)?,
        };
        Ok(self.keep_committed(response, address))
    }

    /// Keeps what a run committed: its new nodes, the contracts it created or migrated and
    /// the new roots of `address` and every other contract it changed.
    fn keep_committed(&self, response: RunResponse, address: &str) -> RunResponse {
        if let Some(state) = &response.state {
            for (id, blob) in &state.new_nodes {
                self.services().tap("stored_node", blob);
                self.nodes.insert(*id, blob.clone());
            }
            for id in &state.released_nodes {
                self.nodes.remove(id);
            }
            let mut contracts = self.contracts.lock().unwrap_or_else(|p| p.into_inner());
            for change in &response.contract_changes {
                match change {
                    veil_enclave_abi::ContractChange::Instantiated {
                        address,
                        code_hash,
                        creator,
                        ..
                    } => {
                        contracts.insert(
                            address.clone(),
                            ContractRecord {
                                code_hash: *code_hash,
                                creator: creator.clone(),
                                root: None,
                            },
                        );
                    }
                    veil_enclave_abi::ContractChange::Migrated {
                        address, code_hash, ..
                    } => {
                        if let Some(record) = contracts.get_mut(address) {
                            record.code_hash = *code_hash;
                        }
                    }
                    // This host keeps no admins: the enclave checks them.
                    veil_enclave_abi::ContractChange::AdminChanged { .. } => {}
                }
            }
            for (other, update) in &response.other_states {
                for (id, blob) in &update.new_nodes {
                    self.services().tap("stored_node", blob);
                    self.nodes.insert(*id, blob.clone());
                }
                for id in &update.released_nodes {
                    self.nodes.remove(id);
                }
                if let Some(record) = contracts.get_mut(other) {
                    record.root = update.new_root;
                }
            }
            drop(contracts);
            // The enclave committed: its root is now the only one it accepts.
            if let Some(record) = self
                .contracts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_mut(address)
            {
                record.root = state.new_root;
            }
        }
        response
    }
}

/// A signed contract execution waiting for its block ([`ConfidentialHost::sign_execute`]).
pub struct SignedExecute {
    contract: String,
    sender: String,
    envelope: Vec<u8>,
    funds: Vec<(String, u128)>,
    gas_limit: u64,
    tx: Vec<u8>,
}

impl SignedExecute {
    /// The signed transaction's bytes.
    pub fn tx(&self) -> &[u8] {
        &self.tx
    }
}

impl ConfidentialHost {
    /// Signs a transaction carrying `msg` with the signer's next sequence (the enclave runs
    /// contract calls only with the transaction their sender signed).
    pub fn sign(&self, signer: &SigningKey, chain_id: &str, msg: Msg) -> Vec<u8> {
        self.sign_for(signer, chain_id, msg, veil_types::SignDomain::Tx)
    }

    /// Like [`sign`](Self::sign), for a signing domain: `SignDomain::Simulate` for a
    /// transaction that may only be simulated.
    pub fn sign_for(
        &self,
        signer: &SigningKey,
        chain_id: &str,
        msg: Msg,
        domain: veil_types::SignDomain,
    ) -> Vec<u8> {
        let sender = signer_address(signer);
        let mut sequences = self.sequences.lock().unwrap_or_else(|p| p.into_inner());
        // Without a chain to keep account sequences, use the clock: strictly increasing
        // across calls and across restarts of this host, which is all the enclave asks.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let sequence = sequences.entry(sender).or_insert(0);
        *sequence = (*sequence).max(now);
        let tx = TxBody {
            chain_id: chain_id.to_string(),
            sequence: *sequence,
            gas_limit: 0,
            fee: 0,
            memo: String::new(),
            msg,
        }
        .sign_for(signer, domain);
        *sequence += 1;
        tx.to_bytes()
    }
}

fn read_tip(path: &Path) -> Result<Option<Tip>, HostError> {
    let Some(bytes) = read_optional(path)? else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(&bytes);
    let parsed = (|| {
        let mut parts = text.split_whitespace();
        let height = parts.next()?.parse().ok()?;
        let hash = ::hex::decode(parts.next()?).ok()?.try_into().ok()?;
        let time_nanos = parts.next()?.parse().ok()?;
        Some(Tip {
            height,
            hash,
            time_nanos,
        })
    })();
    parsed
        .map(Some)
        .ok_or_else(|| HostError::Genesis(format!("{} is damaged", path.display())))
}

/// The account address of a signing key.
pub fn signer_address(signer: &SigningKey) -> String {
    veil_types::account_address(&signer.verifying_key().to_sec1_bytes())
}

/// The uveil amount among `funds` (other denoms cannot be signed for).
fn uveil(funds: &[(String, u128)]) -> u128 {
    funds
        .iter()
        .filter(|(denom, _)| denom == veil_types::DENOM)
        .map(|(_, amount)| amount)
        .sum()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
