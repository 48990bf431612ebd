//! Keys, identity and sealing: the master seed, the genesis this enclave is bound to, its
//! registration key and attestation, sharing the seed with registered enclaves, and the
//! state it keeps across restarts.

use super::*;
use crate::blocks::{ChainCursor, ExecutedBlock};
use veil_attestation::{
    bootstrap_report_data, report_data, Attestation, Policy, SimulatedQuote, VerifiedEnclave,
};
use veil_crypto::x25519_dalek::{PublicKey, StaticSecret};
use veil_enclave_abi::AttestResponse;
use veil_types::genesis::{Genesis, NetworkGenesis};

/// What a simulated enclave reports as its measurements (there is no hardware to measure
/// it): fixed values derived from labels, so a dev genesis can name them in its policy.
pub fn simulated_measurements() -> ([u8; 32], [u8; 32]) {
    use sha2::Digest;
    (
        sha2::Sha256::digest(b"veil/simulated-mrenclave-v1").into(),
        sha2::Sha256::digest(b"veil/simulated-mrsigner-v1").into(),
    )
}
pub const SIMULATED_ISV_PROD_ID: u16 = 0;
pub const SIMULATED_ISV_SVN: u16 = 1;

/// The attestation policy of a development chain: simulated enclaves of this build. **A
/// chain with this policy gives its seed to anyone who asks** (anyone can forge a
/// simulated attestation).
pub fn simulated_attestation_policy() -> Policy {
    let (mrenclave, _) = simulated_measurements();
    Policy {
        mrenclaves: vec![veil_attestation::MrEnclaveRule {
            mrenclave,
            isv_prod_id: SIMULATED_ISV_PROD_ID,
            min_isv_svn: SIMULATED_ISV_SVN,
        }],
        mrsigners: Vec::new(),
        tcb_statuses: Vec::new(),
        allow_simulated: true,
    }
}

/// This enclave's attestation over `report_data`. In simulation it signs a labelled
/// simulated quote; a TEE build obtains a DCAP quote for the same report data from the
/// platform (Gramine's `/dev/attestation`).
fn attest(report_data: [u8; 64]) -> Attestation {
    let (mrenclave, mrsigner) = simulated_measurements();
    Attestation::Simulated(SimulatedQuote::sign(
        mrenclave,
        mrsigner,
        SIMULATED_ISV_PROD_ID,
        SIMULATED_ISV_SVN,
        report_data,
    ))
}

/// What the enclave keeps across restarts, sealed.
#[derive(Serialize, Deserialize)]
pub(crate) struct SealedState {
    /// None until a joining enclave is given the seed.
    seed: Option<[u8; 32]>,
    generation: u32,
    seal_generation: u64,
    /// The genesis this enclave is bound to.
    genesis_hash: Hash,
    registration_secret: [u8; 32],
    /// The key of the records tree (contracts, sender sequences, codes; `records.rs`),
    /// which the host stores, and where it stood at this checkpoint.
    records_key: [u8; 32],
    records: RecordsRoot,
    /// The last certified block executed (none before the first).
    last_block: Option<ExecutedBlock>,
    /// The attestation policy in force and the registered enclaves (revoked or not).
    governance: Governance,
}

impl Drop for SealedState {
    fn drop(&mut self) {
        if let Some(seed) = &mut self.seed {
            zeroize::Zeroize::zeroize(seed);
        }
        zeroize::Zeroize::zeroize(&mut self.registration_secret);
        zeroize::Zeroize::zeroize(&mut self.records_key);
    }
}

/// The master seed's keys (absent until the enclave holds the seed).
pub(crate) struct Keys {
    /// Shared with the calls' contract queriers, which derive other contracts' keys.
    pub(crate) seed: Arc<MasterSeed>,
    pub(crate) generation: u32,
    pub(crate) io: IoKeypair,
}

/// Who this enclave is: the genesis it is bound to, its registration key, its sealer.
pub(crate) struct Identity {
    pub(crate) genesis: Genesis,
    /// The genesis validators' operator addresses (what staking queries answer).
    pub(crate) validator_operators: Arc<Vec<String>>,
    pub(crate) genesis_hash: Hash,
    registration: StaticSecret,
    /// The records tree's key (see `SealedState::records_key`).
    records_key: [u8; 32],
    sealer: SimulatedSealer,
    pub(crate) seal_generation: u64,
}

impl Drop for Identity {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.records_key);
    }
}

