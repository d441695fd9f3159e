//! Transactions to the package over Sui's gRPC API: building the
//! programmable transaction of one Move call, choosing and locking gas coins,
//! signing, executing, and reading the outcome (events, or the protocol
//! error of a Move abort).
//!
//! No equivocation: every owned object a transaction uses (its gas coins,
//! a `NodeCap` or `AdminCap`) is locked until the transaction's outcome is
//! known, and a transaction is signed once. When the node does not answer,
//! the same signed bytes are sent again; if the outcome stays unknown, the
//! transaction stays attached to its objects and is sent again (or found
//! executed) before those objects are used for anything else. Shared
//! objects (`Network`, `Request`, Clock, Random) need no lock.
//!
//! Inputs are resolved here with `GetObject` (owned objects by their current
//! reference, shared objects by their initial shared version) and the
//! transaction is built offline (`TransactionBuilder::try_build`), which
//! works on any Sui full node.
//!
//! Not for: which call to make (see `calls`), or reading state (see `registry`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atoma_protocol::Event;
use prost_types::FieldMask;
use sui_rpc::field::FieldMaskUtil;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::{
    Address, Digest, ExecutionError, ExecutionStatus, Identifier, ObjectReference, StructTag, Transaction,
    TransactionEffects, UserSignature,
};
use sui_transaction_builder::{Argument, Function, ObjectInput, TransactionBuilder};
use tokio::sync::OwnedMutexGuard;

use crate::error::{Result, SdkError};
use crate::keys::Key;

/// The Clock's id.
pub const CLOCK: Address = Address::from_static("0x6");
/// The Random object's id.
pub const RANDOM: Address = Address::from_static("0x8");
/// Default gas budget of one call (MIST).
pub const DEFAULT_GAS_BUDGET: u64 = 50_000_000;
/// Attempts to send one signed transaction when the node does not answer.
const SEND_ATTEMPTS: u32 = 5;
/// How long a transaction waits for gas coins that other transactions in flight hold.
const GAS_WAIT: Duration = Duration::from_secs(60);

/// Where the package lives and which network object it acts on.
#[derive(Clone, Debug)]
pub struct Identity {
    /// The `atoma` package's address that calls go to: the latest version
    /// after an upgrade.
    pub package: Address,
    /// The package that defined the types (the first publication's id):
    /// objects and events keep its types across upgrades (docs/deploy.md).
    pub type_origin: Address,
    /// The shared `Network` object.
    pub network: Address,
    /// The `Network`'s initial shared version.
    pub network_initial_version: u64,
    /// Random's initial shared version (it differs per network).
    pub random_initial_version: u64,
}

/// One argument of a Move call.
#[derive(Clone, Debug)]
pub enum Arg {
    /// A pure value, BCS-encoded.
    Pure(Vec<u8>),
    /// The shared `Network`, mutably (admin calls only).
    Network,
    /// The shared `Network`, read only.
    NetworkRef,
    /// A shared `HardwareClass` object, mutably.
    Class(Address),
    /// A shared `Request`, mutably.
    Request(Address),
    /// An object the sender owns (a `NodeCap` or `AdminCap`), locked for the call.
    Owned(Address),
    /// The Clock, immutably.
    Clock,
    /// Random, immutably.
    Random,
    /// A `Coin<SUI>` of this many MIST, split off the gas coin.
    Payment(u64),
}

impl Arg {
    /// A pure argument from any serializable value.
    pub fn pure<T: serde::Serialize>(value: &T) -> Arg {
        // BCS of the primitive values used in calls cannot fail.
        Arg::Pure(bcs::to_bytes(value).expect("BCS of a pure argument"))
    }
}

/// A Move call of the package.
#[derive(Clone, Debug)]
pub struct Call {
    /// The module.
    pub module: &'static str,
    /// The function.
    pub function: &'static str,
    /// The arguments (the `TxContext` is implicit).
    pub args: Vec<Arg>,
}

