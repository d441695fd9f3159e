//! Admin operations, authorized by the `AdminCap` (Move module `network`).

use std::collections::BTreeMap;

use super::{Ctx, Outcome, State};
use crate::error::{ProtocolError, Result, add};
use crate::events::{
    HardwareClassAdded, Migrated, ModelAdded, NetworkCreated, ParamsUpdated, RevenueSwept, TreasuryWithdrawn,
};
use crate::params::{MAX_DURATION_MS, MAX_NAME_LEN, MAX_PROFILE_LEN, Params};
use crate::state::{AdminCap, HardwareClass, Model, Network};
use crate::types::{Digest, ObjectId};
use crate::version;

/// A model id or class name: 1 to 128 bytes.
pub(super) fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || name.len() > MAX_NAME_LEN { Err(ProtocolError::InvalidName) } else { Ok(()) }
}

impl State {
    /// Checks the cap and that this package may use the `Network`.
    fn check_admin(&self, cap: &AdminCap) -> Result<()> {
        self.network.check_network(&cap.network_id)?;
        self.network_current()
    }

    /// After a package upgrade (`package_version` above the network's),
    /// moves the `Network` to this package's version: the old package's
    /// operations fail on it from now on.
    ///
    /// Errors: `WrongNetwork`, `WrongVersion` (already at this version or newer).
    pub fn migrate(&mut self, cap: &AdminCap) -> Result<Outcome> {
        self.network.check_network(&cap.network_id)?;
        version::check_migration(self.network.version, self.package_version)?;
        self.network.version = self.package_version;
        let mut out = Outcome::default();
        out.emit(Migrated { object_id: self.network.id, version: self.network.version });
        Ok(out)
    }

    /// After `migrate`, moves a class to this package's version.
    ///
    /// Errors: `WrongNetwork`, `WrongVersion` (the network not migrated yet,
    /// or the class already at this version or newer), `UnknownClass`.
    pub fn migrate_class(&mut self, cap: &AdminCap, class: &ObjectId) -> Result<Outcome> {
        self.check_admin(cap)?;
        let c = self.class_checked(class)?;
        version::check_migration(c.version, self.package_version)?;
        let package_version = self.package_version;
        let c = self.class_mut(class);
        c.version = package_version;
        let mut out = Outcome::default();
        out.emit(Migrated { object_id: c.id, version: c.version });
        Ok(out)
    }

    /// Creates a network with `params` and its admin capability
    /// (Move: the package's `init`, which uses `Params::default()`).
    pub fn create_network(
        network_id: ObjectId,
        admin_cap_id: ObjectId,
        params: Params,
    ) -> Result<(State, AdminCap, Outcome)> {
        params.validate()?;
        let network = Network {
            id: network_id,
            version: version::PACKAGE_VERSION,
            params,
            classes: BTreeMap::new(),
            next_class_id: 0,
            models: BTreeMap::new(),
            treasury: 0,
        };
        let mut out = Outcome::default();
        out.emit(NetworkCreated { network_id, admin_cap_id, params });
        let cap = AdminCap { id: admin_cap_id, network_id };
        let state = State {
            network,
            classes: BTreeMap::new(),
            requests: BTreeMap::new(),
            package_version: version::PACKAGE_VERSION,
        };
        Ok((state, cap, out))
    }

    /// Adds a hardware class with the determinism profile its nodes must
    /// run with, as a new shared object `object_id`, and returns its class id
    /// (ids count up from 0).
    ///
    /// Errors: `WrongNetwork`, `WrongVersion`, `InvalidName`, `InvalidProfile` (empty or over
    /// 256 bytes), `InvalidTaskLock` (zero, or above the minimum collateral).
    pub fn add_hardware_class(
        &mut self,
        cap: &AdminCap,
        object_id: ObjectId,
        name: &str,
        profile: &str,
        min_collateral: u64,
        task_lock: u64,
    ) -> Result<(u64, Outcome)> {
        self.check_admin(cap)?;
        check_name(name)?;
        if profile.is_empty() || profile.len() > MAX_PROFILE_LEN {
            return Err(ProtocolError::InvalidProfile);
        }
        if task_lock == 0 || task_lock > min_collateral {
            return Err(ProtocolError::InvalidTaskLock);
        }
        let class_id = self.network.next_class_id;
        self.network.next_class_id += 1;
        self.network.classes.insert(class_id, object_id);
        let class = HardwareClass::new(
            object_id,
            self.package_version,
            self.network.id,
            class_id,
            name,
            profile,
            min_collateral,
            task_lock,
        );
        self.classes.insert(object_id, class);
        let mut out = Outcome::default();
        out.emit(HardwareClassAdded {
            class_id,
            object_id,
            name: name.to_string(),
            profile: profile.to_string(),
            min_collateral,
            task_lock,
        });
        Ok((class_id, out))
    }

