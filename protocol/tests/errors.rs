//! Every protocol error, triggered through the public operations; each case
//! also checks (in the world's checked `Driver::apply`) that the failed
//! operation changed nothing.

#![allow(clippy::too_many_lines)] // the 80-line rule is for the product's functions; here one table of every error, in the order they are checked

mod common;

use std::collections::HashSet;

use atoma_protocol::commitment::blake2b256;
use atoma_protocol::{Address, AdminCap, Digest, Mode, NodeCap, ObjectId, Params, ProtocolError as E, Status};
use common::*;

type Case = (E, fn() -> Result<(), E>);

fn unit<T>(r: Result<T, E>) -> Result<(), E> {
    r.map(|_| ())
}

fn cases() -> Vec<Case> {
    vec![
        (E::WrongNetwork, || {
            let mut w = World::new(1);
            let cap = AdminCap { id: ObjectId::from_u64(2), network_id: ObjectId::from_u64(99) };
            unit(w.run(0, |s| s.set_params(&cap, Params::default())))
        }),
        (E::WrongNetwork, || {
            let mut w = World::new(2);
            let req = w.submit(Mode::Sampling { n: 1 });
            let node = w.members(&req)[0];
            let cap = NodeCap { id: node, network_id: ObjectId::from_u64(99), class_id: 0 };
            let (ctx, class) = (w.ctx(w.owner(&node)), w.class);
            unit(w.run(0, |s| s.commit(&ctx, &class, &req, &cap, &[0; 32])))
        }),
        (E::InvalidParams, || {
            let mut w = World::new(0);
            let cap = w.admin;
            unit(w.run(0, |s| s.set_params(&cap, Params { max_n: 0, ..Params::default() })))
        }),
        (E::InvalidParams, || {
            unit(atoma_protocol::State::create_network(
                ObjectId::from_u64(1),
                ObjectId::from_u64(2),
                Params { reveal_window_ms: 0, ..Params::default() },
            ))
        }),
        (E::UnknownClass, || {
            let mut w = World::new(0);
            let ctx = w.ctx(owner_of(0));
            let missing = ObjectId::from_u64(99);
            unit(w.run(0, |s| {
                s.register_node(&ctx, &missing, ObjectId::from_u64(5), MIN_COLLATERAL, "http://n", &[1; 32])
                    .map(|r| r.1)
            }))
        }),
        (E::UnknownClass, || {
            let mut w = World::new(0);
            let cap = w.admin;
            unit(w.run(0, |s| s.sweep_revenue(&cap, &ObjectId::from_u64(99))))
        }),
        (E::WrongVersion, || {
            // Objects a newer package migrated: this package may not use them.
            let mut w = World::new(2);
            w.state.network.version = 2;
            unit(w.try_submit(Mode::Sampling { n: 1 }, FEE, w.args(b"x")))
        }),
        (E::WrongVersion, || {
            // A class not yet migrated to this package.
            let mut w = World::new(2);
            let req = w.submit(Mode::Sampling { n: 1 });
            let class = w.class;
            w.state.classes.get_mut(&class).unwrap().version = 0;
            w.now += TIMEOUT;
            unit(w.expire(&req))
        }),
        (E::WrongVersion, || {
            // Migrating what is already at this package's version.
            let mut w = World::new(0);
            let cap = w.admin;
            unit(w.run(0, |s| s.migrate(&cap)))
        }),
        (E::WrongClass, || {
            // A request submitted with another class's object than its model's.
            let mut w = World::new(2);
            let (other, _) = w.add_class("other");
            let (id, seed, ctx, args) = (w.fresh_id(), w.seed(), w.ctx(REQUESTER), w.args(b"x"));
            unit(w.run(FEE, |s| s.submit_mode(&ctx, &other, id, args, Mode::Sampling { n: 1 }, &[], FEE, seed)))
        }),
        (E::WrongClass, || {
            // A keeper call naming another class than the request's.
            let mut w = World::new(2);
            let (other, _) = w.add_class("other");
            let req = w.submit(Mode::Sampling { n: 1 });
            w.now += TIMEOUT;
            let (ctx, random) = (w.ctx(REQUESTER), w.seed());
            unit(w.run(0, |s| s.expire(&ctx, &other, &req, random)))
        }),
        (E::WrongClass, || {
            // A node of one class acting through another class's object.
            let mut w = World::new(1);
            let (other, _) = w.add_class("other");
            let (cap, ctx) = (w.caps[0], w.ctx(owner_of(0)));
            unit(w.run(0, |s| s.request_leave(&ctx, &other, &cap)))
        }),
        (E::WrongClass, || {
            // A reveal whose cap is of another class than the request's.
            let mut w = World::new(2);
            let req = w.submit(Mode::Sampling { n: 1 });
            let node = w.members(&req)[0];
            w.commit(&req, &node, &out("A")).unwrap();
            let cap = NodeCap { class_id: 7, ..w.cap(&node) };
            let (ctx, class, salt) = (w.ctx(w.owner(&node)), w.class, salt_of(&node));
            unit(w.run(0, |s| s.reveal(&ctx, &class, &req, &cap, &out("A").0, &salt.0)))
        }),
        (E::UnknownClass, || {
            let mut w = World::new(0);
            let cap = w.admin;
            unit(w.run(0, |s| s.add_model(&cap, &ObjectId::from_u64(99), "other", &[0; 32], RUN_MS)))
        }),
        (E::UnknownModel, || {
            let mut w = World::new(2);
            let args = atoma_protocol::SubmitArgs { model_id: "nope".into(), ..w.args(b"x") };
            unit(w.try_submit(Mode::Sampling { n: 1 }, FEE, args))
        }),
        (E::ModelExists, || {
            let mut w = World::new(0);
            let cap = w.admin;
            let class = w.class;
            unit(w.run(0, |s| s.add_model(&cap, &class, "m", &[0; 32], RUN_MS)))
        }),
        (E::InvalidDigest, || {
            let mut w = World::new(0);
            let cap = w.admin;
            let class = w.class;
            unit(w.run(0, |s| s.add_model(&cap, &class, "m2", &[0; 31], RUN_MS)))
        }),
        (E::InvalidDigest, || {
            let mut w = World::new(2);
            let args = atoma_protocol::SubmitArgs { input_digest: vec![0; 33], ..w.args(b"x") };
            unit(w.try_submit(Mode::Sampling { n: 1 }, FEE, args))
        }),
        (E::InvalidDigest, || {
            let mut w = World::new(2);
            let req = w.submit(Mode::Sampling { n: 1 });
            let node = w.members(&req)[0];
            let (cap, ctx, class) = (w.cap(&node), w.ctx(w.owner(&node)), w.class);
            unit(w.run(0, |s| s.commit(&ctx, &class, &req, &cap, &[0; 3])))
        }),
        (E::InvalidDigest, || {
            let mut w = World::new(2);
            let req = w.submit(Mode::Sampling { n: 1 });
            let node = w.members(&req)[0];
            w.commit(&req, &node, &out("A")).unwrap();
            let (cap, ctx) = (w.cap(&node), w.ctx(w.owner(&node)));
            let class = w.class;
            unit(w.run(0, |s| s.reveal(&ctx, &class, &req, &cap, &[0; 31], &salt_of(&node).0)))
        }),
        (E::InvalidDigest, || {
            let mut w = World::new(4);
            let (id, seed, ctx, args, class) = (w.fresh_id(), w.seed(), w.ctx(REQUESTER), w.args(b"x"), w.class);
            unit(w.run(FEE, |s| {
                s.submit_mode(&ctx, &class, id, args, Mode::Sealed { p_bps: 100, n: 1 }, &[1; 5], FEE, seed)
            }))
        }),
        (E::InvalidName, || {
            let mut w = World::new(0);
            let cap = w.admin;
            unit(w.run(0, |s| s.add_hardware_class(&cap, ObjectId::from_u64(50), "", "p", 10, 1).map(|r| r.1)))
        }),
        (E::InvalidName, || {
            let mut w = World::new(0);
            let cap = w.admin;
            let class = w.class;
            unit(w.run(0, |s| s.add_model(&cap, &class, &"x".repeat(129), &[0; 32], RUN_MS)))
        }),
        (E::InvalidProfile, || {
            let mut w = World::new(0);
            let cap = w.admin;
            unit(w.run(0, |s| s.add_hardware_class(&cap, ObjectId::from_u64(50), "c", "", 10, 1).map(|r| r.1)))
        }),
        (E::InvalidProfile, || {
            let mut w = World::new(0);
            let cap = w.admin;
            unit(w.run(0, |s| {
                s.add_hardware_class(&cap, ObjectId::from_u64(50), "c", &"p".repeat(257), 10, 1).map(|r| r.1)
            }))
        }),
        (E::InvalidTaskLock, || {
            let mut w = World::new(0);
            let cap = w.admin;
            unit(w.run(0, |s| s.add_hardware_class(&cap, ObjectId::from_u64(50), "c", "p", 10, 0).map(|r| r.1)))
        }),
        (E::InvalidTaskLock, || {
            let mut w = World::new(0);
            let cap = w.admin;
            unit(w.run(0, |s| s.add_hardware_class(&cap, ObjectId::from_u64(50), "c", "p", 10, 11).map(|r| r.1)))
        }),
        (E::InsufficientCollateral, || {
            let mut w = World::new(0);
            let (ctx, class) = (w.ctx(owner_of(0)), w.class);
            unit(w.run(MIN_COLLATERAL - 1, |s| {
                s.register_node(&ctx, &class, ObjectId::from_u64(5), MIN_COLLATERAL - 1, "http://n", &[1; 32])
                    .map(|r| r.1)
            }))
        }),
        (E::UnknownNode, || {
            let mut w = World::new(1);
            let cap = NodeCap { id: ObjectId::from_u64(12345), network_id: ObjectId::from_u64(1), class_id: 0 };
            let class = w.class;
            unit(w.run(5, |s| s.add_collateral(&class, &cap, 5)))
        }),
        (E::InvalidEndpoint, || {
            let mut w = World::new(0);
            let (ctx, class) = (w.ctx(owner_of(0)), w.class);
            unit(w.run(0, |s| {
                s.register_node(&ctx, &class, ObjectId::from_u64(5), MIN_COLLATERAL, "", &[1; 32]).map(|r| r.1)
            }))
        }),
        (E::InvalidEndpoint, || {
            let mut w = World::new(1);
            let (cap, class) = (w.caps[0], w.class);
            unit(w.run(0, |s| s.set_endpoint(&class, &cap, &"e".repeat(257))))
        }),
        (E::InvalidPublicKey, || {
            let mut w = World::new(0);
            let (ctx, class) = (w.ctx(owner_of(0)), w.class);
            unit(w.run(0, |s| {
                s.register_node(&ctx, &class, ObjectId::from_u64(5), MIN_COLLATERAL, "http://n", &[1; 31]).map(|r| r.1)
            }))
        }),
        (E::AlreadyLeaving, || {
            let mut w = World::new(1);
            let (cap, ctx, class) = (w.caps[0], w.ctx(owner_of(0)), w.class);
            w.run(0, |s| s.request_leave(&ctx, &class, &cap)).unwrap();
            unit(w.run(0, |s| s.request_leave(&ctx, &class, &cap)))
        }),
        (E::NotLeaving, || {
            let mut w = World::new(1);
            let (cap, ctx, class) = (w.caps[0], w.ctx(owner_of(0)), w.class);
            unit(w.run(0, |s| s.withdraw(&ctx, &class, cap)))
        }),
        (E::Unbonding, || {
            let mut w = World::new(1);
            let (cap, ctx, class) = (w.caps[0], w.ctx(owner_of(0)), w.class);
            w.run(0, |s| s.request_leave(&ctx, &class, &cap)).unwrap();
            w.now += Params::default().unbonding_delay_ms - 1;
            let ctx = w.ctx(owner_of(0));
            unit(w.run(0, |s| s.withdraw(&ctx, &class, cap)))
        }),
        (E::OpenTasks, || {
            let mut w = World::new(1);
            w.submit(Mode::Sampling { n: 1 });
            let (cap, ctx, class) = (w.caps[0], w.ctx(owner_of(0)), w.class);
            w.run(0, |s| s.request_leave(&ctx, &class, &cap)).unwrap();
            w.now += Params::default().unbonding_delay_ms;
            let ctx = w.ctx(owner_of(0));
            unit(w.run(0, |s| s.withdraw(&ctx, &class, cap)))
        }),
        (E::InvalidQuorum, || unit(World::new(2).try_submit(Mode::Sampling { n: 0 }, FEE, World::new(0).args(b"x")))),
        (E::InvalidQuorum, || {
            unit(World::new(20).try_submit(Mode::Sampling { n: 17 }, u64::MAX, World::new(0).args(b"x")))
        }),
        (E::InvalidProbability, || {
            unit(World::new(3).try_submit(Mode::CrossValidation { p_bps: 10_001, n: 1 }, FEE, World::new(0).args(b"x")))
        }),
        (E::NotEnoughNodes, || unit(World::new(2).try_submit(Mode::Sampling { n: 3 }, FEE, World::new(0).args(b"x")))),
        (E::NotEnoughNodes, || {
            unit(World::new(2).try_submit(Mode::Sealed { p_bps: 100, n: 2 }, FEE, World::new(0).args(b"x")))
        }),
        (E::FeeTooLow, || {
            let fee = Params::default().min_fee_per_execution * 3 - 1;
            unit(World::new(3).try_submit(Mode::Sampling { n: 3 }, fee, World::new(0).args(b"x")))
        }),
        (E::InvalidInput, || {
            let mut w = World::new(2);
            let args = atoma_protocol::SubmitArgs { input_uri: Some("https://x".into()), ..w.args(b"x") };
            unit(w.try_submit(Mode::Sampling { n: 1 }, FEE, args))
        }),
        (E::InvalidInput, || {
            let mut w = World::new(2);
            let args = atoma_protocol::SubmitArgs { input_inline: vec![], ..w.args(b"x") };
            unit(w.try_submit(Mode::Sampling { n: 1 }, FEE, args))
        }),
        (E::InvalidInput, || {
            let mut w = World::new(2);
            let big = vec![1u8; Params::default().max_inline_input as usize + 1];
            let args = w.args(&big);
            unit(w.try_submit(Mode::Sampling { n: 1 }, FEE, args))
        }),
        (E::InputDigestMismatch, || {
            let mut w = World::new(2);
            let args = atoma_protocol::SubmitArgs { input_digest: blake2b256(b"y").0.to_vec(), ..w.args(b"x") };
            unit(w.try_submit(Mode::Sampling { n: 1 }, FEE, args))
        }),
        (E::InvalidTimeout, || {
            let mut w = World::new(2);
            // One millisecond short of the model's run, the class's longest and `min_timeout_ms`.
            let args = atoma_protocol::SubmitArgs { timeout_ms: TIMEOUT - 1, ..w.args(b"x") };
            unit(w.try_submit(Mode::Sampling { n: 1 }, FEE, args))
        }),
        (E::InvalidTimeout, || {
            let mut w = World::new(2);
            let args = atoma_protocol::SubmitArgs { timeout_ms: Params::default().max_timeout_ms + 1, ..w.args(b"x") };
            unit(w.try_submit(Mode::Sampling { n: 1 }, FEE, args))
        }),
        (E::WrongPhase, || {
            let mut w = World::new(2);
            let req = w.submit(Mode::Sampling { n: 1 });
            let node = w.members(&req)[0];
            unit(w.reveal(&req, &node, &out("A")))
        }),
        (E::WrongPhase, || {
            let mut w = World::new(2);
            let req = w.submit(Mode::Sampling { n: 1 });
            unit(w.select_nodes(&req))
        }),
        (E::WrongPhase, || {
            let mut w = World::new(2);
            let req = w.submit(Mode::Sampling { n: 1 });
            unit(w.open_dispute(&req))
        }),
        (E::WrongPhase, || {
            let mut w = World::new(2);
            let req = w.submit(Mode::Sampling { n: 1 });
            w.play_round(&req, |_| out("A"));
            w.now += 1_000_000;
            unit(w.expire(&req))
        }),
        (E::WrongPhase, || {
            let mut w = World::new(4);
            let req = w.submit(Mode::Sealed { p_bps: 100, n: 1 });
            unit(w.reveal_secret(&req, &World::secret()))
        }),
        (E::NotSelected, || {
            let mut w = World::new(3);
            let req = w.submit(Mode::Sampling { n: 1 });
            let other = w.caps.iter().map(|c| c.id).find(|id| !w.members(&req).contains(id)).unwrap();
            unit(w.commit(&req, &other, &out("A")))
        }),
        (E::NotSelected, || {
            let mut w = World::new(3);
            let req = w.submit(Mode::Sampling { n: 1 });
            w.commit(&req, &w.members(&req)[0], &out("A")).unwrap();
            let other = w.caps.iter().map(|c| c.id).find(|id| !w.members(&req).contains(id)).unwrap();
            unit(w.reveal(&req, &other, &out("A")))
        }),
        (E::AlreadyCommitted, || {
            let mut w = World::new(3);
            let req = w.submit(Mode::Sampling { n: 2 });
            let node = w.members(&req)[0];
            w.commit(&req, &node, &out("A")).unwrap();
            unit(w.commit(&req, &node, &out("B")))
        }),
        (E::DeadlinePassed, || {
            let mut w = World::new(2);
            let req = w.submit(Mode::Sampling { n: 1 });
            w.now += TIMEOUT;
            unit(w.commit(&req, &w.members(&req)[0], &out("A")))
        }),
        (E::DeadlinePassed, || {
            let mut w = World::new(2);
            let req = w.submit(Mode::Sampling { n: 1 });
            let node = w.members(&req)[0];
            w.commit(&req, &node, &out("A")).unwrap();
            w.now += Params::default().reveal_window_ms;
            unit(w.reveal(&req, &node, &out("A")))
        }),
        (E::AlreadyRevealed, || {
            let mut w = World::new(3);
            let req = w.submit(Mode::Sampling { n: 2 });
            let nodes = w.members(&req);
            for n in &nodes {
                w.commit(&req, n, &out("A")).unwrap();
            }
            w.reveal(&req, &nodes[0], &out("A")).unwrap();
            unit(w.reveal(&req, &nodes[0], &out("A")))
        }),
        (E::CommitmentMismatch, || {
            let mut w = World::new(2);
            let req = w.submit(Mode::Sampling { n: 1 });
            let node = w.members(&req)[0];
            w.commit(&req, &node, &out("A")).unwrap();
            unit(w.reveal(&req, &node, &out("B")))
        }),
        (E::InvalidRunTime, || {
            let mut w = World::new(0);
            let (cap, class) = (w.admin, w.class);
            unit(w.run(0, |s| s.add_model(&cap, &class, "m2", &[0; 32], 0)))
        }),
        (E::InvalidRunTime, || {
            let mut w = World::new(0);
            let (cap, class) = (w.admin, w.class);
            unit(w.run(0, |s| s.add_model(&cap, &class, "m2", &[0; 32], 365 * 24 * 3_600_000 + 1)))
        }),
        (E::ArithmeticError, || {
            // A fee no coin on Sui can hold, and a slash that adds to it: the
            // payout's sum overflows, as `Balance::join` aborts in Move.
            let mut w = World::new(3);
            let req = w.try_submit(Mode::Sampling { n: 3 }, u64::MAX, w.args(b"x")).unwrap();
            let members = w.members(&req);
            for n in &members {
                w.commit(&req, n, &out("A")).unwrap();
            }
            w.reveal(&req, &members[0], &out("A")).unwrap();
            w.reveal(&req, &members[1], &out("A")).unwrap();
            w.now += Params::default().reveal_window_ms;
            w.expire(&req).unwrap();
            w.now += Params::default().grace_ms;
            unit(w.expire(&req))
        }),
        (E::ArithmeticError, || {
            // A deadline past the end of time.
            let mut w = World::new(2);
            w.now = u64::MAX - 1;
            unit(w.try_submit(Mode::Sampling { n: 1 }, FEE, w.args(b"x")))
        }),
        (E::DeadlineNotReached, || {
            let mut w = World::new(2);
            let req = w.submit(Mode::Sampling { n: 1 });
            w.now += TIMEOUT - 1;
            unit(w.expire(&req))
        }),
        (E::PrimaryCommitRequired, || {
            let mut w = World::new(3);
            let req = w.submit(Mode::CrossValidation { p_bps: 100, n: 1 });
            unit(w.commit(&req, &w.members(&req)[0], &out("A")))
        }),
        (E::NotPrimary, || {
            let mut w = World::new(3);
            let req = w.submit(Mode::Sampling { n: 1 });
            unit(w.commit_primary(&req, &w.members(&req)[0], &out("A"), Digest([0; 32])))
        }),
        (E::PrimaryNotCommitted, || {
            let mut w = World::new(4);
            let req = w.submit(Mode::Sealed { p_bps: 100, n: 1 });
            let candidate = w.req(&req).nodes_with_role(atoma_protocol::Role::Candidate)[0];
            unit(w.commit(&req, &candidate, &out("A")))
        }),
        (E::NotSealed, || {
            let mut w = World::new(2);
            let req = w.submit(Mode::Sampling { n: 1 });
            unit(w.reveal_secret(&req, &World::secret()))
        }),
        (E::SecretMismatch, || {
            let mut w = World::new(4);
            let req = w.submit(Mode::Sealed { p_bps: 100, n: 1 });
            w.commit(&req, &w.members(&req)[0], &out("A")).unwrap();
            assert_eq!(w.req(&req).status, Status::Verifying);
            unit(w.reveal_secret(&req, &Digest([1; 32])))
        }),
        (E::InvalidSecret, || {
            let mut w = World::new(4);
            let req = w.submit(Mode::Sealed { p_bps: 100, n: 1 });
            let (ctx, class) = (w.ctx(REQUESTER), w.class);
            unit(w.run(0, |s| s.reveal_secret(&ctx, &class, &req, &[0; 8])))
        }),
        (E::InvalidSalt, || {
            let mut w = World::new(2);
            let req = w.submit(Mode::Sampling { n: 1 });
            let node = w.members(&req)[0];
            w.commit(&req, &node, &out("A")).unwrap();
            let (cap, ctx, class) = (w.cap(&node), w.ctx(w.owner(&node)), w.class);
            unit(w.run(0, |s| s.reveal(&ctx, &class, &req, &cap, &out("A").0, &[0; 16])))
        }),
        (E::InsufficientTreasury, || {
            let mut w = World::new(0);
            let (cap, ctx) = (w.admin, w.ctx(Address::from_u64(1)));
            unit(w.run(0, |s| s.withdraw_treasury(&ctx, &cap, 1)))
        }),
        (E::UnknownRequest, || {
            let mut w = World::new(1);
            unit(w.select_nodes(&ObjectId::from_u64(424242)))
        }),
        (E::InputOnChain, || {
            let mut w = World::new(2);
            let req = w.submit(Mode::Sampling { n: 1 });
            unit(w.abstain(&req, &w.members(&req)[0]))
        }),
        (E::DeadlinePassed, || {
            let mut w = World::new(4);
            let req = w.submit(Mode::Sealed { p_bps: 100, n: 1 });
            w.commit(&req, &w.members(&req)[0], &out("A")).unwrap();
            w.now += Params::default().reveal_window_ms;
            unit(w.reveal_secret(&req, &World::secret()))
        }),
        (E::DeadlinePassed, || {
            let mut w = World::new(2);
            let req = w.try_submit(Mode::Sampling { n: 1 }, FEE, w.uri_args(b"x")).unwrap();
            w.now += TIMEOUT;
            unit(w.abstain(&req, &w.members(&req)[0]))
        }),
        (E::AlreadyCommitted, || {
            let mut w = World::new(3);
            let req = w.try_submit(Mode::Sampling { n: 2 }, FEE, w.uri_args(b"x")).unwrap();
            let node = w.members(&req)[0];
            w.commit(&req, &node, &out("A")).unwrap();
            unit(w.abstain(&req, &node))
        }),
        (E::NotSelected, || {
            let mut w = World::new(3);
            let req = w.try_submit(Mode::Sampling { n: 1 }, FEE, w.uri_args(b"x")).unwrap();
            let other = w.caps.iter().map(|c| c.id).find(|id| !w.members(&req).contains(id)).unwrap();
            unit(w.abstain(&req, &other))
        }),
        (E::WrongPhase, || {
            let mut w = World::new(3);
            let req = w.try_submit(Mode::Sampling { n: 2 }, FEE, w.uri_args(b"x")).unwrap();
            let nodes = w.members(&req);
            for n in &nodes {
                w.commit(&req, n, &out("A")).unwrap();
            }
            unit(w.abstain(&req, &nodes[0]))
        }),
        (E::DeadlineNotReached, || {
            let mut w = World::new(2);
            let req = w.submit(Mode::Sampling { n: 1 });
            w.now += TIMEOUT;
            w.expire(&req).unwrap(); // extends the deadline by the grace
            w.now += Params::default().grace_ms - 1;
            unit(w.expire(&req))
        }),
    ]
}

#[test]
fn each_case_fails_with_its_error() {
    for (i, (expected, case)) in cases().into_iter().enumerate() {
        assert_eq!(case(), Err(expected), "case {i}");
    }
}

#[test]
fn every_error_code_is_exercised() {
    let covered: HashSet<E> = cases().into_iter().map(|(e, _)| e).collect();
    let missing: Vec<_> = E::ALL.iter().filter(|e| !covered.contains(e)).collect();
    assert!(missing.is_empty(), "errors without a test: {missing:?}");
}