/// What an executed transaction did.
#[derive(Clone, Debug)]
pub struct Executed {
    /// The transaction's digest.
    pub digest: Digest,
    /// The package's events, in order.
    pub events: Vec<Event>,
    /// The effects.
    pub effects: TransactionEffects,
    /// Ids of the objects created.
    pub created: Vec<Address>,
}

/// A signed transaction, ready to be sent (and sent again, unchanged). Its
/// BCS form is what a journal stores.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Signed {
    /// The transaction.
    pub transaction: Transaction,
    /// Its signature.
    pub signature: UserSignature,
}

impl Signed {
    /// The transaction's digest.
    pub fn digest(&self) -> Digest {
        self.transaction.digest()
    }
}

#[derive(Default)]
struct Cache {
    /// Current references of owned objects, learnt from effects.
    refs: HashMap<Address, ObjectReference>,
    /// Initial shared versions of shared objects.
    shared: HashMap<Address, u64>,
    /// A transaction whose outcome is unknown, by each owned object it uses.
    pending: HashMap<Address, Signed>,
    /// Gas coins with their balances (refreshed from the node when short).
    coins: BTreeMap<Address, u64>,
}

/// A signer's connection to the package.
#[derive(Clone)]
pub struct Chain {
    rpc: sui_rpc::Client,
    identity: Identity,
    key: Key,
    gas_price: u64,
    gas_budget: u64,
    cache: Arc<Mutex<Cache>>,
    locks: Arc<Mutex<HashMap<Address, Arc<tokio::sync::Mutex<()>>>>>,
    /// Class objects by class id (a class's object never changes).
    pub(crate) class_objects: Arc<Mutex<HashMap<u64, Address>>>,
    /// The class of requests called on lately (a request's class never
    /// changes; emptied when it reaches `REQUEST_CLASSES_KEPT`).
    pub(crate) request_classes: Arc<Mutex<HashMap<Address, u64>>>,
}

/// How many requests' classes `Chain` remembers before it starts afresh.
pub(crate) const REQUEST_CLASSES_KEPT: usize = 4_096;

fn mask(paths: &[&str]) -> FieldMask {
    FieldMask::from_paths(paths.iter().copied())
}

impl Chain {
    /// Connects to a node at `url` for the package's `network` object, signing with `key`.
    /// Checks that the network object exists and belongs to `package`.
    pub async fn connect(url: &str, package: Address, network: Address, key: Key) -> Result<Chain> {
        let rpc =
            sui_rpc::Client::new(url).map_err(|e| SdkError::InvalidArgument(format!("bad node URL {url:?}: {e}")))?;
        let mut chain = Chain {
            rpc,
            identity: Identity {
                package,
                type_origin: package,
                network,
                network_initial_version: 0,
                random_initial_version: 0,
            },
            key,
            gas_price: 0,
            gas_budget: DEFAULT_GAS_BUDGET,
            cache: Arc::default(),
            locks: Arc::default(),
            class_objects: Arc::default(),
            request_classes: Arc::default(),
        };
        let net = chain.get_object(network, &["object_type", "owner"]).await.map_err(|e| match e {
            SdkError::Rpc { status, .. } if status.code() == tonic::Code::NotFound => {
                SdkError::InvalidArgument(format!("network object {network} does not exist on {url}"))
            }
            SdkError::Rpc { status, .. }
                if matches!(status.code(), tonic::Code::Unavailable | tonic::Code::Unknown) =>
            {
                SdkError::InvalidArgument(format!(
                    "cannot reach a Sui node at {url}: {}",
                    crate::error::describe(&status)
                ))
            }
            other => other,
        })?;
        let tag: StructTag = net
            .object_type
            .as_deref()
            .unwrap_or_default()
            .parse()
            .map_err(|_| SdkError::Decode(format!("object {network} has no readable type")))?;
        if tag.module().as_str() != "network" || tag.name().as_str() != "Network" {
            return Err(SdkError::InvalidArgument(format!("object {network} is a {tag}, not an atoma Network")));
        }
        // After an upgrade, `package` is the new version and the types keep
        // the first one's id: the package's type origins must say so.
        if tag.address() != &package && !chain.upgrades(&package, tag.address()).await {
            return Err(SdkError::InvalidArgument(format!(
                "object {network} is the Network of package {}, not the Network of package {package} \
                 (after an upgrade, the new package's type origins name the first one)",
                tag.address()
            )));
        }
        chain.identity.type_origin = *tag.address();
        chain.identity.network_initial_version = initial_shared_version(&net, network)?;
        let random = chain.get_object(RANDOM, &["owner"]).await?;
        chain.identity.random_initial_version = initial_shared_version(&random, RANDOM)?;
        chain.gas_price = chain
            .rpc
            .get_reference_gas_price()
            .await
            .map_err(|e| SdkError::rpc("reading the reference gas price", e))?;
        if chain.gas_price == 0 {
            return Err(SdkError::Decode(format!("the node at {url} reports a reference gas price of 0")));
        }
        Ok(chain)
    }

