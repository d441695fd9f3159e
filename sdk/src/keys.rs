//! Keys: the Sui CLI's keystore (`sui.keystore`, a JSON array of base64
//! `flag || private key`) and `suiprivkey` Bech32 strings, for Ed25519,
//! Secp256k1 and Secp256r1 keys. Parsing and encoding are sui-crypto's;
//! this module adds files, lookup by address and errors that name the
//! problem. A key's `Debug` shows its address and scheme, never the secret.
//!
//! Not for: deciding what to sign (see `chain`).

use std::fmt;
use std::path::Path;

use sui_crypto::simple::SimpleKeypair;
use sui_crypto::{SuiSigner, Verifier};
use sui_sdk_types::{Address, MultisigMemberPublicKey, PersonalMessage, SimpleSignature, Transaction, UserSignature};

use crate::error::{Result, SdkError};

/// A private key and its address.
#[derive(Clone)]
pub struct Key {
    keypair: SimpleKeypair,
    address: Address,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({}, {:?})", self.address, self.keypair.scheme())
    }
}

impl Key {
    fn new(keypair: SimpleKeypair) -> Key {
        let address = keypair.verifying_key().derive_address();
        Key { keypair, address }
    }

    /// A new random Ed25519 key.
    pub fn generate() -> Key {
        Key::new(sui_crypto::ed25519::Ed25519PrivateKey::new(rand::random()).into())
    }

    /// An Ed25519 key from its 32 secret bytes (for tests and tools).
    pub fn from_ed25519_bytes(secret: [u8; 32]) -> Key {
        Key::new(sui_crypto::ed25519::Ed25519PrivateKey::new(secret).into())
    }

    /// Reads a `suiprivkey1…` Bech32 string (as `sui keytool export` prints it).
    pub fn from_suiprivkey(s: &str) -> Result<Key> {
        SimpleKeypair::from_suiprivkey(s.trim())
            .map(Key::new)
            .map_err(|e| SdkError::key("not a valid suiprivkey string").because(e))
    }

    /// Reads a base64 `flag || private key` string (an entry of `sui.keystore`).
    pub fn from_base64(s: &str) -> Result<Key> {
        SimpleKeypair::from_base64(s.trim())
            .map(Key::new)
            .map_err(|e| SdkError::key("not a valid keystore entry").because(e))
    }

    /// The key as a `suiprivkey1…` string. This is the secret: never log it.
    pub fn to_suiprivkey(&self) -> Result<String> {
        self.keypair.to_suiprivkey().map_err(|e| SdkError::key(e.to_string()))
    }

    /// The key as a keystore entry. This is the secret: never log it.
    pub fn to_base64(&self) -> String {
        self.keypair.to_base64()
    }

    /// The Sui address of the key.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The raw public key (32 bytes for Ed25519, 33 for the Secp256 curves).
    pub fn public_key(&self) -> Vec<u8> {
        match self.keypair.public_key() {
            MultisigMemberPublicKey::Ed25519(k) => k.as_bytes().to_vec(),
            MultisigMemberPublicKey::Secp256k1(k) => k.as_bytes().to_vec(),
            MultisigMemberPublicKey::Secp256r1(k) => k.as_bytes().to_vec(),
            _ => Vec::new(),
        }
    }

    /// Signs a transaction.
    pub fn sign_transaction(&self, tx: &Transaction) -> Result<UserSignature> {
        self.keypair.sign_transaction(tx).map_err(|e| SdkError::key("signing a transaction").because(e))
    }

    /// Signs a personal message (Sui's intent-prefixed message signing).
    pub fn sign_message(&self, message: &[u8]) -> Result<UserSignature> {
        self.keypair
            .sign_personal_message(&PersonalMessage(message.into()))
            .map_err(|e| SdkError::key("signing a message").because(e))
    }
}

/// Checks a personal-message signature and returns the signer's address.
pub fn verify_message(message: &[u8], signature: &UserSignature) -> Result<Address> {
    let UserSignature::Simple(simple) = signature else {
        return Err(SdkError::Verification("only Ed25519, Secp256k1 and Secp256r1 signatures are accepted".into()));
    };
    let signer = match simple {
        SimpleSignature::Ed25519 { public_key, .. } => public_key.derive_address(),
        SimpleSignature::Secp256k1 { public_key, .. } => public_key.derive_address(),
        SimpleSignature::Secp256r1 { public_key, .. } => public_key.derive_address(),
        _ => return Err(SdkError::Verification("unknown signature scheme".into())),
    };
    sui_crypto::simple::SimpleVerifier
        .verify(&PersonalMessage(message.into()).signing_digest(), signature)
        .map_err(|e| SdkError::Verification(format!("signature does not verify: {e}")))?;
    Ok(signer)
}

