//! The actors the adversary does not drive: honest nodes (one worker each,
//! fetching, running, committing, revealing, abstaining, declining) and
//! colluders, and every node's keeper duties.

use std::cmp::Reverse;

use atoma_protocol::ops::due;
use atoma_protocol::{Input, ObjectId, Request, Role, Status};
use rand::Rng;

use super::*;

impl Model {
    /// Node `i` looks at every request it holds a slot of and does its part.
    pub(super) fn act(&mut self, i: usize) {
        if self.nodes[i].gone {
            return;
        }
        let me = self.nodes[i].cap.id;
        let open: Vec<ObjectId> =
            self.driver.state.requests.values().filter(|r| !r.status.is_final()).map(|r| r.id).collect();
        for id in open {
            let Some(r) = self.driver.state.requests.get(&id).cloned() else { continue };
            let Some(k) = r.active_slot(&me) else { continue };
            let Some(q) = self.req_index(&id) else { continue };
            let slot = r.slots[k].clone();
            let member = r.round.includes(slot.role);
            let attacked = self.reqs[q].ask.attacked && self.nodes[i].kind == Kind::Colluder;
            match r.status {
                Status::Committing if member && slot.commitment.is_none() => {
                    let work = self.reqs[q].work.get(&me).cloned();
                    match work {
                        // A colluder on an attacked request: the wrong output at
                        // once, or silence, or a commitment it will not open.
                        None if attacked => {
                            let wrong = self.reqs[q].wrong;
                            match self.rng.random_range(0..8) {
                                0 => {
                                    self.reqs[q].work.insert(me, Work::GaveUp);
                                }
                                1 => {
                                    self.reqs[q].work.insert(me, Work::Withhold(wrong));
                                    self.send_once(Tx::Commit { node: i, req: id, digest: wrong });
                                }
                                _ => {
                                    self.reqs[q].work.insert(me, Work::Done(wrong));
                                    self.send_once(Tx::Commit { node: i, req: id, digest: wrong });
                                }
                            }
                        }
                        None => self.start(i, q, &r),
                        Some(Work::Fetching(since)) => self.fetch(i, q, &r, since),
                        Some(Work::Done(d) | Work::Withhold(d)) => {
                            self.send_once(Tx::Commit { node: i, req: id, digest: d })
                        }
                        _ => {}
                    }
                }
                Status::Revealing if member && slot.commitment.is_some() && slot.reveal.is_none() => {
                    if let Some(Work::Done(d)) = self.reqs[q].work.get(&me).cloned() {
                        self.send_once(Tx::Reveal { node: i, req: id, digest: d });
                    }
                }
                _ => {}
            }
        }
    }

    pub(super) fn send_once(&mut self, tx: Tx) {
        let key = format!("{tx:?}");
        if self.inflight.insert(key) {
            self.send(tx);
        }
    }

    /// A new assignment: check the model, then fetch the input.
    pub(super) fn start(&mut self, i: usize, q: usize, r: &Request) {
        let me = self.nodes[i].cap.id;
        let installed = self.nodes[i].models.get(&self.reqs[q].model).is_some_and(|t| *t <= self.driver.now);
        if !installed {
            self.reqs[q].work.insert(me, Work::GaveUp);
            self.send_once(Tx::Decline { node: i, req: r.id });
            return;
        }
        self.reqs[q].work.insert(me, Work::Fetching(self.driver.now));
        self.fetch(i, q, r, self.driver.now);
    }

    /// The run-time bound of request `q`'s model.
    pub(super) fn bound_of(&self, q: usize) -> u64 {
        self.models.iter().find(|m| m.0 == self.reqs[q].model).map_or(0, |m| m.1)
    }

