//! Client configuration: the `atoma` CLI's environments and active key, in
//! the spirit of the Sui CLI's `client.yaml`, and the Sui CLI's own
//! configuration (keystore, aliases, active address, environments), read
//! when present so that a Sui user's key works without being named.
//!
//! The file is `~/.atoma/config.toml` (or `$ATOMA_CONFIG`):
//!
//! ```toml
//! active_env = "local"
//! key = "~/.sui/sui_config/sui.keystore#0x…"   # optional; default: the Sui CLI's active address
//!
//! [envs.local]
//! url = "http://127.0.0.1:9000"
//! package = "0x…"
//! network = "0x…"
//! admin_cap = "0x…"                         # optional; only the admin's commands use it
//! ```
//!
//! Not for: the node service's configuration (`atoma-node.toml`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sui_sdk_types::Address;

use crate::error::{Result, SdkError};
use crate::keys::{Key, Keystore, load_key};

/// One network the CLI can talk to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Env {
    /// Sui gRPC URL.
    pub url: String,
    /// The atoma package's address (the package id of the first publication).
    pub package: Address,
    /// The shared `Network` object's id.
    pub network: Address,
    /// The `AdminCap`'s id, for the admin's commands.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_cap: Option<Address>,
}

/// The `atoma` CLI's configuration file.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    /// The environment commands use unless told otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_env: Option<String>,
    /// The key commands sign with unless told otherwise (any form `load_key` reads).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Environments by name.
    #[serde(default)]
    pub envs: BTreeMap<String, Env>,
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from)
}

/// Expands a leading `~/` to the home directory.
pub fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), home()) {
        (Some(rest), Some(h)) => h.join(rest),
        _ => PathBuf::from(path),
    }
}

impl ClientConfig {
    /// `$ATOMA_CONFIG`, or `~/.atoma/config.toml`.
    pub fn default_path() -> PathBuf {
        match std::env::var_os("ATOMA_CONFIG").filter(|p| !p.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => home().unwrap_or_default().join(".atoma").join("config.toml"),
        }
    }

    /// Reads the file; a missing file is an empty configuration.
    pub fn load(path: &Path) -> Result<ClientConfig> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text)
                .map_err(|e| SdkError::InvalidArgument(format!("configuration {}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ClientConfig::default()),
            Err(e) => Err(SdkError::InvalidArgument(format!("reading {}: {e}", path.display()))),
        }
    }

    /// Writes the file atomically, creating its directory.
    pub fn save(&self, path: &Path) -> Result<()> {
        let io = |e: std::io::Error| SdkError::InvalidArgument(format!("writing {}: {e}", path.display()));
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let text = toml::to_string(self).map_err(|e| SdkError::InvalidArgument(e.to_string()))?;
        let tmp = path.with_extension("toml.tmp");
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    /// The environment named `name`, or the active one.
    pub fn env(&self, name: Option<&str>) -> Result<Option<(&str, &Env)>> {
        let Some(name) = name.or(self.active_env.as_deref()) else { return Ok(None) };
        match self.envs.get_key_value(name) {
            Some((n, e)) => Ok(Some((n.as_str(), e))),
            None => Err(SdkError::InvalidArgument(format!(
                "no environment named {name:?}; configured: {}",
                if self.envs.is_empty() {
                    "none".to_string()
                } else {
                    self.envs.keys().cloned().collect::<Vec<_>>().join(", ")
                }
            ))),
        }
    }
}

/// What the Sui CLI's `client.yaml` says (only the fields used here).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SuiClientConfig {
    /// The keystore (`keystore: { File: PATH }`).
    #[serde(default)]
    pub keystore: Option<SuiKeystore>,
    /// The Sui CLI's environments.
    #[serde(default)]
    pub envs: Vec<SuiEnv>,
    /// The active environment's alias.
    #[serde(default)]
    pub active_env: Option<String>,
    /// The active address.
    #[serde(default)]
    pub active_address: Option<Address>,
}

/// `keystore:` in `client.yaml` (`File: PATH`, or `InMem: …` with nothing to read).
#[derive(Clone, Debug, Default, Deserialize)]
pub struct SuiKeystore {
    /// A keystore file.
    #[serde(rename = "File")]
    pub file: Option<PathBuf>,
}