/// The keys of a Sui CLI keystore file.
#[derive(Clone, Debug, Default)]
pub struct Keystore {
    keys: Vec<Key>,
}

impl Keystore {
    /// Reads a keystore file.
    pub fn load(path: &Path) -> Result<Keystore> {
        warn_if_shared(path);
        let text = std::fs::read_to_string(path)
            .map_err(|e| SdkError::key(format!("reading keystore {}", path.display())).because(e))?;
        Keystore::parse(&text).map_err(|e| SdkError::key(format!("keystore {}", path.display())).because(e))
    }

    /// Parses a keystore's text.
    pub fn parse(text: &str) -> Result<Keystore> {
        let entries: Vec<String> = serde_json::from_str(text)
            .map_err(|e| SdkError::key("a keystore is a JSON array of base64 strings").because(e))?;
        let keys = entries
            .iter()
            .enumerate()
            .map(|(i, e)| Key::from_base64(e).map_err(|err| SdkError::key(format!("entry {i}")).because(err)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Keystore { keys })
    }

    /// A keystore holding `keys`.
    pub fn new(keys: Vec<Key>) -> Keystore {
        Keystore { keys }
    }

    /// Writes the keystore (creating or replacing the file, readable by its
    /// owner only, and its directory if missing).
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                SdkError::key(format!("creating the keystore's directory {}", dir.display())).because(e)
            })?;
        }
        let entries: Vec<String> = self.keys.iter().map(Key::to_base64).collect();
        let text = serde_json::to_string_pretty(&entries).map_err(|e| SdkError::key(e.to_string()))?;
        write_private(path, &text).map_err(|e| SdkError::key(format!("writing keystore {}", path.display())).because(e))
    }

    /// The keys, in file order.
    pub fn keys(&self) -> &[Key] {
        &self.keys
    }

    /// The key of `address`.
    pub fn get(&self, address: &Address) -> Option<&Key> {
        self.keys.iter().find(|k| k.address == *address)
    }

    /// Adds a key.
    pub fn push(&mut self, key: Key) {
        self.keys.push(key);
    }
}

/// Warns when a keystore can be read by other users than its owner.
#[cfg(unix)]
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            "keystore {} can be read by other users (mode {:o}): run `chmod 600 {}`",
            path.display(),
            meta.permissions().mode() & 0o777,
            path.display()
        );
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &Path) {}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    use std::os::unix::fs::PermissionsExt;
    let mut f = std::fs::OpenOptions::new().create(true).truncate(true).write(true).mode(0o600).open(path)?;
    // An existing file keeps its mode when opened: set it.
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// Reads a key given as a `suiprivkey1…` string, a keystore entry, or
/// `KEYSTORE_PATH[#ADDRESS]` (the first key when no address is given).
pub fn load_key(spec: &str) -> Result<Key> {
    let spec = spec.trim();
    if spec.starts_with("suiprivkey") {
        return Key::from_suiprivkey(spec);
    }
    let (path, address) = match spec.rsplit_once('#') {
        Some((p, a)) => (p, Some(a)),
        None => (spec, None),
    };
    if Path::new(path).exists() {
        let store = Keystore::load(Path::new(path))?;
        return match address {
            None => {
                let first =
                    store.keys.first().cloned().ok_or_else(|| SdkError::key(format!("keystore {path} is empty")))?;
                if store.keys.len() > 1 {
                    tracing::warn!(
                        keystore = path,
                        keys = store.keys.len(),
                        using = %first.address(),
                        "the keystore holds several keys and none was named: using the first (name one with PATH#ADDRESS)"
                    );
                }
                Ok(first)
            }
            Some(a) => {
                let a: Address = a.parse().map_err(|e| SdkError::key(format!("{a:?} is not an address")).because(e))?;
                store.get(&a).cloned().ok_or_else(|| SdkError::key(format!("keystore {path} has no key for {a}")))
            }
        };
    }
    Key::from_base64(spec).map_err(|_| {
        SdkError::key(format!(
            "{spec:?} is neither a suiprivkey string, a keystore entry, nor an existing keystore file"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_secret() {
        let key = Key::from_ed25519_bytes([7; 32]);
        let shown = format!("{key:?}");
        assert!(shown.contains(&key.address().to_string()));
        assert!(!shown.contains(&key.to_base64()));
        assert!(!shown.contains(&key.to_suiprivkey().unwrap()));
    }

    #[test]
    fn messages_verify_to_their_signer() {
        let key = Key::from_ed25519_bytes([3; 32]);
        let sig = key.sign_message(b"request").unwrap();
        assert_eq!(verify_message(b"request", &sig).unwrap(), key.address());
        assert!(verify_message(b"another", &sig).is_err());
    }
}
