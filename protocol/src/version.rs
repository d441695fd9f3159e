//! The package version the shared objects were last migrated to (Move:
//! module `version`; docs/deploy.md, "Upgrading").
//!
//! The `Network` and every `HardwareClass` carry the version of the package
//! that may use them. Every operation that takes one of them fails with
//! `WrongVersion` unless it equals the version of the package called
//! (`State::package_version`, this crate's `PACKAGE_VERSION` unless a test
//! models another package). After an upgrade the admin migrates the network,
//! then each class, through the new package. Requests carry no version:
//! every call that settles a request or moves stake takes its class.

use crate::error::{ProtocolError, Result};

/// The version of the package this crate mirrors (Move: `version::VERSION`).
pub const PACKAGE_VERSION: u64 = 1;

/// Fails unless an object of `object_version` may be used by package `package`.
pub fn check(object_version: u64, package: u64) -> Result<()> {
    if object_version == package { Ok(()) } else { Err(ProtocolError::WrongVersion) }
}

/// Fails unless an object of `object_version` may be migrated to package `package`.
pub fn check_migration(object_version: u64, package: u64) -> Result<()> {
    if object_version < package { Ok(()) } else { Err(ProtocolError::WrongVersion) }
}
