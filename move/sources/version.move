/// The package version the shared objects were last migrated to, so that a
/// package upgrade can retire the code it replaces (docs/deploy.md,
/// "Upgrading"; Rust: `atoma_protocol::version`).
///
/// The `Network` and every `HardwareClass` carry the version of the package
/// that may use them. Every entry function that takes one of them aborts
/// with `EWrongVersion` unless it equals this package's `VERSION`. After an
/// upgrade the admin calls the new package's `network::migrate` and then
/// `network::migrate_class` for each class: from then on the old package's
/// functions abort on them, and the new package's run. Requests need no
/// migration: every call that can settle a request or move stake takes the
/// request's class; the only calls without it (`commit`, `commit_primary`,
/// `open_dispute`) change the request alone.
module atoma::version;

// === Errors ===

/// The object belongs to another package version than the one called.
#[error(code = 43)]
const EWrongVersion: vector<u8> = b"object and package versions differ: call the current package, or migrate the object";

// === Constants ===

/// This package's version: 1 at publication, one more with each upgrade.
const VERSION: u64 = 1;

// === Package functions ===

/// This package's version.
public(package) fun current(): u64 { VERSION }

/// Aborts unless an object of version `object_version` may be used by this package.
public(package) fun check(object_version: u64) {
    assert!(object_version == VERSION, EWrongVersion);
}

/// Aborts unless an object of version `object_version` may be migrated to this package.
public(package) fun check_migration(object_version: u64) {
    assert!(object_version < VERSION, EWrongVersion);
}