    /// Whether `package` is an upgrade of `origin`: its type origins say
    /// that `network::Network` was defined by `origin`.
    async fn upgrades(&self, package: &Address, origin: &Address) -> bool {
        let Ok(o) = self.get_object(*package, &["package"]).await else { return false };
        o.package.is_some_and(|p| {
            p.type_origins.iter().any(|t| {
                t.module_name.as_deref() == Some("network")
                    && t.datatype_name.as_deref() == Some("Network")
                    && t.package_id.as_deref().and_then(|a| a.parse::<Address>().ok()).as_ref() == Some(origin)
            })
        })
    }

    /// Sets the gas budget of each call (MIST).
    pub fn with_gas_budget(mut self, budget: u64) -> Self {
        self.gas_budget = budget;
        self
    }

    /// The package and network this connection acts on.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// The signer's address.
    pub fn sender(&self) -> Address {
        self.key.address()
    }

    /// The signer's key.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The gRPC client (for reads).
    pub fn rpc(&self) -> sui_rpc::Client {
        self.rpc.clone()
    }

    /// Reads an object with `GetObject` and the given read mask.
    pub async fn get_object(&self, id: Address, paths: &[&str]) -> Result<proto::Object> {
        let mut req = proto::GetObjectRequest::default();
        req.object_id = Some(id.to_string());
        req.read_mask = Some(mask(paths));
        let response = self
            .rpc
            .clone()
            .ledger_client()
            .get_object(req)
            .await
            .map_err(|e| SdkError::rpc(format!("reading object {id}"), e))?;
        response.into_inner().object.ok_or_else(|| SdkError::Decode(format!("object {id} came back empty")))
    }

    /// The node's latest checkpoint.
    pub async fn checkpoint_height(&self) -> Result<u64> {
        checkpoint_height(&mut self.rpc.clone()).await
    }

    /// The sender's SUI balance (MIST).
    pub async fn balance(&self) -> Result<u64> {
        self.balance_of(self.sender()).await
    }

    /// An address's SUI balance (MIST).
    pub async fn balance_of(&self, owner: Address) -> Result<u64> {
        let mut req = proto::GetBalanceRequest::default();
        req.owner = Some(owner.to_string());
        req.coin_type = Some("0x2::sui::SUI".into());
        let b = self
            .rpc
            .clone()
            .state_client()
            .get_balance(req)
            .await
            .map_err(|e| SdkError::rpc("reading the balance", e))?;
        Ok(b.into_inner().balance.and_then(|b| b.balance).unwrap_or(0))
    }

    async fn lock(&self, ids: &mut [Address]) -> Vec<OwnedMutexGuard<()>> {
        ids.sort();
        let mut guards = Vec::with_capacity(ids.len());
        for id in ids.iter() {
            let m = {
                let mut locks = self.locks.lock().expect("lock table");
                locks.entry(*id).or_default().clone()
            };
            guards.push(m.lock_owned().await);
        }
        guards
    }

    async fn object_ref(&self, id: Address) -> Result<ObjectReference> {
        if let Some(r) = self.cache.lock().expect("cache").refs.get(&id) {
            return Ok(r.clone());
        }
        let o = self.get_object(id, &["object_id", "version", "digest", "owner"]).await?;
        let r = reference(&o)?;
        self.cache.lock().expect("cache").refs.insert(id, r.clone());
        Ok(r)
    }