/// One of the Sui CLI's environments.
#[derive(Clone, Debug, Deserialize)]
pub struct SuiEnv {
    /// Its name (`devnet`, `testnet`, …).
    pub alias: String,
    /// Its RPC URL.
    pub rpc: String,
}

impl SuiClientConfig {
    /// `$SUI_CONFIG_DIR`, or `~/.sui/sui_config`.
    pub fn dir() -> PathBuf {
        match std::env::var_os("SUI_CONFIG_DIR").filter(|p| !p.is_empty()) {
            Some(p) => PathBuf::from(p),
            None => home().unwrap_or_default().join(".sui").join("sui_config"),
        }
    }

    /// Reads `client.yaml` from `dir`; `None` when there is none.
    pub fn load(dir: &Path) -> Result<Option<SuiClientConfig>> {
        let path = dir.join("client.yaml");
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_yaml_ng::from_str(&text)
                .map(Some)
                .map_err(|e| SdkError::InvalidArgument(format!("Sui client configuration {}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(SdkError::InvalidArgument(format!("reading {}: {e}", path.display()))),
        }
    }

    /// The keystore file it names, or `sui.keystore` beside it.
    pub fn keystore_path(&self, dir: &Path) -> PathBuf {
        match self.keystore.as_ref().and_then(|k| k.file.as_ref()) {
            Some(p) => p.clone(),
            None => dir.join("sui.keystore"),
        }
    }
}

/// `sui.aliases` beside a keystore: `[{"alias": …, "public_key_base64": …}]`.
#[derive(Deserialize)]
struct AliasEntry {
    alias: String,
    public_key_base64: String,
}

/// The address of a key given as base64 `flag || public key`.
fn address_of_public_key(b64: &str) -> Option<Address> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(b64.trim()).ok()?;
    let (flag, key) = bytes.split_first()?;
    match flag {
        0 => Some(sui_sdk_types::Ed25519PublicKey::from_bytes(key).ok()?.derive_address()),
        1 => Some(sui_sdk_types::Secp256k1PublicKey::from_bytes(key).ok()?.derive_address()),
        2 => Some(sui_sdk_types::Secp256r1PublicKey::from_bytes(key).ok()?.derive_address()),
        _ => None,
    }
}

/// The address that `alias` names in the `sui.aliases` file beside `keystore`.
pub fn alias_address(keystore: &Path, alias: &str) -> Result<Option<Address>> {
    let path = keystore.with_file_name("sui.aliases");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SdkError::key(format!("reading {}", path.display())).because(e)),
    };
    let entries: Vec<AliasEntry> =
        serde_json::from_str(&text).map_err(|e| SdkError::key(format!("{}", path.display())).because(e))?;
    Ok(entries.iter().find(|e| e.alias == alias).and_then(|e| address_of_public_key(&e.public_key_base64)))
}

/// Where a key came from, for messages.
#[derive(Clone, Debug)]
pub struct KeySource {
    /// The key.
    pub key: Key,
    /// How it was found, in words.
    pub from: String,
}

/// Whether a key spec is read as it is, without the Sui CLI's files: a
/// private key, or a keystore path (with `/`, `#ADDRESS`, or an existing file).
fn reads_itself(spec: &str) -> bool {
    let spec = spec.trim();
    spec.starts_with("suiprivkey") || spec.contains(['/', '#']) || expand_home(spec).exists()
}

