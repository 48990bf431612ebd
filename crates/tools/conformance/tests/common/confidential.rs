//! cw20-base transfers through the enclave (in-process, simulation), in blocks as a node
//! runs them: shared by the `cw20_transfer` bench and the `transfer_instructions` example
//! via `#[path]`, since veil-host is only a dev-dependency.
#![allow(dead_code)]

use veil_crypto::x25519_dalek::StaticSecret;
use veil_enclave_abi::BlockRef;
use veil_host::{ConfidentialHost, EnclaveMode, HostConfig, SignedExecute};
use veil_types::k256::ecdsa::SigningKey;

/// Gas limit of each confidential call.
pub const GAS_LIMIT: u64 = veil_conformance::GAS_LIMIT;

pub fn signing_key(label: &str) -> SigningKey {
    use sha2::Digest;
    SigningKey::from_slice(&sha2::Sha256::digest(label)).unwrap()
}

/// A host with an in-process enclave holding one cw20-base token whose holder is `alice`.
pub struct ConfidentialSetup {
    pub host: ConfidentialHost,
    pub token: String,
    /// `{"transfer": …}` encrypted to the network key once (the user's work).
    pub transfer_envelope: Vec<u8>,
    pub alice: SigningKey,
    _home: tempfile::TempDir,
}

impl ConfidentialSetup {
    /// `instantiate_msg` names the holder as `alice_placeholder`, which becomes the address
    /// of alice's signing key (the enclave runs calls only with their sender's signature).
    pub fn new(
        wasm: &[u8],
        instantiate_msg: &[u8],
        alice_placeholder: &str,
        transfer_msg: &[u8],
    ) -> Self {
        let home = tempfile::tempdir().unwrap();
        let host = ConfidentialHost::open(HostConfig {
            home: home.path().to_path_buf(),
            chain_id: veil_conformance::block().chain_id,
            mode: EnclaveMode::InProcess,
            log_crossings: false,
        })
        .unwrap();
        let (network_key, generation) = host.network_key();
        let code_hash = host.store_code(wasm).unwrap();
        let user = StaticSecret::from([7u8; 32]);
        let seal = |msg: &[u8]| {
            veil_crypto::encrypt_input(
                &mut veil_crypto::OsRng,
                &user,
                &network_key,
                generation,
                &code_hash,
                msg,
            )
            .unwrap()
            .0
        };
        let alice = signing_key("alice");
        let creator = signing_key("creator");
        let instantiate_msg = String::from_utf8(instantiate_msg.to_vec())
            .unwrap()
            .replace(alice_placeholder, &veil_host::signer_address(&alice))
            .into_bytes();
        let (token, response) = host
            .instantiate(
                code_hash,
                &creator,
                "bench",
                seal(&instantiate_msg),
                vec![],
                block_ref(),
                GAS_LIMIT,
            )
            .unwrap();
        assert!(response.ok, "confidential instantiate");
        Self {
            host,
            token,
            transfer_envelope: seal(transfer_msg),
            alice,
            _home: home,
        }
    }

    /// `n` signed transfers from alice (the user's work: not part of the confidential path).
    pub fn sign_transfers(&self, n: usize) -> Vec<SignedExecute> {
        (0..n)
            .map(|_| {
                self.host.sign_execute(
                    &self.token,
                    &self.alice,
                    self.transfer_envelope.clone(),
                    vec![],
                    &block_ref().chain_id,
                    GAS_LIMIT,
                )
            })
            .collect()
    }

    /// What a node does with them: the enclave checks each signature as the mempool admits
    /// it (`CheckTx`), then runs them all in one certified block (one certificate check,
    /// one sealed checkpoint). Panics unless every transfer succeeded.
    pub fn admit_and_run_block(&self, calls: Vec<SignedExecute>) {
        for call in &calls {
            let check = self.host.check_tx(call.tx()).unwrap();
            assert!(
                matches!(check, veil_host::TxCheck::Signed { .. }),
                "CheckTx: {check:?}"
            );
        }
        let n = calls.len();
        let responses = self.host.execute_block(calls, block_ref()).unwrap();
        assert_eq!(responses.len(), n);
        for response in responses {
            assert!(
                response.ok,
                "confidential transfer: {:?}",
                response.error_kind
            );
        }
    }
}

pub fn block_ref() -> BlockRef {
    let b = veil_conformance::block();
    BlockRef {
        height: b.height,
        time_nanos: b.time_nanos,
        chain_id: b.chain_id,
        tx_index: b.tx_index,
    }
}