impl Identity {
    fn registration_key(&self) -> Hash {
        PublicKey::from(&self.registration).to_bytes()
    }

    fn network(&self) -> EnclaveResult<&NetworkGenesis> {
        self.genesis
            .network
            .as_ref()
            .ok_or_else(|| fail(ErrorKind::Genesis, "the genesis has no network section"))
    }
}

fn genesis_error(message: impl Into<String>) -> EnclaveError {
    fail(ErrorKind::Genesis, message)
}

fn attestation_error(e: veil_attestation::AttestationError) -> EnclaveError {
    fail(ErrorKind::Attestation, e.to_string())
}

/// Verifies an attestation against a policy (the genesis', or the one in force) at a
/// block time (ns).
fn verify_attestation(
    policy: Option<&Policy>,
    attestation: &Attestation,
    time_nanos: u64,
    expected: &[u8; 64],
) -> EnclaveResult<VerifiedEnclave> {
    let policy = policy.ok_or_else(|| {
        fail(
            ErrorKind::Attestation,
            "this network's genesis has no attestation policy: no enclave may register",
        )
    })?;
    veil_attestation::verify(attestation, policy, time_nanos / 1_000_000_000, expected)
        .map_err(attestation_error)
}

impl Enclave {
    pub(crate) fn keys(&self) -> EnclaveResult<&Keys> {
        match (&self.identity, &self.keys) {
            (None, _) => Err(fail(ErrorKind::NotInitialized, "enclave is not initialized")),
            (Some(_), None) => Err(genesis_error(
                "this enclave has no master seed yet: register it and install its seed share (`veil node join`)",
            )),
            (Some(_), Some(keys)) => Ok(keys),
        }
    }

    pub(crate) fn identity(&self) -> EnclaveResult<&Identity> {
        self.identity
            .as_ref()
            .ok_or_else(|| fail(ErrorKind::NotInitialized, "enclave is not initialized"))
    }

    pub(crate) fn init(&mut self, request: InitRequest) -> EnclaveResult<InitResponse> {
        let sealer = SimulatedSealer::new(&request.machine_secret)
            .map_err(|e| fail(ErrorKind::Sealing, e.to_string()))?;
        let mut genesis = Genesis::from_bytes(&request.genesis)
            .map_err(|e| genesis_error(format!("genesis does not decode: {e}")))?;
        genesis.validate().map_err(genesis_error)?;
        let mut bootstrapped = None;
        let state = match &request.sealed_state {
            Some(blob) => {
                let state = unseal(&sealer, blob)?;
                if state.seal_generation < request.min_seal_generation {
                    return Err(fail(
                        ErrorKind::StaleSealedState,
                        format!(
                            "sealed state is from generation {}, but generation {} has been recorded: refusing an old sealed file",
                            state.seal_generation, request.min_seal_generation
                        ),
                    ));
                }
                if state.genesis_hash != genesis.hash() {
                    return Err(genesis_error(format!(
                        "this enclave is bound to genesis {}, not {}: it never runs under another genesis",
                        hex::encode(state.genesis_hash),
                        hex::encode(genesis.hash())
                    )));
                }
                state
            }
            None => {
                let mut registration_secret = [0u8; 32];
                rand_core::RngCore::fill_bytes(&mut OsRng, &mut registration_secret);
                let mut records_key = [0u8; 32];
                rand_core::RngCore::fill_bytes(&mut OsRng, &mut records_key);
                let seed = match &genesis.network {
                    // No network yet: this enclave generates the master seed.
                    None => {
                        let seed = MasterSeed::generate(&mut OsRng);
                        let network = bootstrap_network(&seed, &genesis);
                        bootstrapped = Some(postcard::to_stdvec(&network).expect("encodes"));
                        genesis.network = Some(network);
                        Some(*seed.expose_bytes())
                    }
                    // Joining: the seed must have been born in an accepted enclave.
                    Some(network) => {
                        if genesis.attestation_policy.is_some() {
                            let expected = bootstrap_report_data(
                                &network.network_key,
                                &network.seed_exchange_key,
                                &genesis.core_hash(),
                            );
                            // The seed was born under the genesis policy, whatever the
                            // policy in force is now.
                            verify_attestation(
                                genesis.attestation_policy.as_ref(),
                                &network.bootstrap_attestation,
                                genesis.genesis_time_nanos,
                                &expected,
                            )
                            .map_err(|e| {
                                genesis_error(format!(
                                    "the genesis' bootstrap attestation is refused: {}",
                                    e.message
                                ))
                            })?;
                        }
                        None
                    }
                };
                SealedState {
                    seed,
                    generation: FIRST_GENERATION,
                    seal_generation: request.min_seal_generation,
                    genesis_hash: genesis.hash(),
                    registration_secret,
                    records_key,
                    records: RecordsRoot::default(),
                    last_block: None,
                    governance: Governance::from_genesis(&genesis),
                }
            }
        };
        self.keys = match state.seed {
            Some(seed) => Some(self::keys_for(&genesis, seed, state.generation)?),
            None => None,
        };
        self.records = Arc::new(Records::open(
            self.channel.clone(),
            state.records_key,
            state.genesis_hash,
            state.records,
        ));
        self.governance = state.governance.clone();
        self.senders = SharedSecretCache::new(SENDER_CACHE_CAPACITY);
        self.chain = ChainCursor {
            validators: if genesis.validators.is_empty() {
                None
            } else {
                Some(genesis.validator_set().map_err(genesis_error)?)
            },
            last: state.last_block,
            open: None,
        };
        self.identity = Some(Identity {
            validator_operators: Arc::new(
                genesis
                    .validators
                    .iter()
                    .map(|v| veil_types::validator_operator_address(&v.public_key))
                    .collect(),
            ),
            genesis_hash: state.genesis_hash,
            genesis,
            registration: StaticSecret::from(state.registration_secret),
            records_key: state.records_key,
            sealer,
            seal_generation: state.seal_generation,
        });
        let mut response = self.init_response()?;
        response.network = bootstrapped;
        Ok(response)
    }