/// Finds the signing key: `spec` when given (a `suiprivkey` string, a
/// keystore path with an optional `#ADDRESS`, or an address or alias of a
/// key in the Sui CLI's keystore), else the configuration's `key`, else the
/// Sui CLI's active address in its keystore.
pub fn resolve_key(spec: Option<&str>, config: &ClientConfig) -> Result<KeySource> {
    let sui_dir = SuiClientConfig::dir();
    // Only a key named by address or alias, or no key at all, needs the Sui CLI's files.
    let sui = match spec.or(config.key.as_deref()) {
        Some(s) if reads_itself(s) => None,
        _ => SuiClientConfig::load(&sui_dir)?,
    };
    let sui_keystore = sui.as_ref().map(|s| s.keystore_path(&sui_dir)).unwrap_or_else(|| sui_dir.join("sui.keystore"));
    let from_sui_keystore = |name: &str| -> Result<Option<Key>> {
        let address = match name.parse::<Address>() {
            Ok(a) if name.starts_with("0x") => a,
            _ => match alias_address(&sui_keystore, name)? {
                Some(a) => a,
                None => return Ok(None),
            },
        };
        if !sui_keystore.exists() {
            return Err(SdkError::key(format!(
                "{name} names a key of the Sui keystore, but {} does not exist",
                sui_keystore.display()
            )));
        }
        let store = Keystore::load(&sui_keystore)?;
        store.get(&address).cloned().map(Some).ok_or_else(|| {
            SdkError::key(format!("the Sui keystore {} holds no key for {address}", sui_keystore.display()))
        })
    };
    let named = |s: &str, from: String| -> Result<KeySource> {
        let s = s.trim();
        if !reads_itself(s)
            && let Some(key) = from_sui_keystore(s)?
        {
            return Ok(KeySource { key, from: format!("{from}, in {}", sui_keystore.display()) });
        }
        Ok(KeySource { key: load_key(&expand_home(s).display().to_string())?, from })
    };
    if let Some(s) = spec {
        return named(s, "--key".into());
    }
    if let Some(s) = &config.key {
        return named(s, "the atoma configuration's key".into());
    }
    if let Some(active) = sui.as_ref().and_then(|s| s.active_address) {
        let store = Keystore::load(&sui_keystore)?;
        if let Some(key) = store.get(&active) {
            return Ok(KeySource {
                key: key.clone(),
                from: format!("the Sui CLI's active address, in {}", sui_keystore.display()),
            });
        }
        return Err(SdkError::key(format!(
            "the Sui CLI's active address {active} has no key in {}",
            sui_keystore.display()
        )));
    }
    Err(SdkError::key(
        "no key: give --key (a suiprivkey string, KEYSTORE[#ADDRESS], or an address or alias of the Sui keystore), \
         or set one with `atoma key use`",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_round_trips_and_names_the_known_environments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("config.toml");
        assert_eq!(ClientConfig::load(&path).unwrap(), ClientConfig::default());
        let mut c = ClientConfig { active_env: Some("local".into()), ..Default::default() };
        c.envs.insert(
            "local".into(),
            Env {
                url: "http://127.0.0.1:9000".into(),
                package: Address::TWO,
                network: Address::THREE,
                admin_cap: None,
            },
        );
        c.save(&path).unwrap();
        let back = ClientConfig::load(&path).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.env(None).unwrap().unwrap().0, "local");
        let e = back.env(Some("testnet")).unwrap_err().to_string();
        assert!(e.contains("testnet") && e.contains("configured: local"), "{e}");
    }

    #[test]
    fn the_sui_client_yaml_gives_the_keystore_and_active_address() {
        let dir = tempfile::tempdir().unwrap();
        let key = Key::generate();
        let keystore = dir.path().join("sui.keystore");
        Keystore::new(vec![Key::generate(), key.clone()]).save(&keystore).unwrap();
        let yaml = format!(
            "---\nkeystore:\n  File: {}\nexternal_keys: ~\nenvs:\n  - alias: testnet\n    rpc: \"https://fullnode.testnet.sui.io:443\"\n    ws: ~\n    basic_auth: ~\nactive_env: testnet\nactive_address: \"{}\"\n",
            keystore.display(),
            key.address()
        );
        std::fs::write(dir.path().join("client.yaml"), yaml).unwrap();
        let sui = SuiClientConfig::load(dir.path()).unwrap().unwrap();
        assert_eq!(sui.active_address, Some(key.address()));
        assert_eq!(sui.keystore_path(dir.path()), keystore);
        assert_eq!(sui.envs[0].alias, "testnet");
        assert!(SuiClientConfig::load(&dir.path().join("none")).unwrap().is_none());
    }

    #[test]
    fn an_alias_names_the_key_whose_public_key_it_records() {
        use base64::Engine;
        let dir = tempfile::tempdir().unwrap();
        let key = Key::generate();
        let keystore = dir.path().join("sui.keystore");
        let mut flagged = vec![0u8];
        flagged.extend(key.public_key());
        let b64 = base64::engine::general_purpose::STANDARD.encode(flagged);
        std::fs::write(
            dir.path().join("sui.aliases"),
            format!(r#"[{{"alias": "operator", "public_key_base64": "{b64}"}}]"#),
        )
        .unwrap();
        assert_eq!(alias_address(&keystore, "operator").unwrap(), Some(key.address()));
        assert_eq!(alias_address(&keystore, "other").unwrap(), None);
    }
}
