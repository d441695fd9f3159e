//! Keystore and suiprivkey parsing: a published vector, agreement between
//! the formats, and clear errors for malformed keys.

use atoma_sdk::keys::{Key, Keystore, load_key};

/// The Sui repository's test vector: an Ed25519 key from `StdRng::from_seed([0; 32])`.
const UPSTREAM: &str = "suiprivkey1qzdlfxn2qa2lj5uprl8pyhexs02sg2wrhdy7qaq50cqgnffw4c2477kg9h3";

#[test]
fn the_published_suiprivkey_round_trips_through_every_format() {
    let key = Key::from_suiprivkey(UPSTREAM).unwrap();
    assert_eq!(key.to_suiprivkey().unwrap(), UPSTREAM);
    let entry = key.to_base64();
    let again = Key::from_base64(&entry).unwrap();
    assert_eq!(again.address(), key.address());
    // A keystore entry is flag 0x00 (Ed25519) followed by the 32-byte key.
    use base64::Engine;
    let raw = base64::engine::general_purpose::STANDARD.decode(&entry).unwrap();
    assert_eq!((raw.len(), raw[0]), (33, 0));
}

#[test]
fn a_keystore_file_is_read_and_looked_up_by_address() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sui.keystore");
    let keys = [Key::from_ed25519_bytes([1; 32]), Key::from_suiprivkey(UPSTREAM).unwrap()];
    Keystore::new(keys.to_vec()).save(&path).unwrap();
    let store = Keystore::load(&path).unwrap();
    assert_eq!(store.keys().len(), 2);
    assert!(store.get(&keys[1].address()).is_some());
    let spec = format!("{}#{}", path.display(), keys[1].address());
    assert_eq!(load_key(&spec).unwrap().address(), keys[1].address());
    assert_eq!(load_key(path.to_str().unwrap()).unwrap().address(), keys[0].address());
    assert_eq!(load_key(UPSTREAM).unwrap().address(), keys[1].address());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[test]
fn malformed_keys_and_keystores_say_what_is_wrong() {
    assert!(Key::from_suiprivkey("suiprivkey1qqqq").unwrap_err().to_string().contains("suiprivkey"));
    assert!(Key::from_base64("not base64!").is_err());
    let err = Keystore::parse("{\"not\": \"an array\"}").unwrap_err().to_string();
    assert!(err.contains("JSON array"), "{err}");
    let err = Keystore::parse("[\"AAAA\"]").unwrap_err().to_string();
    assert!(err.contains("entry 0"), "{err}");
    let err = load_key("/no/such/file#0x1").unwrap_err().to_string();
    assert!(err.contains("neither"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    Keystore::new(vec![Key::from_ed25519_bytes([2; 32])]).save(&path).unwrap();
    let err = load_key(&format!("{}#0x1234", path.display())).unwrap_err().to_string();
    assert!(err.contains("has no key for"), "{err}");
}