    async fn shared_version(&self, id: Address) -> Result<u64> {
        if id == self.identity.network {
            return Ok(self.identity.network_initial_version);
        }
        if let Some(v) = self.cache.lock().expect("cache").shared.get(&id) {
            return Ok(*v);
        }
        let o = self.get_object(id, &["owner"]).await?;
        let v = initial_shared_version(&o, id)?;
        self.cache.lock().expect("cache").shared.insert(id, v);
        Ok(v)
    }

    /// Refreshes the list of the sender's coins from the node.
    async fn refresh_coins(&self) -> Result<()> {
        let mut coins = BTreeMap::new();
        let mut refs = Vec::new();
        let mut token = None;
        loop {
            let mut req = proto::ListOwnedObjectsRequest::default();
            req.owner = Some(self.sender().to_string());
            req.object_type = Some("0x2::coin::Coin<0x2::sui::SUI>".into());
            req.read_mask = Some(mask(&["object_id", "version", "digest", "balance"]));
            req.page_size = Some(1_000);
            req.page_token = token;
            let page = self
                .rpc
                .clone()
                .state_client()
                .list_owned_objects(req)
                .await
                .map_err(|e| SdkError::rpc("listing the sender's coins", e))?
                .into_inner();
            for o in &page.objects {
                let r = reference(o)?;
                coins.insert(*r.object_id(), o.balance.unwrap_or(0));
                refs.push(r);
            }
            token = page.next_page_token;
            if token.is_none() {
                break;
            }
        }
        let mut cache = self.cache.lock().expect("cache");
        cache.coins = coins;
        // A transaction in flight may have moved a coin on since the node
        // answered: keep the newer of the two references.
        for r in refs {
            match cache.refs.get(r.object_id()) {
                Some(known) if known.version() >= r.version() => {}
                _ => {
                    cache.refs.insert(*r.object_id(), r);
                }
            }
        }
        Ok(())
    }

    /// Picks gas coins holding at least `need` MIST that are not locked, and
    /// locks them. When the sender's coins would do but transactions in
    /// flight hold them, waits (at most `GAS_WAIT`) for them to be released.
    async fn take_gas(&self, need: u64) -> Result<(Vec<Address>, Vec<OwnedMutexGuard<()>>)> {
        let give_up = tokio::time::Instant::now() + GAS_WAIT;
        let held = || -> u128 { self.cache.lock().expect("cache").coins.values().map(|b| *b as u128).sum() };
        for retry in 0u32.. {
            if let Some(taken) = self.try_take_gas(need) {
                return Ok(taken);
            }
            if retry > 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            if retry == 0 || held() < need as u128 {
                self.refresh_coins().await?;
            }
            if held() < need as u128 || tokio::time::Instant::now() >= give_up {
                break; // short even counting the coins in use, or waited long enough
            }
        }
        let balance = self.balance().await?;
        Err(SdkError::InsufficientBalance(format!(
            "{} holds {balance} MIST; this call needs {need} (payment and gas budget) in coins not in use by other transactions",
            self.sender()
        )))
    }

    /// Locks the largest free coins until they cover `need`; `None` (and
    /// nothing locked) when the free coins fall short.
    fn try_take_gas(&self, need: u64) -> Option<(Vec<Address>, Vec<OwnedMutexGuard<()>>)> {
        let candidates: Vec<(Address, u64)> = {
            let cache = self.cache.lock().expect("cache");
            let mut c: Vec<(Address, u64)> = cache.coins.iter().map(|(a, b)| (*a, *b)).collect();
            c.sort_by_key(|(_, b)| std::cmp::Reverse(*b));
            c
        };
        let mut chosen = Vec::new();
        let mut guards = Vec::new();
        let mut total: u128 = 0;
        for (id, balance) in candidates {
            let m = {
                let mut locks = self.locks.lock().expect("lock table");
                locks.entry(id).or_default().clone()
            };
            // A coin in use by a transaction in flight is skipped, not waited for.
            let Ok(guard) = m.try_lock_owned() else { continue };
            chosen.push(id);
            guards.push(guard);
            total += balance as u128;
            if total >= need as u128 {
                return Some((chosen, guards));
            }
        }
        None
    }