    /// Adds a model that runs on the class `class`, with the digest of its
    /// weight file and its run-time bound on the class (`max_run_ms`: the
    /// longest an honest node of the class takes to run it on any input),
    /// which every commit timeout of its requests covers. The class keeps the
    /// longest bound of its models.
    ///
    /// Errors: `WrongNetwork`, `WrongVersion`, `InvalidName`, `InvalidDigest`,
    /// `InvalidRunTime` (0 or above 365 days), then the class's
    /// `UnknownClass`, `WrongNetwork`, `WrongVersion`; `ModelExists`.
    pub fn add_model(
        &mut self,
        cap: &AdminCap,
        class: &ObjectId,
        model_id: &str,
        weight_digest: &[u8],
        max_run_ms: u64,
    ) -> Result<Outcome> {
        self.check_admin(cap)?;
        check_name(model_id)?;
        let weight_digest = Digest::from_slice(weight_digest).ok_or(ProtocolError::InvalidDigest)?;
        if !(1..=MAX_DURATION_MS).contains(&max_run_ms) {
            return Err(ProtocolError::InvalidRunTime);
        }
        let class_id = self.class_current(class)?.class_id;
        if self.network.models.contains_key(model_id) {
            return Err(ProtocolError::ModelExists);
        }
        self.network.models.insert(model_id.to_string(), Model { weight_digest, class_id, max_run_ms });
        let c = self.class_mut(class);
        c.longest_run_ms = c.longest_run_ms.max(max_run_ms);
        let mut out = Outcome::default();
        out.emit(ModelAdded { model_id: model_id.to_string(), weight_digest, class_id, max_run_ms });
        Ok(out)
    }

    /// Replaces the parameters; requests in flight keep their stakes and timeout.
    ///
    /// Errors: `WrongNetwork`, `WrongVersion`, `InvalidParams`.
    pub fn set_params(&mut self, cap: &AdminCap, params: Params) -> Result<Outcome> {
        self.check_admin(cap)?;
        params.validate()?;
        self.network.params = params;
        let mut out = Outcome::default();
        out.emit(ParamsUpdated { params });
        Ok(out)
    }

    /// Moves the revenue a class has accrued (its share of slashes and
    /// rounding remainders) to the network's treasury.
    ///
    /// Errors: `WrongNetwork`, `WrongVersion`, `UnknownClass`.
    pub fn sweep_revenue(&mut self, cap: &AdminCap, class: &ObjectId) -> Result<Outcome> {
        self.check_admin(cap)?;
        let amount = self.class_current(class)?.revenue;
        let treasury = add(self.network.treasury, amount)?;
        let c = self.class_mut(class);
        let class_id = c.class_id;
        c.revenue = 0;
        self.network.treasury = treasury;
        let mut out = Outcome::default();
        out.emit(RevenueSwept { class_id, amount });
        Ok(out)
    }

    /// Pays `amount` of the treasury to the sender.
    ///
    /// Errors: `WrongNetwork`, `WrongVersion`, `InsufficientTreasury`.
    pub fn withdraw_treasury(&mut self, ctx: &Ctx, cap: &AdminCap, amount: u64) -> Result<Outcome> {
        self.check_admin(cap)?;
        if amount > self.network.treasury {
            return Err(ProtocolError::InsufficientTreasury);
        }
        self.network.treasury -= amount;
        let mut out = Outcome::default();
        out.pay(ctx.sender, amount);
        out.emit(TreasuryWithdrawn { amount, recipient: ctx.sender });
        Ok(out)
    }
}
