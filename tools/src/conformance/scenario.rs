//! A scenario's network: its start, the nodes' registration and calls, the
//! admin's calls and migrations, and the choice of the next operation.

use std::collections::BTreeMap;

use atoma_protocol::Status;
use atoma_protocol::ops::{Outcome, State};
use atoma_protocol::params::LATENCY_FLOOR_MS;
use atoma_protocol::{Address, ObjectId, Params, ProtocolError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::move_text::*;
use super::*;

impl Scenario {
    pub(super) fn new(seed: u64) -> Scenario {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let floor = LATENCY_FLOOR_MS;
        let params = Params {
            min_fee_per_execution: 1_000,
            min_timeout_ms: floor,
            max_timeout_ms: 60_000,
            reveal_window_ms: rng.random_range(floor..10_000),
            max_retries: rng.random_range(0..3),
            unbonding_delay_ms: rng.random_range(0..20_000),
            sealed_pool_factor: rng.random_range(1..4),
            grace_ms: rng.random_range(floor..8_000),
            ..Params::default()
        };
        // Transaction 0 creates the clock; transaction 1 the network (its
        // id, two tables, then the admin cap); transaction 2 the class (its
        // id, then five tables); transaction 3 the model.
        let network_id = scenario_id(1, 0);
        let tables = [scenario_id(1, 1), scenario_id(1, 2)];
        let (mut state, admin, _) = State::create_network(network_id, scenario_id(1, 3), params).expect("valid params");
        let class = scenario_id(2, 0);
        state.add_hardware_class(&admin, class, "cpu", "device=cpu", MIN_COLLATERAL, TASK_LOCK).expect("valid class");
        state.add_model(&admin, &class, MODEL, &[7; 32], RUN_MS).expect("valid model");
        let code = format!(
            "    let mut s = ts::begin({admin_addr});
    clock::create_for_testing(s.ctx()).share_for_testing();
    s.next_tx({admin_addr});
    network::create_for_testing({params}, s.ctx());
    s.next_tx({admin_addr});
    {{
        let mut net = s.take_shared<Network>();
        let cap = s.take_from_sender<AdminCap>();
        net.add_hardware_class(&cap, b\"cpu\".to_string(), b\"device=cpu\".to_string(), {MIN_COLLATERAL}, {TASK_LOCK}, s.ctx());
        s.return_to_sender(cap);
        ts::return_shared(net);
    }};
    s.next_tx({admin_addr});
    {{
        let mut net = s.take_shared<Network>();
        let mut class = s.take_shared<HardwareClass>();
        let cap = s.take_from_sender<AdminCap>();
        net.add_model(&cap, &mut class, b\"{MODEL}\".to_string(), x\"{weights}\", {RUN_MS});
        assert!(object::id(&net) == {network});
        s.return_to_sender(cap);
        ts::return_shared(class);
        ts::return_shared(net);
    }};
",
            admin_addr = mv_addr(&addr(ADMIN).0),
            params = mv_params(&params),
            weights = hex(&[7; 32]),
            network = mv_id(&network_id),
        );
        Scenario {
            rng,
            world: Driver::checked(state, 1_000_000),
            admin,
            txn: 3,
            tables,
            class,
            class_tables: [1, 2, 3, 4, 5].map(|i| scenario_id(2, i)),
            behaviours: BTreeMap::new(),
            live: Vec::new(),
            requests: Vec::new(),
            secrets: BTreeMap::new(),
            models: vec![(MODEL.to_string(), RUN_MS)],
            split: BTreeMap::new(),
            plain: code.clone(),
            code,
            debug: String::new(),
            ops: 0,
            events: 0,
            by_event: BTreeMap::new(),
            rejected: Vec::new(),
            asserted: BTreeMap::new(),
        }
    }

    /// Runs `rust` on the driver, given `op.sender` (the driver's typed node
    /// calls send as the node's owner, the same address while it is
    /// registered); on success appends the replay with its checks, on failure
    /// records a rejected-operation test. Returns whether it ran.
    pub(super) fn apply(
        &mut self,
        op: Op,
        rust: impl FnOnce(&mut Driver, Address) -> Result<Outcome, ProtocolError>,
    ) -> bool {
        match rust(&mut self.world, op.sender) {
            Ok(out) => {
                self.txn += 1;
                let checks = self.checks(&out, op.needs_request);
                let code = self.transaction(&op, &checks);
                self.code.push_str(&code);
                let plain = self.transaction(&op, "");
                self.plain.push_str(&plain);
                self.ops += 1;
                true
            }
            Err(e) => {
                if let Some(module) = error_module(op.module, e) {
                    let code = self.transaction(&op, "");
                    self.rejected.push((self.plain.clone(), code, e, module));
                }
                false
            }
        }
    }

    pub(super) fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        (!items.is_empty()).then(|| items[self.rng.random_range(0..items.len())])
    }

    // === Operations ===

    pub(super) fn register(&mut self) {
        let i = self.world.caps.len();
        // Now and then just below the minimum (refused).
        let collateral = if self.rng.random_bool(0.05) {
            MIN_COLLATERAL - 1
        } else {
            MIN_COLLATERAL * self.rng.random_range(1..4) + self.rng.random_range(0..2) * 500
        };
        // The minted coin is the transaction's first object, the NodeCap its second.
        let cap_id = scenario_id(self.txn + 1, 1);
        let behaviour = match self.rng.random_range(0..14) {
            0 | 1 => Behaviour::Wrong,
            2 => Behaviour::Silent,
            3 => Behaviour::Withhold,
            4 => Behaviour::LazyDisputer,
            5 => Behaviour::Decliner,
            _ => Behaviour::Honest,
        };
        let op = Op::new(
            owner(i),
            "node",
            format!(
                "        let coin = coin::mint_for_testing<SUI>({collateral}, s.ctx());
        node::register_node(&mut class, coin, b\"http://n{i}\".to_string(), x\"{key}\", s.ctx());
",
                key = hex(&[i as u8 + 1; 32])
            ),
        );
        let endpoint = format!("http://n{i}");
        let key = [i as u8 + 1; 32];
        let class = self.class;
        let ran = self
            .apply(op, |d, sender| d.register(sender, &class, cap_id, collateral, &endpoint, &key).map(|(_, out)| out));
        if ran {
            self.live.push(cap_id);
            self.behaviours.insert(cap_id, behaviour);
        }
    }

    pub(super) fn node_op(&mut self, kind: u8) {
        let Some(node) = self.pick(&self.live.clone()) else { return };
        let i = self.world.caps.iter().position(|c| c.id == node).expect("known node");
        let cap = self.world.caps[i];
        let amount = self.rng.random_range(1..3) * 500;
        let (body, consumes) = match kind {
            0 => (
                format!(
                    "        node::add_collateral(&mut class, &cap, coin::mint_for_testing<SUI>({amount}, s.ctx()));\n"
                ),
                false,
            ),
            1 => ("        node::request_leave(&net, &mut class, &cap, &clock);\n".to_string(), false),
            _ => ("        node::withdraw(&net, &mut class, cap, &clock, s.ctx());\n".to_string(), true),
        };
        let op = Op { needs_cap: Some(node), consumes_cap: consumes, ..Op::new(owner(i), "node", body) };
        let class = self.class;
        let ran = self.apply(op, |d, sender| match kind {
            0 => d.apply(sender, amount, |s, _| s.add_collateral(&class, &cap, amount)),
            1 => d.apply(sender, 0, |s, ctx| s.request_leave(ctx, &class, &cap)),
            _ => d.apply(sender, 0, |s, ctx| s.withdraw(ctx, &class, cap)),
        });
        if ran && kind >= 2 {
            self.live.retain(|n| *n != node);
        }
    }

    pub(super) fn admin_op(&mut self) {
        let admin = self.admin;
        let pick = self.rng.random_range(0..6);
        if pick == 0 {
            let p = self.world.state.network.params;
            // Windows anywhere from just below the floor (refused) up.
            let floor = LATENCY_FLOOR_MS;
            let params = Params {
                reveal_window_ms: self.rng.random_range(floor - 1..10_000),
                timeout_slash_bps: self.rng.random_range(0..=10_000),
                protocol_share_bps: self.rng.random_range(0..=10_000),
                max_retries: self.rng.random_range(0..3),
                grace_ms: self.rng.random_range(floor - 1..8_000),
                unbonding_delay_ms: self.rng.random_range(0..40_000),
                ..p
            };
            let args = params.values().map(|v| v.to_string()).join(", ");
            let op = Op {
                needs_admin: true,
                ..Op::new(addr(ADMIN), "network", format!("        net.set_params(&admin, {args});\n"))
            };
            self.apply(op, |d, sender| d.apply(sender, 0, |s, _| s.set_params(&admin, params)));
        } else if pick == 3 {
            // A model with its run-time bound: the class's longest may grow.
            let name = format!("m{}", self.models.len());
            let run_ms = self.rng.random_range(0..4_000);
            let op = Op {
                needs_admin: true,
                ..Op::new(
                    addr(ADMIN),
                    "network",
                    format!(
                        "        net.add_model(&admin, &mut class, b\"{name}\".to_string(), x\"{}\", {run_ms});\n",
                        hex(&[8; 32])
                    ),
                )
            };
            let class = self.class;
            if self
                .apply(op, |d, sender| d.apply(sender, 0, |s, _| s.add_model(&admin, &class, &name, &[8; 32], run_ms)))
            {
                self.models.push((name, run_ms));
            }
        } else if pick == 4 {
            self.migration();
        } else if pick == 1 {
            let op = Op {
                needs_admin: true,
                ..Op::new(addr(ADMIN), "network", "        net.sweep_revenue(&admin, &mut class);\n".to_string())
            };
            let class = self.class;
            self.apply(op, |d, sender| d.apply(sender, 0, |s, _| s.sweep_revenue(&admin, &class)));
        } else {
            let amount = self.rng.random_range(0..=self.world.state.network.treasury + 10);
            let op = Op {
                needs_admin: true,
                ..Op::new(
                    addr(ADMIN),
                    "network",
                    format!("        net.withdraw_treasury(&admin, {amount}, s.ctx());\n"),
                )
            };
            self.apply(op, |d, sender| d.apply(sender, 0, |s, ctx| s.withdraw_treasury(ctx, &admin, amount)));
        }
    }

    /// The objects as an older package left them (version 0), then, call
    /// after call, the admin's migration of the network and of the class;
    /// meanwhile every call through this package is refused.
    pub(super) fn migration(&mut self) {
        let admin = self.admin;
        let class = self.class;
        let (net_v, class_v) = (self.world.state.network.version, self.world.state.classes[&class].version);
        let current = self.world.state.package_version;
        if net_v == current && class_v == current {
            if self.rng.random_bool(0.3) {
                let body = "        net.set_version_for_testing(0);\n        class.set_version_for_testing(0);\n";
                let op = Op::new(addr(ADMIN), "network", body.to_string());
                self.apply(op, |d, sender| {
                    d.apply(sender, 0, |s, _| {
                        s.network.version = 0;
                        s.classes.get_mut(&class).expect("the class").version = 0;
                        Ok(Outcome::default())
                    })
                });
            }
        } else if net_v < current {
            let op =
                Op { needs_admin: true, ..Op::new(addr(ADMIN), "network", "        net.migrate(&admin);\n".into()) };
            self.apply(op, |d, sender| d.apply(sender, 0, |s, _| s.migrate(&admin)));
        } else {
            let body = "        network::migrate_class(&net, &admin, &mut class);\n".to_string();
            let op = Op { needs_admin: true, ..Op::new(addr(ADMIN), "network", body) };
            self.apply(op, |d, sender| d.apply(sender, 0, |s, _| s.migrate_class(&admin, &class)));
        }
    }

    /// An operation that should be refused, to test that Move refuses it too.
    pub(super) fn attempt(&mut self) {
        let Some(req) = self.pick(&self.requests.clone()) else { return };
        let r = self.world.state.requests[&req].clone();
        // Only nodes that still hold their cap can be named in a transaction.
        let nodes: Vec<ObjectId> = r.slots.iter().map(|s| s.node_id).filter(|n| self.live.contains(n)).collect();
        match self.rng.random_range(0..9) {
            0 => {
                if let Some(node) = self.pick(&nodes) {
                    self.commit(req, node);
                }
            }
            1 => {
                if let Some(node) = self.pick(&nodes) {
                    self.reveal(req, node, true);
                }
            }
            2 => {
                let kind = self.rng.random_range(0..3);
                self.keeper(req, kind);
            }
            3 => {
                self.reveal_secret(req, false);
            }
            4 | 5 => {
                if let Some(node) = self.pick(&nodes) {
                    let abstain = self.rng.random_bool(0.5);
                    self.leave(req, node, abstain);
                }
            }
            6 => self.foreign_cap_call(req),
            7 => {
                // The right secret, at exactly the end of its window (refused).
                if r.status == Status::Verifying {
                    self.world.now = self.world.now.max(r.deadline_ms);
                    self.reveal_secret(req, true);
                }
            }
            _ => {
                if let Some(node) = self.pick(&self.live.clone()) {
                    self.commit(req, node);
                }
            }
        }
    }

    pub(super) fn step(&mut self) {
        let open: Vec<ObjectId> =
            self.requests.iter().copied().filter(|r| !self.world.state.requests[r].status.is_final()).collect();
        match self.rng.random_range(0..100) {
            0..=3 => self.register(),
            4..=7 => {
                let kind = self.rng.random_range(0..3);
                self.node_op(kind)
            }
            8..=10 => self.admin_op(),
            11..=18 => self.submit(),
            19..=24 => self.attempt(),
            25..=32 => {
                // Time passes, to one millisecond before the next deadline of an
                // open request, to exactly it, or past it.
                let deadline = open.iter().map(|r| self.world.state.requests[r].deadline_ms).min();
                let offset = match self.rng.random_range(0..4) {
                    0 => -1,
                    1 => 0,
                    _ => self.rng.random_range(1..500),
                };
                self.world.now = deadline
                    .map_or(self.world.now + 1_000, |d| d.max(self.world.now))
                    .saturating_add_signed(offset)
                    .max(self.world.now);
                if let Some(req) = self.pick(&open) {
                    match self.rng.random_range(0..3) {
                        0 => {
                            self.play(req);
                        }
                        _ => {
                            self.keeper(req, 2);
                        }
                    }
                }
            }
            _ => {
                if let Some(req) = self.pick(&open) {
                    if !self.play(req) {
                        // Nothing to do in time: the deadline passes and a keeper expires it.
                        let d = self.world.state.requests[&req].deadline_ms;
                        self.world.now = self.world.now.max(d);
                        self.keeper(req, 2);
                    }
                } else {
                    self.submit();
                }
            }
        }
    }
}