    /// Builds, signs, executes one Move call and reads its outcome.
    pub async fn execute(&self, call: Call) -> Result<Executed> {
        self.execute_journaled(call, |_| Ok(())).await
    }

    /// As `execute`, handing the signed transaction to `journal` before it
    /// is sent, so that a caller that may crash can store it and send the
    /// same bytes again after a restart (`resend`) instead of signing
    /// another transaction over the same objects. An error from `journal`
    /// stops the call before anything is sent.
    pub async fn execute_journaled(&self, call: Call, journal: impl FnOnce(&Signed) -> Result<()>) -> Result<Executed> {
        let mut owned: Vec<Address> = call
            .args
            .iter()
            .filter_map(|a| match a {
                Arg::Owned(id) => Some(*id),
                _ => None,
            })
            .collect();
        let payment: u64 = call.args.iter().map(|a| if let Arg::Payment(p) = a { *p } else { 0 }).sum();
        let _owned_guards = self.lock(&mut owned).await;
        for id in &owned {
            self.settle_pending(*id).await?;
        }
        let need = payment
            .checked_add(self.gas_budget)
            .ok_or_else(|| SdkError::InvalidArgument("payment too large".into()))?;
        let (gas, _gas_guards) = self.take_gas(need).await?;
        for id in &gas {
            self.settle_pending(*id).await?;
        }
        let signed = self.sign(&call, &gas).await?;
        journal(&signed)?;
        let used: Vec<Address> = owned.iter().chain(&gas).copied().collect();
        self.send_and_read(signed, &used).await
    }

    /// Sends a transaction signed earlier (read back from a journal) again,
    /// with its owned objects locked, and reads its outcome. A transaction
    /// that executed before returns its first outcome.
    pub async fn resend(&self, signed: Signed) -> Result<Executed> {
        let mut used = objects_of(&signed.transaction);
        let _guards = self.lock(&mut used).await;
        self.send_and_read(signed, &used).await
    }

    /// Pays `amount` MIST to `to`, split off the sender's gas coins.
    pub async fn transfer_sui(&self, to: Address, amount: u64) -> Result<Executed> {
        let need =
            amount.checked_add(self.gas_budget).ok_or_else(|| SdkError::InvalidArgument("amount too large".into()))?;
        let (gas, _gas_guards) = self.take_gas(need).await?;
        for id in &gas {
            self.settle_pending(*id).await?;
        }
        let mut tx = self.builder(&gas).await?;
        let gas_coin = tx.gas();
        let amount = tx.pure(&amount);
        let coin = tx.split_coins(gas_coin, vec![amount]).remove(0);
        let to = tx.pure(&to);
        tx.transfer_objects(vec![coin], to);
        let signed = self.finish(tx)?;
        self.send_and_read(signed, &gas).await
    }

    /// A transaction builder with the sender, gas price, budget and gas coins set.
    async fn builder(&self, gas: &[Address]) -> Result<TransactionBuilder> {
        let mut tx = TransactionBuilder::new();
        tx.set_sender(self.sender());
        tx.set_gas_price(self.gas_price);
        tx.set_gas_budget(self.gas_budget);
        let mut gas_inputs = Vec::with_capacity(gas.len());
        for id in gas {
            let r = self.object_ref(*id).await?;
            gas_inputs.push(ObjectInput::owned(*r.object_id(), r.version(), *r.digest()));
        }
        tx.add_gas_objects(gas_inputs);
        Ok(tx)
    }

    fn finish(&self, tx: TransactionBuilder) -> Result<Signed> {
        let transaction =
            tx.try_build().map_err(|e| SdkError::InvalidArgument(format!("building the transaction: {e}")))?;
        let signature = self.key.sign_transaction(&transaction)?;
        Ok(Signed { transaction, signature })
    }

