//! `ListEvents` and `SubscribeEvents`: the ledger's events in order, with
//! the DNF filters of `EventFilter` (sender, emitting module, event type;
//! negation), resumable cursors and checkpoint coverage, in the frame rules
//! `sui-rpc`'s stream helpers check.
//!
//! ```text
//! cursor   = checkpoint (u64 BE) || transaction index (u64 BE) || event index (u32 BE)   (20 bytes)
//! progress = the cursor (checkpoint, u64::MAX, u32::MAX): after every event of that checkpoint
//! coverage = the last checkpoint scanned completely (watermark.checkpoint)
//! ```
//!
//! A list scans checkpoints as `lists` says (either order, cursors on both
//! sides) and sends each matching event. A subscription starts with a
//! progress frame at the tip, then sends each new checkpoint's matching
//! events and a progress frame for it.
//!
//! Not for: other event filters (affected objects, stream heads), which
//! answer `Unimplemented`.

use sui_rpc::field::FieldMaskTree;
use sui_rpc::merge::Merge;
use sui_rpc::proto::sui::rpc::v2 as proto;
use sui_sdk_types::{Address, Digest, Event};
use tonic::Status;
use tonic::codegen::Bytes;

use crate::ledger::Ledger;

/// Number of items of one list when the request names none.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest number of items of one list.
pub const MAX_LIMIT: u32 = 1_000;

/// A position in the ledger: (checkpoint, transaction index, event index).
pub type Position = (u64, u64, u32);

/// The cursor bytes of a position.
pub fn cursor(p: Position) -> Bytes {
    let mut b = Vec::with_capacity(20);
    b.extend_from_slice(&p.0.to_be_bytes());
    b.extend_from_slice(&p.1.to_be_bytes());
    b.extend_from_slice(&p.2.to_be_bytes());
    b.into()
}

/// The position of cursor bytes.
pub fn parse_cursor(b: &[u8]) -> Result<Position, Status> {
    if b.len() != 20 {
        return Err(Status::invalid_argument("cursor is not one of this node's (20 bytes)"));
    }
    let u64_at = |i: usize| u64::from_be_bytes(b[i..i + 8].try_into().expect("8 bytes"));
    Ok((u64_at(0), u64_at(8), u32::from_be_bytes(b[16..20].try_into().expect("4 bytes"))))
}

/// The position after every event of checkpoint `c`.
pub fn end_of(c: u64) -> Position {
    (c, u64::MAX, u32::MAX)
}

pub(super) fn parse_path(path: &str) -> Result<(Address, Option<String>, Option<String>), Status> {
    let mut parts = path.splitn(3, "::");
    let address = parts.next().unwrap_or_default();
    let address: Address =
        address.parse().map_err(|_| Status::invalid_argument(format!("filter path {path:?}: bad address")))?;
    Ok((address, parts.next().map(str::to_string), parts.next().map(str::to_string)))
}

/// A checked DNF filter (`EventFilter`, `TransactionFilter`): any term
/// matches when each of its literals does, negated or not.
pub struct Dnf<P> {
    terms: Vec<Vec<(bool, P)>>,
}

impl<P> Dnf<P> {
    /// Checks every literal of `terms` with `literal` (its negation and
    /// predicate); a filter without terms is refused with `empty`.
    pub fn new<T, L>(
        terms: &[T],
        empty: &str,
        literals: impl Fn(&T) -> &[L],
        literal: impl Fn(&L) -> Result<(bool, P), Status>,
    ) -> Result<Self, Status> {
        if terms.is_empty() {
            return Err(Status::invalid_argument(empty));
        }
        let terms = terms.iter().map(|t| literals(t).iter().map(&literal).collect()).collect::<Result<_, _>>()?;
        Ok(Dnf { terms })
    }

    /// Whether some term has each literal's predicate `hit` (or, negated, not).
    pub fn matches(&self, hit: impl Fn(&P) -> bool) -> bool {
        self.terms.iter().any(|term| term.iter().all(|(negated, p)| hit(p) != *negated))
    }
}

/// A checked event filter.
pub struct Filter(Dnf<EventPredicate>);

/// What one literal of an event filter asks of an event.
pub enum EventPredicate {
    Sender(Address),
    EmitModule(Address, Option<String>),
    EventType(Address, Option<String>, Option<String>),
}

