//! A `veil dev` node run as a real process, for the node tests.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use veil_client::rpc::Client;

pub struct DevNode {
    pub home: PathBuf,
    pub port: u16,
    pub block_time: &'static str,
    /// More `veil dev` arguments.
    pub extra_args: Vec<String>,
    child: Option<Child>,
    log: PathBuf,
    starts: u32,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl DevNode {
    /// Starts `veil dev` in `home` and waits until its RPC answers.
    pub fn start(home: &Path, block_time: &'static str) -> Self {
        Self::start_with(home, block_time, &[])
    }

    pub fn start_with(home: &Path, block_time: &'static str, extra_args: &[&str]) -> Self {
        let mut node = Self {
            home: home.to_path_buf(),
            port: free_port(),
            block_time,
            extra_args: extra_args.iter().map(|a| a.to_string()).collect(),
            child: None,
            log: home.join("node-test.log"),
            starts: 0,
        };
        node.spawn();
        node
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn client(&self) -> Client {
        Client::new(&self.url())
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "node already running");
        std::fs::create_dir_all(&self.home).unwrap();
        self.starts += 1;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_veil"))
            .args(["dev", "--home"])
            .arg(&self.home)
            .args(["--rpc-addr", &format!("127.0.0.1:{}", self.port)])
            .args(["--block-time", self.block_time])
            .args(&self.extra_args)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("veil dev starts");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let client = self.client();
        let started = Instant::now();
        loop {
            if client.status().is_ok() {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("veil dev exited with {status}:\n{}", self.log_text());
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "veil dev did not answer within 60 s:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Ctrl-C (SIGINT): the node finishes its block and exits cleanly.
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("running");
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                assert!(
                    status.success(),
                    "veil dev exited with {status}:\n{}",
                    self.log_text()
                );
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "veil dev did not stop on SIGINT"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL: no chance to clean up.
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("running");
        child.kill().expect("SIGKILL");
        child.wait().unwrap();
    }

    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => child.try_wait().unwrap().is_none(),
            None => false,
        }
    }
}

impl Drop for DevNode {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The counter contract, built from source (cached).
pub fn counter_wasm() -> Vec<u8> {
    contract_wasm("counter")
}

/// A contract of the workspace's `contracts/` directory, built from source (cached).
pub fn contract_wasm(name: &str) -> Vec<u8> {
    use veil_contract_build::{
        build_contract, ensure_toolchain, workspace_contract_cache, BuildOptions,
    };
    ensure_toolchain(true).expect("contract toolchain");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../contracts")
        .join(name);
    let out_dir = workspace_contract_cache()
        .join("node-test-artifacts")
        .join(name);
    let path = build_contract(
        &dir,
        &BuildOptions {
            mvp: true,
            out_dir: Some(out_dir),
            quiet: true,
            near: false,
        },
    )
    .unwrap_or_else(|e| panic!("{name} builds: {e}"));
    std::fs::read(path).unwrap()
}

/// Builds the `veil-enclave` executable next to `veil` (what `--enclave process` runs).
pub fn build_enclave_executable() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let output = Command::new(env!("CARGO"))
        // The same selection as `cargo test --workspace` resolves features the same way,
        // so this only links the executable; `-p veil-enclave` alone would compile ~40
        // crates again with other features (minutes and half a GB on CI).
        .args(["build", "--workspace", "--bins", "--tests"])
        .current_dir(&root)
        .output()
        .expect("running cargo build");
    assert!(
        output.status.success(),
        "building veil-enclave failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let veil = PathBuf::from(env!("CARGO_BIN_EXE_veil"));
    assert!(
        veil.with_file_name("veil-enclave").is_file(),
        "veil-enclave is not next to {}",
        veil.display()
    );
}

/// Stores the counter contract and instantiates it at `count`, as the wallet's key.
/// Returns the contract's address and its code hash.
pub fn deploy_counter(
    wallet: &veil_client::tx::Wallet,
    label: &str,
    count: u64,
) -> (String, veil_types::Hash) {
    use veil_types::Msg;
    let options = veil_client::tx::TxOptions {
        timeout: Duration::from_secs(30),
        ..Default::default()
    };
    let stored = wallet
        .broadcast(
            Msg::StoreCode {
                wasm: counter_wasm(),
                query_policy: None,
            },
            &options,
            |_| {},
        )
        .expect("store the counter");
    let code = wallet
        .client()
        .code(stored.committed.receipt.code_id.expect("a code id"))
        .expect("the stored code");
    let (envelope, _) = wallet
        .encrypt(&code.code_hash, &serde_json::json!({ "count": count }))
        .unwrap();
    let created = wallet
        .broadcast(
            Msg::Instantiate {
                code_id: code.code_id,
                label: label.into(),
                admin: None,
                msg: envelope,
                funds: 0,
                query_policy: None,
            },
            &options,
            |_| {},
        )
        .expect("instantiate the counter");
    let address = created
        .committed
        .receipt
        .contract_address
        .expect("an address");
    (address, code.code_hash)
}