    async fn sign(&self, call: &Call, gas: &[Address]) -> Result<Signed> {
        let mut tx = self.builder(gas).await?;
        let mut args: Vec<Argument> = Vec::with_capacity(call.args.len());
        for arg in &call.args {
            args.push(match arg {
                Arg::Pure(bytes) => tx.pure_bytes(bytes.clone()),
                Arg::Network => {
                    tx.object(ObjectInput::shared(self.identity.network, self.identity.network_initial_version, true))
                }
                Arg::NetworkRef => {
                    tx.object(ObjectInput::shared(self.identity.network, self.identity.network_initial_version, false))
                }
                Arg::Class(id) | Arg::Request(id) => {
                    let v = self.shared_version(*id).await?;
                    tx.object(ObjectInput::shared(*id, v, true))
                }
                Arg::Owned(id) => {
                    let r = self.object_ref(*id).await?;
                    tx.object(ObjectInput::owned(*r.object_id(), r.version(), *r.digest()))
                }
                Arg::Clock => tx.object(ObjectInput::shared(CLOCK, 1, false)),
                Arg::Random => tx.object(ObjectInput::shared(RANDOM, self.identity.random_initial_version, false)),
                Arg::Payment(amount) => {
                    let gas = tx.gas();
                    let amount = tx.pure(amount);
                    tx.split_coins(gas, vec![amount]).remove(0)
                }
            });
        }
        let function = Function::new(
            self.identity.package,
            Identifier::new(call.module).map_err(|e| SdkError::InvalidArgument(e.to_string()))?,
            Identifier::new(call.function).map_err(|e| SdkError::InvalidArgument(e.to_string()))?,
        );
        tx.move_call(function, args);
        self.finish(tx)
    }

