//! Key files as the client reads them (`list`, `show`, `get`, `export`): any bytes in a
//! key file, and real key files (test and file backends, mnemonic and raw secret key)
//! that are then changed. A corrupt file is a clear error, never a panic, and a changed
//! file never yields a key other than the one it was written for.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use veil_client::keyring::KdfParams;
use veil_client::{Backend, Keyring, Mnemonic};

const NAME: &str = "fuzzkey";
const PASSPHRASE: &str = "fuzz passphrase";

struct Fixture {
    home: tempfile::TempDir,
    /// (backend, real file bytes, its secret's address)
    files: Vec<(Backend, Vec<u8>, String)>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let shm = Path::new("/dev/shm");
        let home = if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        }
        .expect("a temporary home");
        let cheap = KdfParams {
            m_cost_kib: 8,
            t_cost: 1,
            p_cost: 1,
        };
        let mnemonic = Mnemonic::parse(
            "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
        )
        .expect("a valid mnemonic");
        let mut files = Vec::new();
        for backend in [Backend::Test, Backend::File] {
            for raw_secret in [false, true] {
                // The name is bound into the file (and a file key's associated data).
                let scratch = tempfile::tempdir().expect("scratch");
                let ring = Keyring::open(scratch.path(), backend)
                    .unwrap()
                    .with_kdf_params(cheap);
                let pass = (backend == Backend::File).then_some(PASSPHRASE);
                let info = if raw_secret {
                    ring.import_secret_key(NAME, &[7; 32], pass, false).unwrap()
                } else {
                    ring.import(NAME, &mnemonic, pass, false).unwrap()
                };
                let bytes = std::fs::read(ring.path_of(NAME).unwrap()).unwrap();
                files.push((backend, bytes, info.address));
            }
        }
        Fixture { home, files }
    })
}

#[derive(Debug, Arbitrary)]
enum Input {
    Raw {
        file_backend: bool,
        bytes: Vec<u8>,
    },
    Real {
        which: u8,
        flip: Vec<(u16, u8)>,
        json_edit: Option<(String, String)>,
    },
}

fn path(home: &Path, backend: Backend) -> PathBuf {
    let ring = Keyring::open(home, backend).unwrap();
    std::fs::create_dir_all(ring.dir()).unwrap();
    ring.path_of(NAME).unwrap()
}

fn read_all(home: &Path, backend: Backend) -> Option<String> {
    let ring = Keyring::open(home, backend).unwrap();
    let listed = ring.list();
    let shown = ring.show(NAME);
    assert_eq!(listed.is_ok(), shown.is_ok());
    let pass = (backend == Backend::File).then_some(PASSPHRASE);
    let key = ring.get(NAME, pass);
    let exported = ring.export(NAME, pass);
    assert_eq!(key.is_ok(), exported.is_ok());
    key.ok().map(|k| k.address().to_string())
}

fuzz_target!(|input: Input| {
    let fixture = fixture();
    let home = fixture.home.path();
    match input {
        Input::Raw {
            file_backend,
            bytes,
        } => {
            let backend = if file_backend {
                Backend::File
            } else {
                Backend::Test
            };
            let file = path(home, backend);
            std::fs::write(&file, &bytes).unwrap();
            read_all(home, backend);
            std::fs::remove_file(file).unwrap();
        }
        Input::Real {
            which,
            flip,
            json_edit,
        } => {
            let (backend, real, address) = &fixture.files[usize::from(which) % fixture.files.len()];
            let mut bytes = real.clone();
            if let Some((field, value)) = json_edit {
                if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                    let parsed =
                        serde_json::from_str(&value).unwrap_or(serde_json::Value::String(value));
                    v[field] = parsed;
                    bytes = serde_json::to_vec(&v).unwrap();
                }
            }
            for (at, mask) in flip.iter().take(4) {
                let i = usize::from(*at) % bytes.len().max(1);
                if let Some(b) = bytes.get_mut(i) {
                    *b ^= mask;
                }
            }
            let file = path(home, *backend);
            std::fs::write(&file, &bytes).unwrap();
            if let Some(got) = read_all(home, *backend) {
                assert_eq!(&got, address, "a key file gave another key than its own");
            } else {
                assert_ne!(&bytes, real, "an untouched key file reads");
            }
            std::fs::remove_file(file).unwrap();
        }
    }
});
