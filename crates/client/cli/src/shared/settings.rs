//! The settings every command shares — home, node, output, keyring backend, chain id —
//! from (first wins) the global flags, the environment, the home's client config
//! `<home>/config/client.toml` (as the Cosmos SDK's: `veil config get|set`), defaults.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use veil_client::keyring::Backend;
use veil_client::rpc::{Client, DEFAULT_NODE_URL};

use super::KeyringOpts;

/// Environment variable: the Veil home directory.
pub(crate) const HOME_ENV: &str = "VEIL_HOME";
/// Environment variable: the node's RPC URL.
pub(crate) const NODE_ENV: &str = "VEIL_NODE";
/// Environment variable: the output format.
pub(crate) const OUTPUT_ENV: &str = "VEIL_OUTPUT";
/// Environment variable: the default keyring backend.
pub(crate) const BACKEND_ENV: &str = "VEIL_KEYRING_BACKEND";
/// Environment variable: the chain id commands expect the node to serve.
pub(crate) const CHAIN_ID_ENV: &str = "VEIL_CHAIN_ID";
/// Environment variable: the file backend's passphrase (for scripts).
pub(crate) const PASSPHRASE_ENV: &str = "VEIL_KEYRING_PASSPHRASE";

/// The client config file, relative to the home.
pub(crate) const CLIENT_CONFIG: &str = "config/client.toml";

#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    Text,
    Json,
}

impl OutputFormat {
    fn name(self) -> &'static str {
        match self {
            OutputFormat::Text => "text",
            OutputFormat::Json => "json",
        }
    }
}

/// The flags every command accepts, before or after its name.
#[derive(clap::Args, Default)]
pub struct GlobalOpts {
    /// Veil home directory: keyring, chain data, client config [default: $VEIL_HOME, else
    /// ~/.veil].
    #[arg(long, global = true, value_name = "DIR")]
    home: Option<PathBuf>,
    /// The node's RPC URL [default: $VEIL_NODE, else the home's client.toml, else
    /// http://127.0.0.1:26657].
    #[arg(long, global = true, value_name = "URL")]
    node: Option<String>,
    /// Output format: `text` for people; `json` for scripts (exactly one JSON value on
    /// stdout, also when the command fails) [default: $VEIL_OUTPUT, else client.toml,
    /// else text].
    #[arg(long, global = true, value_name = "FORMAT", value_enum)]
    output: Option<OutputFormat>,
    /// Keyring backend: `file` (passphrase-encrypted) or `test` (plaintext; where `veil
    /// dev` puts alice, bob and carol) [default: $VEIL_KEYRING_BACKEND, else client.toml,
    /// else file]. The file backend's passphrase comes from $VEIL_KEYRING_PASSPHRASE, else
    /// the terminal, else one line of stdin.
    #[arg(long, global = true, value_name = "BACKEND")]
    keyring_backend: Option<Backend>,
    /// The chain the node must serve: commands that sign or query refuse another
    /// [default: $VEIL_CHAIN_ID, else client.toml, else whatever the node serves].
    #[arg(long, global = true, value_name = "ID")]
    chain_id: Option<String>,
}

/// The keys of `client.toml`, as `veil config` names them.
pub(crate) const CONFIG_KEYS: [&str; 4] = ["chain-id", "keyring-backend", "node", "output"];

/// What `client.toml` holds (every key optional).
#[derive(Default, Debug, PartialEq)]
pub(crate) struct ClientConfig {
    pub chain_id: Option<String>,
    pub keyring_backend: Option<Backend>,
    pub node: Option<String>,
    pub output: Option<OutputFormat>,
}

fn parse_output(text: &str) -> anyhow::Result<OutputFormat> {
    match text {
        "text" => Ok(OutputFormat::Text),
        "json" => Ok(OutputFormat::Json),
        _ => bail!("{text:?} is not an output format (text or json)"),
    }
}

fn parse_backend(text: &str) -> anyhow::Result<Backend> {
    text.parse().map_err(|e| anyhow!("{e}"))
}

/// Checks a value for `key` and gives it in its canonical form.
pub(crate) fn check_config_value(key: &str, value: &str) -> anyhow::Result<String> {
    Ok(match key {
        "chain-id" if value.is_empty() => bail!("chain-id cannot be empty"),
        "chain-id" => value.to_string(),
        "keyring-backend" => parse_backend(value)?.to_string(),
        "node" => node_url(value),
        "output" => parse_output(value)?.name().to_string(),
        _ => bail!(
            "unknown client config key {key:?} (known: {})",
            CONFIG_KEYS.join(", ")
        ),
    })
}

