//! `ListTransactions`: the ledger's transactions in order, ascending or
//! descending, with the DNF filters of `TransactionFilter` (sender, an
//! affected address or object, a Move call, an emitting module or event
//! type; negation), resumable cursors and checkpoint coverage, in the
//! frame rules of `events` (whose cursor and watermark it shares).
//!
//! ```text
//! position = (checkpoint, transaction index, 0); cursor as in `events`
//! ```
//!
//! The scan (bounds, order, cursors, how a list ends) is `lists`'.
//! Affected addresses are the sender,
//! the gas owner and the address owners of the objects read and written;
//! affected objects are the objects the transaction changed (created,
//! written or deleted), as on Sui: an object only read is not one.
//!
//! Not for: the event-stream-head and package-write predicates (no
//! authenticated event streams nor publishing here), which answer
//! `Unimplemented` naming them.

use std::collections::BTreeSet;

use sui_rpc::field::FieldMaskTree;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::{Address, Command, Owner, TransactionEffects, TransactionKind};
use tonic::Status;

use super::events::{Dnf, EventPredicate};
use super::lists::Scan;
use crate::ledger::{Ledger, TxRecord};

/// A checked transaction filter.
pub struct TxFilter(Dnf<TxPredicate>);

enum TxPredicate {
    Sender(Address),
    AffectedAddress(Address),
    AffectedObject(Address),
    /// `package[::module[::function]]`.
    MoveCall(Address, Option<String>, Option<String>),
    /// Any of its events matches.
    Event(EventPredicate),
}

fn address(what: &str, value: Option<&str>) -> Result<Address, Status> {
    let a = value.unwrap_or_default();
    a.parse().map_err(|_| Status::invalid_argument(format!("{what} {a:?} is not an address")))
}

impl TxFilter {
    /// Checks a request's filter; `None` matches everything.
    pub fn new(filter: Option<&proto::TransactionFilter>) -> Result<Option<TxFilter>, Status> {
        let Some(filter) = filter else { return Ok(None) };
        let empty = "at least one filter term is required";
        Ok(Some(TxFilter(Dnf::new(&filter.terms, empty, |t| &t.literals, tx_literal)?)))
    }

    fn matches(&self, tx: &TxRecord) -> bool {
        self.0.matches(|p| match p {
            TxPredicate::Sender(a) => tx.transaction.sender == *a,
            TxPredicate::AffectedAddress(a) => affected_addresses(tx).contains(a),
            TxPredicate::AffectedObject(o) => changed_objects(tx).any(|x| x == *o),
            TxPredicate::MoveCall(package, module, function) => move_calls(tx).any(|c| {
                c.package == *package
                    && module.as_ref().is_none_or(|m| c.module.as_str() == m)
                    && function.as_ref().is_none_or(|f| c.function.as_str() == f)
            }),
            TxPredicate::Event(e) => tx.events.iter().flat_map(|e| e.0.iter()).any(|ev| e.matches(ev)),
        })
    }
}

fn tx_literal(literal: &proto::TransactionLiteral) -> Result<(bool, TxPredicate), Status> {
    use proto::transaction_literal::Predicate as P;
    let predicate = match &literal.predicate {
        Some(P::Sender(s)) => TxPredicate::Sender(address("sender", s.address.as_deref())?),
        Some(P::AffectedAddress(a)) => TxPredicate::AffectedAddress(address("affected address", a.address.as_deref())?),
        Some(P::AffectedObject(o)) => TxPredicate::AffectedObject(address("affected object", o.object_id.as_deref())?),
        Some(P::MoveCall(m)) => {
            let (package, module, function) = super::events::parse_path(m.function.as_deref().unwrap_or_default())?;
            TxPredicate::MoveCall(package, module, function)
        }
        Some(P::EmitModule(m)) => TxPredicate::Event(EventPredicate::emit_module(m)?),
        Some(P::EventType(t)) => TxPredicate::Event(EventPredicate::event_type(t)?),
        Some(P::EventStreamHead(_)) => {
            return Err(Status::unimplemented(
                "the event-stream-head filter is not served: the local network has no authenticated event streams",
            ));
        }
        Some(P::PackageWrite(_)) => {
            return Err(Status::unimplemented(
                "the package-write filter is not served: nothing is published on the local network",
            ));
        }
        None => return Err(Status::invalid_argument("a filter literal has no predicate")),
        Some(_) => return Err(Status::unimplemented("this transaction filter predicate is not served")),
    };
    Ok((literal.negated, predicate))
}

/// The sender, the gas owner and the address owners of the objects read and written.
fn affected_addresses(tx: &TxRecord) -> BTreeSet<Address> {
    let mut out = BTreeSet::from([tx.transaction.sender, tx.transaction.gas_payment.owner]);
    for object in tx.input_objects.iter().chain(&tx.output_objects) {
        if let Owner::Address(a) = object.owner() {
            out.insert(*a);
        }
    }
    out
}

/// The objects the transaction changed (created, written, deleted): what
/// Sui's affected-object filter matches (an object only read is not).
fn changed_objects(tx: &TxRecord) -> impl Iterator<Item = Address> + '_ {
    let changed = match &tx.effects {
        TransactionEffects::V2(e) => e.changed_objects.as_slice(),
        _ => &[],
    };
    changed.iter().map(|c| c.object_id)
}

fn move_calls(tx: &TxRecord) -> impl Iterator<Item = &sui_sdk_types::MoveCall> {
    let commands = match &tx.transaction.kind {
        TransactionKind::ProgrammableTransaction(p) => p.commands.as_slice(),
        _ => &[],
    };
    commands.iter().filter_map(|c| if let Command::MoveCall(m) = c { Some(m) } else { None })
}

/// The frames of a `ListTransactions` request (see the module doc).
pub fn list(
    chain: &Ledger,
    request: &proto::ListTransactionsRequest,
    mask: &FieldMaskTree,
) -> Result<Vec<Result<proto::ListTransactionsResponse, Status>>, Status> {
    let filter = TxFilter::new(request.filter.as_ref())?;
    let scan = Scan::new(request.options.as_ref(), request.start_checkpoint, request.end_checkpoint)?;
    Ok(scan.frames(chain.checkpoint_height(), |c| {
        let Some(record) = chain.checkpoints.get(c as usize) else { return Vec::new() };
        record
            .transactions
            .iter()
            .enumerate()
            .filter_map(|(ti, digest)| {
                let tx = chain.txs.get(digest)?;
                if filter.as_ref().is_some_and(|f| !f.matches(tx)) {
                    return None;
                }
                let item = super::transaction_proto(chain, digest, tx, mask);
                Some(((c, ti as u64, 0), proto::ListTransactionsResponse::default().with_transaction(item)))
            })
            .collect()
    }))
}
