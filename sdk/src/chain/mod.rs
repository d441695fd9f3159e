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
//! Layout: this file (the types, connecting, reads and a publication's
//! ids), `call` (a Move call and its check against the entry table), `gas`
//! (coins and locks), `send` (building, signing, sending, outcomes),
//! `decode` (references, versions, events).
//!
//! Not for: which call to make (see `calls`), or reading state (see `registry`).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atoma_protocol::Event;
use atoma_protocol::params::INLINE_INPUT_LIMIT;
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

mod call;
mod decode;
mod gas;
mod send;

pub use call::{Arg, Call};

pub use decode::{decode_event, decode_events, initial_shared_version, reference};

/// The Clock's id.
pub const CLOCK: Address = Address::from_static("0x6");
/// The Random object's id.
pub const RANDOM: Address = Address::from_static("0x8");
/// MIST per byte of object stored, as Sui charges it (100 storage units
/// per byte at the reference storage price of 76; the local network's gas
/// schedule is the same).
pub const STORAGE_COST_PER_BYTE: u64 = 7_600;
/// Default gas budget of one call (MIST): the computation of any entry
/// function plus the storage of the largest object one rewrites, a request
/// carrying the largest inline input the protocol allows. Every call on a
/// request rewrites its object and pays that storage in full (its rebate
/// comes back after), so a smaller budget would let a requester's input
/// size make an honest node's commit run out of gas.
pub const DEFAULT_GAS_BUDGET: u64 = 50_000_000 + STORAGE_COST_PER_BYTE * INLINE_INPUT_LIMIT;
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
        let rpc = rpc_client(url)?;
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
            .map_err(|e| SdkError::decode(format!("object {network} has no readable type")).because(e))?;
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
            return Err(SdkError::decode(format!("the node at {url} reports a reference gas price of 0")));
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
        let req = proto::GetObjectRequest::new(&id).with_read_mask(mask(paths));
        let response = self
            .rpc
            .clone()
            .ledger_client()
            .get_object(req)
            .await
            .map_err(|e| SdkError::rpc(format!("reading object {id}"), e))?;
        response.into_inner().object.ok_or_else(|| SdkError::decode(format!("object {id} came back empty")))
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
        let req = proto::GetBalanceRequest::default().with_owner(owner.to_string()).with_coin_type("0x2::sui::SUI");
        let b = self
            .rpc
            .clone()
            .state_client()
            .get_balance(req)
            .await
            .map_err(|e| SdkError::rpc("reading the balance", e))?;
        Ok(b.into_inner().balance.and_then(|b| b.balance).unwrap_or(0))
    }
}

/// A gRPC client for the Sui node at `url`; a URL without its scheme is
/// refused with the fix (`http://` for a local network).
pub fn rpc_client(url: &str) -> Result<sui_rpc::Client> {
    if !url.starts_with("http://") && !url.starts_with("https://") {
        return Err(SdkError::InvalidArgument(format!(
            "the node URL {url} has no scheme: write http://{url} (a local network) or https://{url}"
        )));
    }
    sui_rpc::Client::new(url).map_err(|e| SdkError::InvalidArgument(format!("bad node URL {url}: {e}")))
}

/// The latest checkpoint of the node behind `rpc` (`GetServiceInfo`).
pub async fn checkpoint_height(rpc: &mut sui_rpc::Client) -> Result<u64> {
    rpc.ledger_client()
        .get_service_info(proto::GetServiceInfoRequest::default())
        .await
        .map_err(|e| SdkError::rpc("reading the node's service info", e))?
        .into_inner()
        .checkpoint_height
        .ok_or_else(|| SdkError::decode("the node reports no checkpoint height"))
}

/// What a publication of the package created, read from its transaction:
/// the package id, the shared `Network` and the `AdminCap` (from the
/// `NetworkCreated` event that the package's `init` emits).
pub async fn read_publication(url: &str, digest: &Digest) -> Result<(Address, Address, Address)> {
    let mut rpc = rpc_client(url)?;
    let req = proto::GetTransactionRequest::default().with_digest(digest.to_string()).with_read_mask(mask(&["events"]));
    let tx = rpc
        .ledger_client()
        .get_transaction(req)
        .await
        .map_err(|e| SdkError::rpc(format!("reading transaction {digest} at {url}"), e))?
        .into_inner()
        .transaction
        .ok_or_else(|| SdkError::decode(format!("transaction {digest} came back empty")))?;
    let events = tx.events.as_ref();
    for e in events.map(|e| e.events.as_slice()).unwrap_or_default() {
        let Some(tag) = e.event_type.as_deref().and_then(|t| t.parse::<StructTag>().ok()) else { continue };
        if tag.module().as_str() != "events" || tag.name().as_str() != "NetworkCreated" {
            continue;
        }
        let package = *tag.address();
        for decoded in decode_events(&package, events)? {
            if let Event::NetworkCreated(n) = decoded {
                return Ok((package, Address::from(n.network_id), Address::from(n.admin_cap_id)));
            }
        }
    }
    Err(SdkError::InvalidArgument(format!(
        "transaction {digest} created no atoma Network: give the digest of `sui client publish`"
    )))
}
