//! The audit of a whole run, to the MIST: every balance the protocol holds
//! (each node's collateral, each class's revenue, the treasury, each open request's fee and pool)
//! is recomputed from the package's events since genesis and from the rules
//! of docs/protocol.md, and compared with the objects on chain; SUI that
//! entered the protocol (collateral, top-ups, fees) equals SUI paid out
//! (rewards, refunds, withdrawals) plus SUI held.
//!
//! Not for: gas, which the local network charges outside the protocol.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use atoma_protocol::params::bps_of;
use atoma_protocol::{Event, FailReason, ObjectId, SlashReason};
use atoma_sdk::{Chain, EventStream, PackageEvent, Start};
use sui_sdk_types::Address;

/// How one request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Still open.
    Open,
    /// Finalized with this digest, paying `reward` to each of `nodes`.
    Finalized { output_digest: [u8; 32], nodes: Vec<Address>, reward: u64, verified: bool },
    /// Failed, refunding `refund`.
    Failed { reason: FailReason, refund: u64 },
}

/// What the audit found.
#[derive(Debug, Default)]
pub struct Audit {
    /// Every event since genesis, in order.
    pub events: Vec<PackageEvent>,
    /// Every slash, by node: (request, reason, amount).
    pub slashes: BTreeMap<Address, Vec<(Address, SlashReason, u64)>>,
    /// Rewards paid, by node (MIST).
    pub rewards: BTreeMap<Address, u64>,
    /// How each request ended, by request.
    pub endings: BTreeMap<Address, Ending>,
    /// Fee paid at submission, by request.
    pub fees: BTreeMap<Address, u64>,
}

impl Audit {
    /// The slashes of `node` (empty if none).
    pub fn slashes_of(&self, node: &Address) -> Vec<(Address, SlashReason, u64)> {
        self.slashes.get(node).cloned().unwrap_or_default()
    }

    /// Whether `node` was ever slashed.
    pub fn slashed(&self, node: &Address) -> bool {
        !self.slashes_of(node).is_empty()
    }

    /// Requests that ended this way.
    pub fn finalized(&self) -> impl Iterator<Item = (&Address, &Ending)> {
        self.endings.iter().filter(|(_, e)| matches!(e, Ending::Finalized { .. }))
    }
}

fn addr(id: &ObjectId) -> Address {
    Address::from(id)
}

/// Every event of the package from checkpoint 0 to the first checkpoint
/// sealed after the call: so every transaction executed before the call is in.
pub async fn all_events(chain: &Chain) -> anyhow::Result<Vec<PackageEvent>> {
    let now = chain.checkpoint_height().await?;
    let mut height = now;
    let give_up = tokio::time::Instant::now() + Duration::from_secs(10);
    while height <= now && tokio::time::Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(20)).await;
        height = chain.checkpoint_height().await?;
    }
    let mut stream = EventStream::new(chain.rpc(), chain.identity().type_origin, Start::Checkpoint(0));
    let mut out = Vec::new();
    loop {
        // The first read catches up on every checkpoint sealed so far; later
        // reads wait only for what follows.
        let wait = if out.is_empty() { Duration::from_secs(120) } else { Duration::from_secs(3) };
        match tokio::time::timeout(wait, stream.next()).await {
            Ok(e) => {
                let e = e?;
                if e.cursor.checkpoint > height {
                    return Ok(out);
                }
                out.push(e);
            }
            // No event after the last one read: the stream waits at the tip.
            Err(_) => return Ok(out),
        }
    }
}

/// Recomputes every balance from the events and checks it against the chain
/// (see the module doc). Fails with the first difference.
pub async fn audit(chain: &Chain) -> anyhow::Result<Audit> {
    let events = all_events(chain).await?;
    let mut a = Audit::default();
    let mut books = Books::default();
    for e in &events {
        books.take(chain, &mut a, &e.event).await?;
    }
    let held = books.held_on_chain(chain, &a).await?;
    let Books { paid_in, paid_out, .. } = books;
    ensure!(paid_in == paid_out + held, "SUI not conserved: {paid_in} in, {paid_out} out, {held} held");
    a.events = events;
    Ok(a)
}

/// What the events say the protocol took in, paid out and holds.
#[derive(Default)]
struct Books {
    paid_in: u128,
    paid_out: u128,
    collateral: BTreeMap<Address, i128>,
    withdrawn: BTreeSet<Address>,
    treasury: i128,
    /// Protocol revenue held by each class, until swept to the treasury.
    revenue: BTreeMap<u64, i128>,
    /// Per request: slashed amounts (for the pool and the protocol share),
    /// the protocol's share and its class.
    slashed_on: BTreeMap<Address, Vec<u64>>,
    share_bps: BTreeMap<Address, u64>,
    class_of: BTreeMap<Address, u64>,
    /// Per request: the minimum fee of its mode under its parameters, what
    /// a failure for want of the input keeps.
    min_fee: BTreeMap<Address, u64>,
}

