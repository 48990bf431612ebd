//! Keys and sealing: the master seed, the state the enclave keeps across restarts, and
//! unsealing it at start.

use super::*;

/// What the enclave keeps across restarts, sealed.
#[derive(Serialize, Deserialize)]
pub(crate) struct SealedState {
    seed: [u8; 32],
    generation: u32,
    seal_generation: u64,
    /// What the enclave trusts about each contract, by address.
    contracts: Vec<(String, TrustedContract)>,
    /// The lowest transaction sequence each sender may still use (replay guard).
    senders: Vec<(String, u64)>,
    /// Code recorded by `store_code` transactions, by code id (1, 2, …).
    codes: Vec<CodeRecord>,
}

impl Drop for SealedState {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.seed);
    }
}

pub(crate) struct Keys {
    /// Shared with the calls' contract queriers, which derive other contracts' keys.
    pub(crate) seed: Arc<MasterSeed>,
    pub(crate) generation: u32,
    pub(crate) io: IoKeypair,
    pub(crate) sealer: SimulatedSealer,
    pub(crate) seal_generation: u64,
}

impl Enclave {
    pub(crate) fn keys(&self) -> EnclaveResult<&Keys> {
        self.keys
            .as_ref()
            .ok_or_else(|| fail(ErrorKind::NotInitialized, "enclave is not initialized"))
    }

    pub(crate) fn init(&mut self, request: InitRequest) -> EnclaveResult<InitResponse> {
        let sealer = SimulatedSealer::new(&request.machine_secret)
            .map_err(|e| fail(ErrorKind::Sealing, e.to_string()))?;
        let state = match &request.sealed_state {
            Some(blob) => {
                let plain = zeroize::Zeroizing::new(
                    sealer.unseal(SEALED_STATE_AAD, blob).map_err(|e| {
                        fail(
                            ErrorKind::Sealing,
                            format!("sealed state does not unseal: {e}"),
                        )
                    })?,
                );
                let state: SealedState = postcard::from_bytes(&plain).map_err(|e| {
                    fail(
                        ErrorKind::Sealing,
                        format!("sealed state is malformed: {e}"),
                    )
                })?;
                if state.seal_generation < request.min_seal_generation {
                    return Err(fail(
                        ErrorKind::StaleSealedState,
                        format!(
                            "sealed state is from generation {}, but generation {} has been recorded: refusing an old sealed file",
                            state.seal_generation, request.min_seal_generation
                        ),
                    ));
                }
                state
            }
            None => SealedState {
                seed: *MasterSeed::generate(&mut OsRng).expose_bytes(),
                generation: FIRST_GENERATION,
                seal_generation: request.min_seal_generation,
                contracts: Vec::new(),
                senders: Vec::new(),
                codes: Vec::new(),
            },
        };
        let seed = Arc::new(MasterSeed::from_bytes(state.seed));
        let io = IoKeypair::derive(&seed, state.generation);
        self.contracts = Arc::new(state.contracts.iter().cloned().collect());
        self.next_sequences = state.senders.iter().cloned().collect();
        self.codes = state.codes.clone();
        self.senders = SharedSecretCache::new(SENDER_CACHE_CAPACITY);
        self.keys = Some(Keys {
            seed,
            generation: state.generation,
            io,
            sealer,
            seal_generation: state.seal_generation,
        });
        let keys = self.keys()?;
        Ok(InitResponse {
            public_key: keys.io.public(),
            generation: keys.generation,
            sealed_state: self.seal()?,
            seal_generation: keys.seal_generation,
        })
    }

    pub(crate) fn seal(&self) -> EnclaveResult<Vec<u8>> {
        let keys = self.keys()?;
        let state = SealedState {
            seed: *keys.seed.expose_bytes(),
            generation: keys.generation,
            seal_generation: keys.seal_generation,
            contracts: self
                .contracts
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            senders: self
                .next_sequences
                .iter()
                .map(|(k, v)| (k.clone(), *v))
                .collect(),
            codes: self.codes.clone(),
        };
        let plain = zeroize::Zeroizing::new(postcard::to_stdvec(&state).expect("serializable"));
        Ok(keys.sealer.seal(SEALED_STATE_AAD, &plain, &mut OsRng))
    }
}