    /// Tries to fetch the input; abstains once it is clear it will not come.
    /// With the input, queues the run, or declines when the queue ahead of
    /// it would make it late.
    pub(super) fn fetch(&mut self, i: usize, q: usize, r: &Request, since: u64) {
        let me = self.nodes[i].cap.id;
        if matches!(r.input, Input::Inline(_)) || self.served(q, i) {
            let prio =
                u8::from(matches!(r.slots[r.active_slot(&me).unwrap_or(0)].role, Role::Disputer | Role::Verifier));
            self.reqs[q].work.insert(me, Work::Queued);
            self.nodes[i].queue.push((prio, r.deadline_ms, r.id));
            self.plan(i);
            if self.nodes[i].running.is_none() {
                self.start_next(i);
            }
            return;
        }
        // Gives up after its input timeout, or once a run could no longer land in time.
        let bound = self.bound_of(q);
        let give_up = (since + INPUT_TIMEOUT_MS).min(r.deadline_ms.saturating_sub(bound + LATENCY_MS + FETCH_MS));
        if self.driver.now >= give_up {
            self.reqs[q].work.insert(me, Work::GaveUp);
            self.send_once(Tx::Abstain { node: i, req: r.id });
        } else {
            // No requester serves an input it refused before: look again when giving up.
            self.at(give_up, Ev::Wake(i));
        }
    }

    /// Plans the queue in the order the worker will take it (drafted seats
    /// first, then the earliest deadline), each run taking its bound, and
    /// declines at once every run that would land late.
    pub(super) fn plan(&mut self, i: usize) {
        let mut queue = self.nodes[i].queue.clone();
        queue.sort_by_key(|(p, d, _)| (Reverse(*p), *d));
        let mut t = self.nodes[i].running.map_or(self.driver.now, |(_, end)| end.max(self.driver.now));
        let mut keep = Vec::new();
        for (p, d, req) in queue {
            let Some(q) = self.req_index(&req) else { continue };
            let deadline = self.driver.state.request(&req).map_or(d, |r| r.deadline_ms);
            let end = t + FETCH_MS + self.bound_of(q);
            if end + LATENCY_MS > deadline {
                let me = self.nodes[i].cap.id;
                self.reqs[q].work.insert(me, Work::GaveUp);
                self.send_once(Tx::Decline { node: i, req });
            } else {
                t = end;
                keep.push((p, d, req));
            }
        }
        self.nodes[i].queue = keep;
    }

    /// The worker takes the next run: the highest priority, then the
    /// earliest deadline; a run that could no longer land in time is declined.
    pub(super) fn start_next(&mut self, i: usize) {
        loop {
            let n = &mut self.nodes[i];
            if n.running.is_some() || n.queue.is_empty() {
                return;
            }
            let k = (0..n.queue.len()).min_by_key(|&k| (Reverse(n.queue[k].0), n.queue[k].1)).expect("non-empty");
            let (_, _, req) = n.queue.remove(k);
            let Some(q) = self.req_index(&req) else { continue };
            let me = self.nodes[i].cap.id;
            let Ok(r) = self.driver.state.request(&req) else { continue };
            if r.status.is_final() || r.active_slot(&me).is_none() {
                continue;
            }
            let bound = self.bound_of(q);
            if self.driver.now + FETCH_MS + bound + LATENCY_MS > r.deadline_ms {
                self.reqs[q].work.insert(me, Work::GaveUp);
                self.send_once(Tx::Decline { node: i, req });
                continue;
            }
            let run = self.rng.random_range(bound / 4..=bound);
            let fetch = if self.reqs[q].ask.uri.is_some() { FETCH_MS } else { 0 };
            let end = self.driver.now + fetch + run;
            self.nodes[i].running = Some((req, end));
            self.reqs[q].work.insert(me, Work::Running);
            self.at(end, Ev::Done { node: i, req });
            return;
        }
    }

    /// The honest keeper (any node may be one) and the requesters' secrets.
    pub(super) fn keep(&mut self) {
        let open: Vec<Request> =
            self.driver.state.requests.values().filter(|r| !r.status.is_final()).cloned().collect();
        for r in open {
            for call in due(&r, self.driver.now, KEEP_MARGIN_MS) {
                self.send_once(Tx::Keep { req: r.id, call });
            }
            if r.status != Status::Finalized && r.deadline_ms > self.driver.now {
                let at = r.deadline_ms + KEEP_MARGIN_MS;
                let key = format!("keeper at {at}");
                if self.inflight.insert(key) {
                    self.at(at, Ev::Keeper);
                }
            }
            if let Some(q) = self.req_index(&r.id)
                && r.status == Status::Verifying
                && r.secret.is_none()
            {
                match self.reqs[q].ask.secret {
                    SecretPlan::Prompt => self.send_once(Tx::Secret { req: r.id }),
                    SecretPlan::Late if self.driver.now >= r.deadline_ms => self.send_once(Tx::Secret { req: r.id }),
                    _ => {}
                }
            }
        }
    }
}