    fn init_response(&self) -> EnclaveResult<InitResponse> {
        let identity = self.identity()?;
        let network = identity.network()?;
        Ok(InitResponse {
            public_key: network.network_key,
            generation: network.key_generation,
            sealed_state: self.seal()?,
            seal_generation: identity.seal_generation,
            genesis_hash: identity.genesis_hash,
            network: None,
            registration_key: identity.registration_key(),
            has_seed: self.keys.is_some(),
        })
    }

    pub(crate) fn checkpoint(&mut self) -> EnclaveResult<SealedCheckpoint> {
        self.identity()?;
        let (_, records) = self.records.checkpoint()?;
        let identity = self
            .identity
            .as_mut()
            .ok_or_else(|| fail(ErrorKind::NotInitialized, "enclave is not initialized"))?;
        identity.seal_generation += 1;
        let seal_generation = identity.seal_generation;
        Ok(SealedCheckpoint {
            sealed_state: self.seal()?,
            seal_generation,
            records,
        })
    }

    pub(crate) fn seal(&self) -> EnclaveResult<Vec<u8>> {
        let identity = self.identity()?;
        let state = SealedState {
            seed: self.keys.as_ref().map(|k| *k.seed.expose_bytes()),
            generation: self
                .keys
                .as_ref()
                .map_or(FIRST_GENERATION, |k| k.generation),
            seal_generation: identity.seal_generation,
            genesis_hash: identity.genesis_hash,
            registration_secret: identity.registration.to_bytes(),
            records_key: identity.records_key,
            // As of the last checkpoint, like `last_block`: a seal between checkpoints
            // (a seed installed) must not pair later records with an earlier block.
            records: self.records.committed(),
            last_block: self.chain.last,
            governance: self.governance.clone(),
        };
        let plain = zeroize::Zeroizing::new(postcard::to_stdvec(&state).expect("serializable"));
        Ok(identity.sealer.seal(SEALED_STATE_AAD, &plain, &mut OsRng))
    }

    /// This enclave's registration key and its attestation for `operator`.
    pub(crate) fn attest_registration(&self, operator: &str) -> EnclaveResult<AttestResponse> {
        veil_types::validate_address(operator)
            .map_err(|e| fail(ErrorKind::BadRequest, format!("operator: {e}")))?;
        let identity = self.identity()?;
        let registration_key = identity.registration_key();
        let data = report_data(&registration_key, &identity.genesis_hash, operator, None);
        Ok(AttestResponse {
            registration_key,
            attestation: attest(data).to_bytes(),
        })
    }