    /// Sends a transaction whose outcome was unknown again (or finds it
    /// executed) before `id` is used by anything else.
    async fn settle_pending(&self, id: Address) -> Result<()> {
        let pending = self.cache.lock().expect("cache").pending.get(&id).cloned();
        if let Some(signed) = pending {
            tracing::info!(digest = %signed.digest(), "sending a transaction of unknown outcome again");
            let used = objects_of(&signed.transaction);
            // Its outcome, whatever it is, settles the objects.
            match self.send_and_read(signed, &used).await {
                Ok(_)
                | Err(SdkError::Protocol { .. })
                | Err(SdkError::Congested { .. })
                | Err(SdkError::Execution { .. })
                | Err(SdkError::Rejected(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Sends the same signed bytes until the node answers, then updates the
    /// object cache from the effects.
    async fn send_and_read(&self, signed: Signed, used: &[Address]) -> Result<Executed> {
        let digest = signed.digest();
        let mut last_error = String::new();
        for attempt in 0..SEND_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 << attempt.min(4))).await;
            }
            let request = proto::ExecuteTransactionRequest::new(signed.transaction.clone().into())
                .with_signatures(vec![signed.signature.clone().into()])
                .with_read_mask(mask(&["digest", "effects", "events"]));
            match self.rpc.clone().execution_client().execute_transaction(request).await {
                Ok(response) => {
                    let mut cache = self.cache.lock().expect("cache");
                    for id in used {
                        cache.pending.remove(id);
                    }
                    drop(cache);
                    let executed = response
                        .into_inner()
                        .transaction
                        .ok_or_else(|| SdkError::Decode(format!("the node returned no transaction for {digest}")))?;
                    return self.read_outcome(digest, executed);
                }
                Err(status) if is_transient(&status) => {
                    last_error = status.to_string();
                    continue;
                }
                Err(status) => {
                    // Refused before execution: nothing ran; forget cached references of these objects.
                    let mut cache = self.cache.lock().expect("cache");
                    for id in used {
                        cache.pending.remove(id);
                        cache.refs.remove(id);
                    }
                    if status.code() == tonic::Code::FailedPrecondition {
                        cache.coins.clear();
                    }
                    return Err(SdkError::Rejected(format!("{} ({:?})", status.message(), status.code())));
                }
            }
        }
        let mut cache = self.cache.lock().expect("cache");
        for id in used {
            cache.pending.insert(*id, signed.clone());
        }
        Err(SdkError::Unknown { digest, reason: last_error })
    }

    fn read_outcome(&self, digest: Digest, executed: proto::ExecutedTransaction) -> Result<Executed> {
        let effects_proto =
            executed.effects.as_ref().ok_or_else(|| SdkError::Decode(format!("no effects for {digest}")))?;
        let effects = TransactionEffects::try_from(effects_proto)
            .map_err(|e| SdkError::Decode(format!("effects of {digest} do not decode: {e}")))?;
        self.learn(&effects);
        match effects.status() {
            ExecutionStatus::Success => {}
            ExecutionStatus::Failure { error: ExecutionError::MoveAbort { code, .. }, .. } => {
                if let Some(error) = atoma_protocol::error::decode_abort_code(*code) {
                    return Err(SdkError::Protocol { error, digest });
                }
                return Err(SdkError::Execution { description: format!("Move abort with code {code}"), digest });
            }
            ExecutionStatus::Failure {
                error: ExecutionError::ExecutionCanceledDueToConsensusObjectCongestion { congested_objects },
                ..
            } => {
                return Err(SdkError::Congested { objects: congested_objects.clone(), digest });
            }
            ExecutionStatus::Failure { error, .. } => {
                let description = effects_proto
                    .status
                    .as_ref()
                    .and_then(|s| s.error.as_ref())
                    .and_then(|e| e.description.clone())
                    .unwrap_or_else(|| format!("{error:?}"));
                return Err(SdkError::Execution { description, digest });
            }
        }
        let events = decode_events(&self.identity.type_origin, executed.events.as_ref())?;
        let created = created_objects(&effects);
        Ok(Executed { digest, events, effects, created })
    }

    /// Updates cached references and coin balances from effects.
    fn learn(&self, effects: &TransactionEffects) {
        let TransactionEffects::V2(v2) = effects else { return };
        let mut cache = self.cache.lock().expect("cache");
        for change in &v2.changed_objects {
            match &change.output_state {
                sui_sdk_types::ObjectOut::ObjectWrite { digest, owner }
                    if *owner == sui_sdk_types::Owner::Address(self.key.address()) =>
                {
                    let r = ObjectReference::new(change.object_id, v2.lamport_version, *digest);
                    cache.refs.insert(change.object_id, r);
                }
                _ => {
                    cache.refs.remove(&change.object_id);
                    cache.coins.remove(&change.object_id);
                }
            }
        }
        // Balances changed: read them again when coins are next chosen.
        cache.coins.clear();
    }
}

fn is_transient(status: &tonic::Status) -> bool {
    matches!(
        status.code(),
        tonic::Code::Unavailable
            | tonic::Code::DeadlineExceeded
            | tonic::Code::Aborted
            | tonic::Code::ResourceExhausted
    )
}

/// The owned objects a transaction uses: its gas coins and owned inputs.
fn objects_of(tx: &Transaction) -> Vec<Address> {
    let owned = match &tx.kind {
        sui_sdk_types::TransactionKind::ProgrammableTransaction(p) => p
            .inputs
            .iter()
            .filter_map(|i| match i {
                sui_sdk_types::Input::ImmutableOrOwned(r) => Some(*r.object_id()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    tx.gas_payment.objects.iter().map(|r| *r.object_id()).chain(owned).collect()
}

/// The reference of an object read with `object_id,version,digest`.
pub fn reference(o: &proto::Object) -> Result<ObjectReference> {
    let id: Address = o
        .object_id
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(|_| SdkError::Decode("an object without a valid id".into()))?;
    let version = o.version.ok_or_else(|| SdkError::Decode(format!("object {id} without a version")))?;
    let digest = Digest::from_base58(o.digest.as_deref().unwrap_or_default())
        .map_err(|_| SdkError::Decode(format!("object {id} without a valid digest")))?;
    Ok(ObjectReference::new(id, version, digest))
}

/// The latest checkpoint of the node behind `rpc` (`GetServiceInfo`).
pub async fn checkpoint_height(rpc: &mut sui_rpc::Client) -> Result<u64> {
    rpc.ledger_client()
        .get_service_info(proto::GetServiceInfoRequest::default())
        .await
        .map_err(|e| SdkError::rpc("reading the node's service info", e))?
        .into_inner()
        .checkpoint_height
        .ok_or_else(|| SdkError::Decode("the node reports no checkpoint height".into()))
}

/// The initial shared version of a shared object read with `owner`.
pub fn initial_shared_version(o: &proto::Object, id: Address) -> Result<u64> {
    let owner = o.owner.as_ref().ok_or_else(|| SdkError::Decode(format!("object {id} has no owner")))?;
    match owner.kind.and_then(|k| proto::owner::OwnerKind::try_from(k).ok()) {
        Some(proto::owner::OwnerKind::Shared) => {
            owner.version.ok_or_else(|| SdkError::Decode(format!("shared object {id} has no initial version")))
        }
        _ => Err(SdkError::InvalidArgument(format!("object {id} is not a shared object"))),
    }
}

/// What a publication of the package created, read from its transaction:
/// the package id, the shared `Network` and the `AdminCap` (from the
/// `NetworkCreated` event that the package's `init` emits).
pub async fn read_publication(url: &str, digest: &Digest) -> Result<(Address, Address, Address)> {
    let mut rpc =
        sui_rpc::Client::new(url).map_err(|e| SdkError::InvalidArgument(format!("bad node URL {url:?}: {e}")))?;
    let mut req = proto::GetTransactionRequest::default();
    req.digest = Some(digest.to_string());
    req.read_mask = Some(mask(&["events"]));
    let tx = rpc
        .ledger_client()
        .get_transaction(req)
        .await
        .map_err(|e| SdkError::rpc(format!("reading transaction {digest} at {url}"), e))?
        .into_inner()
        .transaction
        .ok_or_else(|| SdkError::Decode(format!("transaction {digest} came back empty")))?;
    let events = tx.events.as_ref();
    for e in events.map(|e| e.events.as_slice()).unwrap_or_default() {
        let Some(tag) = e.event_type.as_deref().and_then(|t| t.parse::<StructTag>().ok()) else { continue };
        if tag.module().as_str() != "events" || tag.name().as_str() != "NetworkCreated" {
            continue;
        }
        let package = *tag.address();
        for decoded in decode_events(&package, events)? {
            if let Event::NetworkCreated(n) = decoded {
                return Ok((package, Address::new(n.network_id.0), Address::new(n.admin_cap_id.0)));
            }
        }
    }
    Err(SdkError::InvalidArgument(format!(
        "transaction {digest} created no atoma Network: give the digest of `sui client publish`"
    )))
}

/// The package's events among a transaction's events, decoded.
pub fn decode_events(package: &Address, events: Option<&proto::TransactionEvents>) -> Result<Vec<Event>> {
    let mut out = Vec::new();
    for e in events.map(|e| e.events.as_slice()).unwrap_or_default() {
        let event = sui_sdk_types::Event::try_from(e).map_err(|err| SdkError::Decode(format!("an event: {err}")))?;
        if let Some(decoded) = decode_event(package, &event)? {
            out.push(decoded);
        }
    }
    Ok(out)
}

/// The package's event in a Sui event, or `None` for another package's event.
pub fn decode_event(package: &Address, event: &sui_sdk_types::Event) -> Result<Option<Event>> {
    let tag = &event.type_;
    if tag.address() != package || tag.module().as_str() != atoma_protocol::events::EVENTS_MODULE {
        return Ok(None);
    }
    match Event::from_bcs(tag.name().as_str(), &event.contents) {
        Some(Ok(e)) => Ok(Some(e)),
        Some(Err(err)) => Err(SdkError::Decode(format!("event {} does not decode: {err}", tag.name()))),
        None => Ok(None),
    }
}

fn created_objects(effects: &TransactionEffects) -> Vec<Address> {
    let TransactionEffects::V2(v2) = effects else { return Vec::new() };
    v2.changed_objects
        .iter()
        .filter(|c| c.id_operation == sui_sdk_types::IdOperation::Created)
        .map(|c| c.object_id)
        .collect()
}
