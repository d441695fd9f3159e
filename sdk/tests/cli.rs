//! The `atoma` CLI's offline commands.

use std::process::Command;

#[test]
fn security_states_the_smallest_class_for_each_mode() {
    let out = Command::new(env!("CARGO_BIN_EXE_atoma"))
        .args(["security", "--n", "2", "--pool-factor", "3", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // 3n + 1, 3n + 4 and (f + 2) n + 4 with n = 2 and f = 3.
    assert_eq!(report["min_class"]["sampling"], 7);
    assert_eq!(report["min_class"]["cross_validation"], 10);
    assert_eq!(report["min_class"]["sealed"], 14);
    let text = Command::new(env!("CARGO_BIN_EXE_atoma")).args(["security", "--n", "2"]).output().unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("NoDisputeQuorum"));
}

#[test]
fn the_version_names_the_command() {
    let out = Command::new(env!("CARGO_BIN_EXE_atoma")).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("atoma "), "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn keygen_creates_a_missing_keystore_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new/dir/sui.keystore");
    let out = Command::new(env!("CARGO_BIN_EXE_atoma")).args(["keygen", "--keystore"]).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let address = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let store = atoma_sdk::keys::Keystore::load(&path).unwrap();
    assert_eq!(store.keys().len(), 1);
    assert_eq!(store.keys()[0].address().to_string(), address);
}