impl Books {
    /// Enters one event (a request's submission reads its parameters from the chain).
    async fn take(&mut self, chain: &Chain, a: &mut Audit, event: &Event) -> anyhow::Result<()> {
        match event {
            Event::NodeRegistered(r) => {
                self.paid_in += r.collateral as u128;
                self.collateral.insert(addr(&r.node_id), r.collateral as i128);
            }
            Event::CollateralAdded(c) => {
                self.paid_in += c.amount as u128;
                *self.collateral.entry(addr(&c.node_id)).or_default() += c.amount as i128;
                ensure!(
                    self.collateral[&addr(&c.node_id)] == c.collateral as i128,
                    "node {}: CollateralAdded says {}",
                    addr(&c.node_id),
                    c.collateral
                );
            }
            Event::NodeWithdrawn(w) => {
                let node = addr(&w.node_id);
                ensure!(
                    self.collateral.get(&node).copied() == Some(w.amount as i128),
                    "node {node} withdrew {} but held {:?}",
                    w.amount,
                    self.collateral.get(&node)
                );
                self.paid_out += w.amount as u128;
                self.collateral.remove(&node);
                self.withdrawn.insert(node);
            }
            Event::TreasuryWithdrawn(t) => {
                self.paid_out += t.amount as u128;
                self.treasury -= t.amount as i128;
            }
            Event::RevenueSwept(r) => {
                *self.revenue.entry(r.class_id).or_default() -= r.amount as i128;
                self.treasury += r.amount as i128;
            }
            Event::RequestSubmitted(s) => {
                let request = addr(&s.request_id);
                self.paid_in += s.fee as u128;
                a.fees.insert(request, s.fee);
                a.endings.insert(request, Ending::Open);
                let on_chain = chain.request(request).await?;
                self.share_bps.insert(request, on_chain.params.protocol_share_bps);
                self.min_fee.insert(request, on_chain.params.min_fee_for(on_chain.mode));
                self.class_of.insert(request, on_chain.class_id);
            }
            Event::NodeSlashed(s) => {
                let (request, node) = (addr(&s.request_id), addr(&s.node_id));
                *self.collateral.entry(node).or_default() -= s.amount as i128;
                a.slashes.entry(node).or_default().push((request, s.reason, s.amount));
                self.slashed_on.entry(request).or_default().push(s.amount);
            }
            Event::RequestFinalized(f) => self.finalized(a, f)?,
            Event::RequestFailed(f) => {
                let request = addr(&f.request_id);
                let fee = *a.fees.get(&request).context("failed before submitted")?;
                // A failure for want of the input keeps the mode's minimum fee
                // for the class's revenue; any other refunds the whole fee.
                let kept = match f.reason {
                    FailReason::InputUnavailable => fee.min(self.min_fee[&request]),
                    _ => 0,
                };
                ensure!(
                    f.refund == fee - kept,
                    "request {request} ({:?}) refunded {} of a fee of {fee}, keeping {kept}",
                    f.reason,
                    f.refund
                );
                let slashes: u64 = self.slashed_on.get(&request).map(|s| s.iter().sum()).unwrap_or(0);
                // The protocol share and the pool: all the slashed stake goes to
                // the class's revenue, with what the failure kept.
                *self.revenue.entry(self.class_of[&request]).or_default() += (slashes + kept) as i128;
                self.paid_out += f.refund as u128;
                a.endings.insert(request, Ending::Failed { reason: f.reason, refund: f.refund });
            }
            _ => {}
        }
        Ok(())
    }

    /// A finalized request pays fee and pool, less the protocol's share of
    /// the slashes, evenly to the winners; the remainder is the class's revenue.
    fn finalized(&mut self, a: &mut Audit, f: &atoma_protocol::events::RequestFinalized) -> anyhow::Result<()> {
        let request = addr(&f.request_id);
        let fee = *a.fees.get(&request).context("finalized before submitted")?;
        let bps = self.share_bps[&request];
        let slashes = self.slashed_on.get(&request).cloned().unwrap_or_default();
        let share: u64 = slashes.iter().map(|s| bps_of(*s, bps)).sum();
        let pool: u64 = slashes.iter().sum::<u64>() - share;
        let total = fee + pool;
        let k = f.nodes.len() as u64;
        ensure!(k > 0, "request {request} finalized with no node");
        ensure!(
            f.reward_per_node == total / k,
            "request {request}: reward {} is not (fee {fee} + pool {pool}) / {k}",
            f.reward_per_node
        );
        *self.revenue.entry(self.class_of[&request]).or_default() +=
            share as i128 + (total - f.reward_per_node * k) as i128;
        self.paid_out += (f.reward_per_node * k) as u128;
        for n in &f.nodes {
            *a.rewards.entry(addr(n)).or_default() += f.reward_per_node;
        }
        a.endings.insert(
            request,
            Ending::Finalized {
                output_digest: f.output_digest.0,
                nodes: f.nodes.iter().map(addr).collect(),
                reward: f.reward_per_node,
                verified: f.verified,
            },
        );
        Ok(())
    }

    /// Compares every balance with the objects on chain; returns what they hold.
    async fn held_on_chain(&self, chain: &Chain, a: &Audit) -> anyhow::Result<u128> {
        let network = chain.network().await?;
        ensure!(
            network.treasury as i128 == self.treasury,
            "treasury is {}, the events give {}",
            network.treasury,
            self.treasury
        );
        let mut held: u128 = network.treasury as u128;
        for (class_id, class) in chain.classes().await? {
            let expected = self.revenue.get(&class_id).copied().unwrap_or(0);
            ensure!(
                class.revenue as i128 == expected,
                "class {class_id}: revenue {} on chain, {expected} from the events",
                class.revenue
            );
            held += class.revenue as u128;
        }
        for (node, expected) in &self.collateral {
            let on_chain = chain.node(*node).await?.with_context(|| format!("node {node} is gone"))?;
            ensure!(
                on_chain.collateral as i128 == *expected,
                "node {node}: collateral {} on chain, {expected} from the events",
                on_chain.collateral
            );
            held += on_chain.collateral as u128;
        }
        for node in &self.withdrawn {
            if chain.node(*node).await?.is_some() {
                bail!("node {node} withdrew but is still registered");
            }
        }
        for (request, ending) in &a.endings {
            let r = chain.request(*request).await?;
            match ending {
                Ending::Open => held += r.fee as u128 + r.pool as u128,
                _ => ensure!((r.fee, r.pool) == (0, 0), "request {request} ended but holds {} + {}", r.fee, r.pool),
            }
        }
        Ok(held)
    }
}