    /// Executes a `register_node` transaction: refuses a revoked (or already registered)
    /// key, verifies the new enclave's attestation against the policy in force at the
    /// block's time, records the key and encrypts the seed to it.
    pub(crate) fn register_node(&mut self, tx: &[u8]) -> EnclaveResult<EcallResponse> {
        let block_time_nanos = self.open_block_time()?;
        let identity = self.identity()?;
        let keys = self.keys()?;
        let (tx, operator) = self.verify_admin_tx(tx, &identity.genesis.chain_id)?;
        let veil_types::Msg::RegisterNode {
            registration_key,
            attestation,
        } = &tx.body.msg
        else {
            return Err(fail(
                ErrorKind::BadRequest,
                "transaction does not register a node",
            ));
        };
        self.governance.check_new_registration(registration_key)?;
        let policy = self.governance.policy.as_ref();
        if policy.is_none() {
            return Err(fail(
                ErrorKind::Attestation,
                "this network has no attestation policy: no enclave may register",
            ));
        }
        let attestation = Attestation::from_bytes(attestation).map_err(attestation_error)?;
        let expected = report_data(registration_key, &identity.genesis_hash, &operator, None);
        let enclave = verify_attestation(policy, &attestation, block_time_nanos, &expected)?;
        let seed_share = veil_crypto::share_seed(
            &keys.seed,
            keys.generation,
            &identity.genesis_hash,
            registration_key,
        )
        .map_err(|e| fail(ErrorKind::Attestation, format!("registration key: {e}")))?;
        let summary = format!(
            "{:?} enclave, MRENCLAVE {}, ISV SVN {}{}",
            enclave.kind,
            hex::encode(enclave.mrenclave),
            enclave.isv_svn,
            enclave
                .tcb_status
                .map(|s| format!(", TCB {s}"))
                .unwrap_or_default()
        );
        self.governance.registered.insert(*registration_key, false);
        self.records
            .set_next_sequence(&operator, tx.body.sequence + 1)?;
        Ok(EcallResponse::NodeRegistered {
            seed_share,
            enclave: summary,
        })
    }

    /// Accepts the seed a `register_node` transaction shared with this enclave, only if it
    /// derives the genesis network key.
    pub(crate) fn install_seed(&mut self, share: &[u8]) -> EnclaveResult<InitResponse> {
        if self.keys.is_some() {
            return Err(fail(
                ErrorKind::BadRequest,
                "this enclave already holds the seed",
            ));
        }
        let identity = self.identity()?;
        let network = identity.network()?;
        let (seed, generation) = veil_crypto::open_seed_share(
            share,
            &identity.registration,
            &network.seed_exchange_key,
            &identity.genesis_hash,
        )
        .map_err(|_| {
            fail(
                ErrorKind::Attestation,
                "the seed share does not open with this enclave's registration key",
            )
        })?;
        let keys = keys_for(&identity.genesis, *seed.expose_bytes(), generation)?;
        self.keys = Some(keys);
        self.init_response()
    }
}

/// The keys of `seed`, refused unless they derive the genesis network key.
fn keys_for(genesis: &Genesis, seed: [u8; 32], generation: u32) -> EnclaveResult<Keys> {
    let seed = Arc::new(MasterSeed::from_bytes(seed));
    let io = IoKeypair::derive(&seed, generation);
    let network = genesis
        .network
        .as_ref()
        .ok_or_else(|| genesis_error("the genesis has no network section"))?;
    if io.public() != network.network_key || generation != network.key_generation {
        return Err(fail(
            ErrorKind::Attestation,
            "the seed does not derive this genesis' network key: refused",
        ));
    }
    Ok(Keys {
        seed,
        generation,
        io,
    })
}

/// The network section a bootstrap enclave publishes for the seed it generated.
fn bootstrap_network(seed: &MasterSeed, genesis: &Genesis) -> NetworkGenesis {
    let network_key = IoKeypair::derive(seed, FIRST_GENERATION).public();
    let seed_exchange_key = veil_crypto::seed_exchange_public(seed, FIRST_GENERATION);
    let data = bootstrap_report_data(&network_key, &seed_exchange_key, &genesis.core_hash());
    NetworkGenesis {
        network_key,
        key_generation: FIRST_GENERATION,
        seed_exchange_key,
        bootstrap_attestation: attest(data),
    }
}

fn unseal(sealer: &SimulatedSealer, blob: &[u8]) -> EnclaveResult<SealedState> {
    let plain = zeroize::Zeroizing::new(sealer.unseal(SEALED_STATE_AAD, blob).map_err(|e| {
        fail(
            ErrorKind::Sealing,
            format!("sealed state does not unseal: {e}"),
        )
    })?);
    postcard::from_bytes(&plain).map_err(|e| {
        fail(
            ErrorKind::Sealing,
            format!("sealed state is malformed: {e}"),
        )
    })
}
