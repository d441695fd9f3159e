//! The promises (docs/protocol.md, "Promises") the model holds the
//! protocol to after every transaction and at the end of a run.

use super::*;

impl Model {
    /// The promises an outcome must keep.
    pub(super) fn check_outcome(&mut self, tx: &Tx, out: &Outcome) {
        for e in &out.events {
            let name = match e {
                Event::NodeSlashed(s) => format!("NodeSlashed/{:?}", s.reason),
                Event::RequestFailed(f) => format!("RequestFailed/{:?}", f.reason),
                Event::NodesSelected(n) => format!("NodesSelected/{:?}", n.role),
                e => e.name().to_string(),
            };
            *self.seen.entry(name).or_default() += 1;
        }
        let finalized = out.events.iter().find_map(|e| match e {
            Event::RequestFinalized(f) => Some(f.clone()),
            _ => None,
        });
        for e in &out.events {
            match e {
                Event::NodeSlashed(s) if !self.is_colluder(&s.node_id) => {
                    let by_colluders = s.reason == SlashReason::WrongOutput
                        && finalized.as_ref().is_some_and(|f| f.nodes.iter().all(|n| self.is_colluder(n)));
                    if !by_colluders {
                        let what = format!(
                            "honest node {} slashed ({:?}) on {} after {}",
                            s.node_id,
                            s.reason,
                            s.request_id,
                            short(tx)
                        );
                        self.violate("(a) no node that followed the protocol is slashed", what);
                    }
                }
                Event::RequestFinalized(f) => self.check_finalized(f),
                Event::RequestFailed(f) => self.check_failed(f),
                _ => {}
            }
        }
    }

    pub(super) fn check_finalized(&mut self, f: &atoma_protocol::events::RequestFinalized) {
        let Some(q) = self.req_index(&f.request_id) else { return };
        let (truth, wrong) = (self.reqs[q].truth, self.reqs[q].wrong);
        let all_colluders = f.nodes.iter().all(|n| self.is_colluder(n));
        if f.output_digest != truth && !all_colluders {
            self.violate(
                "(e) a wrong output is accepted only if every node that decided it colluded",
                format!("{f:?}"),
            );
        }
        for n in &f.nodes {
            let computed = self.reqs[q].computed.contains(n);
            if !computed && !all_colluders {
                self.violate(
                    "(b) nobody is paid for work it did not do",
                    format!("{n} paid on {} without running it", f.request_id),
                );
            }
        }
        let _ = wrong;
        // Every seat of the deciding round committed.
        let r = self.driver.state.request(&f.request_id).expect("finalized request").clone();
        let seats = seats(&r);
        let committed = r
            .slots
            .iter()
            .filter(|s| r.round.includes(s.role) && s.commitment.is_some() && self.in_deciding_round(&r, s.role))
            .count() as u64;
        if committed < seats {
            self.violate(
                "a request finalizes only with its full number of members",
                format!("{} finalized with {committed} of {seats} seats committed: {f:?}", f.request_id),
            );
        }
    }

    pub(super) fn in_deciding_round(&self, r: &Request, role: Role) -> bool {
        match r.round {
            Round::Main => matches!(role, Role::Executor | Role::Verifier),
            Round::Dispute => role == Role::Disputer,
        }
    }

    pub(super) fn check_failed(&mut self, f: &atoma_protocol::events::RequestFailed) {
        let Some(q) = self.req_index(&f.request_id) else { return };
        let fee = self.reqs[q].fee;
        if f.refund > fee {
            self.violate(
                "(b) nobody is paid for work it did not do",
                format!("refund {} above the fee {fee}", f.refund),
            );
        }
        if f.reason == FailReason::InputUnavailable {
            let r = self.driver.state.request(&f.request_id).expect("failed request");
            let price = r.params.min_fee_for(r.mode);
            if f.refund > fee.saturating_sub(price) {
                self.violate(
                    "capacity is never locked for free",
                    format!(
                        "{} failed for want of its input and refunded {} of {fee} (minimum fee {price})",
                        f.request_id, f.refund
                    ),
                );
            }
        }
        if f.reason == FailReason::NoDisputeQuorum {
            let r = self.driver.state.request(&f.request_id).expect("failed request").clone();
            let class = &self.driver.state.classes[&self.class];
            let standing = class
                .nodes
                .iter()
                .filter(|(id, n)| !n.leaving() && n.collateral >= class.min_collateral && !r.has_node(id))
                .count() as u64;
            if standing >= r.dispute_size {
                self.violate(
                    "a disagreement ends with the minority slashed whenever the class holds enough nodes",
                    format!(
                        "{} failed NoDisputeQuorum with {standing} fresh nodes for {} seats",
                        f.request_id, r.dispute_size
                    ),
                );
            }
        }
    }

    /// (d): no request stays open past its bound.
    pub(super) fn check_open(&mut self) {
        let late: Vec<String> = self
            .driver
            .state
            .requests
            .values()
            .filter(|r| !r.status.is_final() && self.driver.now > r.created_ms.saturating_add(end_bound(r)))
            .map(|r| format!("{} ({:?}) open since {} past its bound {}", r.id, r.status, r.created_ms, end_bound(r)))
            .collect();
        if let Some(l) = late.into_iter().next() {
            self.violate("(d) every request ends within its bound", l);
        }
    }

    /// Runs until every request has ended (or a promise broke).
    pub fn finish(&mut self) {
        for _ in 0..200 {
            if self.violation.is_some() {
                return;
            }
            let open = self.driver.state.requests.values().any(|r| !r.status.is_final());
            if !open {
                // What is left: operators withdrawing at the exit they were promised.
                self.run_until(u64::MAX);
                return;
            }
            let until = self.driver.now + 60_000;
            self.wake_all();
            self.run_until(until);
        }
        let open: Vec<String> = self
            .driver
            .state
            .requests
            .values()
            .filter(|r| !r.status.is_final())
            .map(|r| format!("{} {:?}", r.id, r.status))
            .collect();
        if !open.is_empty() {
            self.violate("(d) every request ends within its bound", format!("still open: {open:?}"));
        }
    }
}
