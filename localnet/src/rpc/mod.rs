//! The Sui gRPC services the local network serves, built on the server
//! traits that `sui-rpc` ships, over gRPC and gRPC-web: ledger, state,
//! transaction execution (and simulation), Move packages and subscription. Each answer is built in full from the ledger's Sui types
//! and then projected onto the request's read mask, as a full node does.
//! Methods not implemented answer `Unimplemented` with a message.
//!
//! Layout: `ledger` (objects, transactions, checkpoints, events, epoch,
//! service info), `state` (owned objects, balances, dynamic fields),
//! `execution` (execute), `simulate` (resolve and dry-run), `package` (the
//! package's interface), `subscription` (checkpoint and event streams),
//! `events` (event filters, cursors, watermarks); this file holds the server, the
//! conversions and the read-mask defaults shared by them.
//!
//! Not for: rules or state (see `exec`, `ledger`).

mod events;
mod execution;
mod ledger;
mod lists;
mod names;
mod package;
mod simulate;
mod state;
mod subscription;
mod transactions;

use std::collections::BTreeMap;
use std::sync::Arc;

use sui_rpc::field::FieldMaskTree;
use sui_rpc::merge::Merge;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::{Address, BalanceChange, Digest, ExecutionError, ExecutionStatus, Object, Owner, TypeTag};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::execute::Reject;
use crate::ledger::{Ledger, TxRecord};
use crate::node::Node;
use crate::objects::{self, Kind};

/// The services, sharing one node.
#[derive(Clone)]
pub struct Rpc {
    node: Arc<Node>,
    /// Fires when the server stops; open streams end then, so that the
    /// graceful shutdown does not wait for subscribers.
    shutdown: CancellationToken,
}

/// Serves the gRPC services on `listener` until `shutdown` fires.
pub async fn serve(node: Arc<Node>, listener: TcpListener, shutdown: CancellationToken) -> anyhow::Result<()> {
    let rpc = Rpc { node, shutdown: shutdown.clone() };
    tonic::transport::Server::builder()
        // gRPC-web as well as gRPC, as Sui full nodes serve it: the Sui
        // TypeScript SDK's `SuiGrpcClient` speaks gRPC-web over fetch.
        .accept_http1(true)
        // Any page may call it from a browser, as a public full node allows:
        // the preflight is answered and gRPC-web's trailers are exposed.
        .layer(cors())
        .layer(tonic_web::GrpcWebLayer::new())
        .add_service(proto::ledger_service_server::LedgerServiceServer::new(rpc.clone()))
        .add_service(proto::state_service_server::StateServiceServer::new(rpc.clone()))
        .add_service(proto::transaction_execution_service_server::TransactionExecutionServiceServer::new(rpc.clone()))
        .add_service(proto::move_package_service_server::MovePackageServiceServer::new(rpc.clone()))
        .add_service(proto::name_service_server::NameServiceServer::new(rpc.clone()))
        .add_service(proto::subscription_service_server::SubscriptionServiceServer::new(rpc))
        .serve_with_incoming_shutdown(
            // Without TCP_NODELAY, small responses wait for the peer's delayed ACK (about 40 ms).
            tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true)),
            shutdown.cancelled_owned(),
        )
        .await?;
    Ok(())
}

/// Cross-origin calls from any page, with the headers gRPC-web reads.
pub(crate) fn cors() -> tower_http::cors::CorsLayer {
    use tower_http::cors::{Any, CorsLayer};
    let exposed = ["grpc-status", "grpc-message", "grpc-status-details-bin", "x-sui-checkpoint-height"];
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([tonic::codegen::http::Method::GET, tonic::codegen::http::Method::POST])
        .allow_headers(Any)
        .expose_headers(exposed.map(tonic::codegen::http::HeaderName::from_static))
        .max_age(std::time::Duration::from_secs(86_400))
}

/// The read mask of a request, or `default` (comma-separated paths) when none is given.
fn mask(read_mask: Option<&prost_types::FieldMask>, default: &str) -> FieldMaskTree {
    match read_mask {
        Some(m) if !m.paths.is_empty() => FieldMaskTree::from_field_mask(m),
        _ => {
            let mut tree = FieldMaskTree::default();
            for path in default.split(',') {
                tree.add_field_path(path);
            }
            tree
        }
    }
}

fn parse_address(field: &str, value: Option<&str>) -> Result<Address, Status> {
    let value = value.ok_or_else(|| Status::invalid_argument(format!("{field} is required")))?;
    value.parse().map_err(|e| Status::invalid_argument(format!("{field}: invalid address {value:?}: {e}")))
}

fn parse_digest(field: &str, value: Option<&str>) -> Result<Digest, Status> {
    let value = value.ok_or_else(|| Status::invalid_argument(format!("{field} is required")))?;
    Digest::from_base58(value).map_err(|e| Status::invalid_argument(format!("{field}: invalid digest {value:?}: {e}")))
}

fn timestamp(ms: u64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds: (ms / 1_000) as i64, nanos: ((ms % 1_000) * 1_000_000) as i32 }
}

impl From<Reject> for Status {
    fn from(r: Reject) -> Status {
        match r {
            Reject::Invalid(m) => Status::invalid_argument(m),
            Reject::Stale(m) => Status::failed_precondition(m),
            Reject::NotFound(m) => Status::not_found(m),
            Reject::Unsupported(m) => Status::unimplemented(m),
        }
    }
}