impl EventPredicate {
    /// `package[::module]`.
    pub fn emit_module(f: &proto::EmitModuleFilter) -> Result<Self, Status> {
        let (a, module, rest) = parse_path(f.module.as_deref().unwrap_or_default())?;
        if rest.is_some() {
            return Err(Status::invalid_argument("emit-module filter is package[::module]"));
        }
        Ok(EventPredicate::EmitModule(a, module))
    }

    /// `package[::module[::name]]`, the name with its type arguments or not.
    pub fn event_type(f: &proto::EventTypeFilter) -> Result<Self, Status> {
        let (a, module, name) = parse_path(f.event_type.as_deref().unwrap_or_default())?;
        Ok(EventPredicate::EventType(a, module, name))
    }

    /// Whether `e` is what the literal asks for (before its negation).
    pub fn matches(&self, e: &Event) -> bool {
        match self {
            EventPredicate::Sender(a) => e.sender == *a,
            EventPredicate::EmitModule(a, m) => e.package_id == *a && m.as_ref().is_none_or(|m| e.module.as_str() == m),
            EventPredicate::EventType(a, m, n) => {
                let t = &e.type_;
                t.address() == a
                    && m.as_ref().is_none_or(|m| t.module().as_str() == m)
                    && n.as_ref().is_none_or(|n| {
                        if n.contains('<') {
                            t.to_string().ends_with(&format!("::{n}"))
                        } else {
                            t.name().as_str() == n
                        }
                    })
            }
        }
    }
}

impl Filter {
    /// Checks a request's filter; `None` matches everything.
    pub fn new(filter: Option<&proto::EventFilter>) -> Result<Option<Filter>, Status> {
        let Some(filter) = filter else { return Ok(None) };
        let empty = "a present filter must have at least one term";
        Ok(Some(Filter(Dnf::new(&filter.terms, empty, |t| &t.literals, event_literal)?)))
    }

    fn matches(&self, e: &Event) -> bool {
        self.0.matches(|p| p.matches(e))
    }
}

fn event_literal(literal: &proto::EventLiteral) -> Result<(bool, EventPredicate), Status> {
    use proto::event_literal::Predicate as P;
    let predicate = match &literal.predicate {
        Some(P::Sender(s)) => {
            let a = s.address.as_deref().unwrap_or_default();
            EventPredicate::Sender(a.parse().map_err(|_| Status::invalid_argument(format!("sender {a:?}")))?)
        }
        Some(P::EmitModule(m)) => EventPredicate::emit_module(m)?,
        Some(P::EventType(t)) => EventPredicate::event_type(t)?,
        _ => return Err(Status::unimplemented("only sender, emit-module and event-type predicates are served")),
    };
    Ok((literal.negated, predicate))
}

/// Every event of checkpoint `c` matching `filter`, projected on `mask`.
pub fn events_of(
    chain: &Ledger,
    c: u64,
    filter: Option<&Filter>,
    mask: &FieldMaskTree,
) -> Vec<(Position, proto::Event)> {
    let Some(record) = chain.checkpoints.get(c as usize) else { return Vec::new() };
    let mut out = Vec::new();
    for (ti, digest) in record.transactions.iter().enumerate() {
        let Some(tx) = chain.txs.get(digest) else { continue };
        for (ei, e) in tx.events.iter().flat_map(|e| e.0.iter()).enumerate() {
            let position = (c, ti as u64, ei as u32);
            if filter.is_some_and(|f| !f.matches(e)) {
                continue;
            }
            out.push((position, event_proto(e, position, digest, mask)));
        }
    }
    out
}

fn event_proto(e: &Event, p: Position, digest: &Digest, mask: &FieldMaskTree) -> proto::Event {
    let mut full = proto::Event::from(e.clone());
    full.checkpoint = Some(p.0);
    full.transaction_digest = Some(digest.to_string());
    full.transaction_index = Some(p.1);
    full.event_index = Some(p.2);
    proto::Event::merge_from(&full, mask)
}

/// The watermark of a position: its cursor, and the coverage of the
/// checkpoints before it (all of `c` for an end-of-checkpoint position).
pub fn watermark(p: Position) -> proto::Watermark {
    let mut w = proto::Watermark::default().with_cursor(cursor(p));
    w.checkpoint = if p.1 == u64::MAX { Some(p.0) } else { p.0.checked_sub(1) };
    w
}