impl ClientConfig {
    /// Reads `<home>/config/client.toml`; a missing file is an empty config.
    pub(crate) fn load(home: &Path) -> anyhow::Result<Self> {
        let path = home.join(CLIENT_CONFIG);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        Self::parse(&text)
            .with_context(|| format!("{} is not a valid client config", path.display()))
    }

    pub(crate) fn parse(text: &str) -> anyhow::Result<Self> {
        let document: toml_edit::DocumentMut = text.parse()?;
        let mut config = Self::default();
        for (key, item) in document.iter() {
            let value = item
                .as_str()
                .ok_or_else(|| anyhow!("{key} must be a string"))?;
            let value = check_config_value(key, value)?;
            match key {
                "chain-id" => config.chain_id = Some(value),
                "keyring-backend" => config.keyring_backend = Some(parse_backend(&value)?),
                "node" => config.node = Some(value),
                "output" => config.output = Some(parse_output(&value)?),
                _ => unreachable!("check_config_value knows the keys"),
            }
        }
        Ok(config)
    }

    /// The value of `key` in the file, if set.
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        match key {
            "chain-id" => self.chain_id.clone(),
            "keyring-backend" => self.keyring_backend.map(|b| b.to_string()),
            "node" => self.node.clone(),
            "output" => self.output.map(|o| o.name().to_string()),
            _ => None,
        }
    }
}

/// Sets `key = value` in `<home>/config/client.toml`, keeping the file's other lines
/// and comments; creates the file when missing.
pub(crate) fn set_config_values(home: &Path, values: &[(&str, &str)]) -> anyhow::Result<()> {
    let path = home.join(CLIENT_CONFIG);
    let (text, header) = match std::fs::read_to_string(&path) {
        Ok(text) => (text, ""),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (
            String::new(),
            "# Veil client settings (`veil config set KEY VALUE`); flags and VEIL_* variables win.\n",
        ),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    // Refuse to rewrite a file that is already broken: the user should see why.
    ClientConfig::parse(&text)
        .with_context(|| format!("{} is not a valid client config", path.display()))?;
    let mut document: toml_edit::DocumentMut = text.parse()?;
    for (key, value) in values {
        document[*key] = toml_edit::value(check_config_value(key, value)?);
    }
    std::fs::create_dir_all(path.parent().expect("a file in config/"))
        .with_context(|| format!("creating {}", home.join("config").display()))?;
    let temporary = path.with_extension("toml.tmp");
    std::fs::write(&temporary, format!("{header}{document}"))
        .with_context(|| format!("writing {}", temporary.display()))?;
    std::fs::rename(&temporary, &path).with_context(|| format!("writing {}", path.display()))
}

/// `http://` added to a bare `host:port`.
fn node_url(text: &str) -> String {
    if text.contains("://") {
        text.to_string()
    } else {
        format!("http://{text}")
    }
}

fn env(name: &str) -> anyhow::Result<Option<String>> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Ok(Some(value)),
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => bail!("{name} is not valid UTF-8"),
    }
}

/// The settings in force for this run of `veil`.
pub(crate) struct Settings {
    home: Option<PathBuf>,
    /// Why there is no home (no --home, $VEIL_HOME or $HOME).
    home_error: Option<String>,
    node: String,
    output: OutputFormat,
    keyring_backend: Backend,
    chain_id: Option<String>,
    /// The chain id of the flag or the environment (not of the home's client config).
    explicit_chain_id: Option<String>,
}

static SETTINGS: OnceLock<Settings> = OnceLock::new();

impl Settings {
    /// Resolves flags, environment, client config and defaults.
    pub(crate) fn resolve(opts: GlobalOpts) -> anyhow::Result<Self> {
        let (home, home_error) = match opts.home {
            Some(home) => (Some(crate::absolute(&home)), None),
            None => match default_home() {
                Ok(home) => (Some(crate::absolute(&home)), None),
                Err(e) => (None, Some(e.to_string())),
            },
        };
        let config = match &home {
            Some(home) => ClientConfig::load(home)?,
            None => ClientConfig::default(),
        };
        let output = match (opts.output, env(OUTPUT_ENV)?) {
            (Some(output), _) => output,
            (None, Some(text)) => parse_output(&text).with_context(|| OUTPUT_ENV)?,
            (None, None) => config.output.unwrap_or(OutputFormat::Text),
        };
        let keyring_backend = match (opts.keyring_backend, env(BACKEND_ENV)?) {
            (Some(backend), _) => backend,
            (None, Some(text)) => parse_backend(&text).with_context(|| BACKEND_ENV)?,
            (None, None) => config.keyring_backend.unwrap_or(Backend::File),
        };
        let node = opts
            .node
            .or(env(NODE_ENV)?)
            .or(config.node)
            .unwrap_or_else(|| DEFAULT_NODE_URL.to_string());
        let explicit_chain_id = opts.chain_id.or(env(CHAIN_ID_ENV)?);
        let chain_id = explicit_chain_id.clone().or(config.chain_id);
        Ok(Self {
            home,
            home_error,
            node: node_url(&node),
            output,
            keyring_backend,
            chain_id,
            explicit_chain_id,
        })
    }