/// An object as `GetObject` shows it (with a coin's balance filled in).
fn object_proto(chain: &Ledger, object: &Object, mask: &FieldMaskTree) -> proto::Object {
    let mut out = proto::Object::merge_from(object.clone(), mask);
    if mask.contains(proto::Object::BALANCE_FIELD.name)
        && let Kind::Coin(balance) = objects::kind(object, &chain.identity.package)
    {
        out.balance = Some(balance);
    }
    out
}

/// The SUI balance changes of a transaction, per owner address.
fn balance_changes(tx: &TxRecord, package: &Address) -> Vec<BalanceChange> {
    let mut by_owner: BTreeMap<Address, i128> = BTreeMap::new();
    let mut add = |o: &Object, sign: i128| {
        if let (Kind::Coin(balance), Owner::Address(owner)) = (objects::kind(o, package), o.owner()) {
            *by_owner.entry(*owner).or_default() += sign * balance as i128;
        }
    };
    tx.input_objects.iter().for_each(|o| add(o, -1));
    tx.output_objects.iter().for_each(|o| add(o, 1));
    by_owner
        .into_iter()
        .filter(|(_, amount)| *amount != 0)
        .map(|(address, amount)| BalanceChange {
            address,
            coin_type: TypeTag::from(sui_sdk_types::StructTag::sui()),
            amount,
        })
        .collect()
}

/// Fills what the conversion from Sui types leaves empty in a failed
/// status: the description and, for a protocol abort, the clever error.
fn describe_status(status: &ExecutionStatus, effects: &mut proto::TransactionEffects) {
    let ExecutionStatus::Failure { error, .. } = status else { return };
    let Some(proto_error) = effects.status.as_mut().and_then(|s| s.error.as_mut()) else { return };
    if let ExecutionError::MoveAbort { location, code } = error {
        let decoded = atoma_protocol::error::decode_abort_code(*code);
        let mut description = format!(
            "Move abort in {}::{} with code {code}",
            location.module,
            location.function_name.as_ref().map(|f| f.as_str()).unwrap_or("?")
        );
        if let Some(e) = decoded {
            description = format!("{description}: {} ({}, code {})", e.message(), e.move_name(), e.code());
            if let Some(proto::execution_error::ErrorDetails::Abort(abort)) = proto_error.error_details.as_mut() {
                let clever = proto::CleverError::default()
                    .with_error_code(e.code() as u64)
                    .with_line_number(0)
                    .with_constant_name(e.move_name())
                    .with_constant_type("vector<u8>")
                    .with_rendered(e.message());
                abort.clever_error = Some(clever);
            }
        }
        proto_error.description = Some(description);
    } else {
        proto_error.description = Some(format!("{error:?}"));
    }
}

/// A transaction as `GetTransaction` shows it, projected on `mask`.
fn transaction_proto(
    chain: &Ledger,
    digest: &Digest,
    tx: &TxRecord,
    mask: &FieldMaskTree,
) -> proto::ExecutedTransaction {
    let mut full = proto::ExecutedTransaction::default();
    full.digest = Some(digest.to_string());
    if mask.contains("transaction") {
        full.transaction = Some(proto::Transaction::from(tx.transaction.clone()));
    }
    if mask.contains("signatures") {
        full.signatures = tx.signatures.iter().cloned().map(proto::UserSignature::from).collect();
    }
    if mask.contains("effects") {
        let mut effects = proto::TransactionEffects::from(tx.effects.clone());
        describe_status(tx.effects.status(), &mut effects);
        full.effects = Some(effects);
    }
    if mask.contains("events") {
        full.events = tx.events.clone().map(proto::TransactionEvents::from);
    }
    if let Some((sequence, index)) = tx.checkpoint {
        full.checkpoint = Some(sequence);
        full.transaction_index = Some(index);
    }
    full.timestamp = Some(timestamp(tx.timestamp_ms));
    if mask.contains("balance_changes") {
        full.balance_changes =
            balance_changes(tx, &chain.identity.package).into_iter().map(proto::BalanceChange::from).collect();
    }
    if mask.contains("objects") {
        let mut set = proto::ObjectSet::default();
        let wildcard = FieldMaskTree::new_wildcard();
        set.objects =
            tx.input_objects.iter().chain(&tx.output_objects).map(|o| object_proto(chain, o, &wildcard)).collect();
        full.objects = Some(set);
    }
    proto::ExecutedTransaction::merge_from(&full, mask)
}

/// A checkpoint as `GetCheckpoint` and the subscription show it, projected on `mask`.
fn checkpoint_proto(chain: &Ledger, sequence: u64, mask: &FieldMaskTree) -> Option<proto::Checkpoint> {
    let record = chain.checkpoints.get(sequence as usize)?;
    let mut out = proto::Checkpoint::default();
    out.merge(&record.summary, mask);
    if let Some(sub) = mask.subtree(proto::Checkpoint::CONTENTS_FIELD.name) {
        out.contents = Some(proto::CheckpointContents::merge_from(record.contents.clone(), &sub));
    }
    if let Some(sub) = mask.subtree(proto::Checkpoint::TRANSACTIONS_FIELD.name) {
        out.transactions = record
            .transactions
            .iter()
            .filter_map(|d| chain.txs.get(d).map(|tx| transaction_proto(chain, d, tx, &sub)))
            .collect();
    }
    Some(out)
}