    /// Resolves the settings once, for [`settings`].
    pub(crate) fn install(opts: GlobalOpts) -> anyhow::Result<()> {
        let settings = Self::resolve(opts)?;
        SETTINGS
            .set(settings)
            .map_err(|_| anyhow!("the settings are resolved once"))
    }

    /// The home directory (absolute).
    pub(crate) fn home(&self) -> anyhow::Result<PathBuf> {
        self.home.clone().ok_or_else(|| {
            anyhow!(
                "{}",
                self.home_error.as_deref().unwrap_or("no home directory")
            )
        })
    }

    pub(crate) fn client(&self) -> Client {
        Client::new(&self.node)
    }

    pub(crate) fn json(&self) -> bool {
        self.output == OutputFormat::Json
    }

    pub(crate) fn keyring_backend(&self) -> Backend {
        self.keyring_backend
    }

    /// The keyring of the home.
    pub(crate) fn keyring(&self) -> KeyringOpts {
        KeyringOpts::at(self.home.clone(), Some(self.keyring_backend))
    }

    /// The chain id named by `--chain-id` or `$VEIL_CHAIN_ID`, for commands that create a
    /// chain (`veil testnet init`, `veil dev`): a client config names the chain a client
    /// talks to, not the one to create.
    pub(crate) fn explicit_chain_id(&self) -> Option<&str> {
        self.explicit_chain_id.as_deref()
    }

    /// Refuses a node that serves another chain than the one expected.
    pub(crate) fn check_chain(&self, served: &str) -> Result<(), super::Failure> {
        match &self.chain_id {
            Some(expected) if expected != served => Err(super::failed(
                "wrong_chain",
                format!(
                    "the node at {} serves chain {served:?}, not {expected:?} (--chain-id, ${CHAIN_ID_ENV} or client.toml)",
                    self.node
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// The settings of this run (resolved by `main` before any command runs).
pub(crate) fn settings() -> &'static Settings {
    SETTINGS.get_or_init(|| {
        Settings::resolve(GlobalOpts::default()).unwrap_or_else(|e| {
            eprintln!("error: {e:#}");
            std::process::exit(2)
        })
    })
}

/// The Veil home directory when `--home` is not given: `$VEIL_HOME`, else `~/.veil`.
pub(crate) fn default_home() -> anyhow::Result<PathBuf> {
    if let Some(home) = std::env::var_os(HOME_ENV).filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(home));
    }
    match std::env::home_dir() {
        Some(dir) if !dir.as_os_str().is_empty() => Ok(dir.join(".veil")),
        _ => Err(anyhow!(
            "cannot find the home directory: set {HOME_ENV} or pass --home"
        )),
    }
}

/// A duration like `200ms`, `1s` (the default unit), `2m`, from 1 ms to 1 h.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 1s or 200ms"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("{text:?}: unknown unit {unit:?} (use ms, s or m)")),
    };
    if !(0.001..=3600.0).contains(&seconds) {
        return Err(format!("{text:?} must be between 1ms and 1h"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_config_parses_and_checks_values() {
        let config = ClientConfig::parse(
            "# comment\nchain-id = \"veil-dev\"\nkeyring-backend = \"test\"\nnode = \"127.0.0.1:1\"\noutput = \"json\"\n",
        )
        .unwrap();
        assert_eq!(config.chain_id.as_deref(), Some("veil-dev"));
        assert_eq!(config.keyring_backend, Some(Backend::Test));
        assert_eq!(config.node.as_deref(), Some("http://127.0.0.1:1"));
        assert_eq!(config.output, Some(OutputFormat::Json));
        assert!(ClientConfig::parse("colour = \"red\"").is_err());
        assert!(ClientConfig::parse("output = \"xml\"").is_err());
        assert!(ClientConfig::parse("output = 3").is_err());
        assert!(ClientConfig::parse("output = ").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("200ms"), Ok(Duration::from_millis(200)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("1h").is_err());
    }
}
