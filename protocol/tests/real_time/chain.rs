//! The calls the model makes on the chain, one function each, so that the
//! model reads the same whatever the entry functions' arguments are.

use atoma_protocol::commitment::secret_hash;
use atoma_protocol::ops::{Ctx, KeeperCall, Outcome, State, SubmitArgs};
use atoma_protocol::{AdminCap, Digest, Mode, NodeCap, ObjectId, Params, ProtocolError};

type R = Result<Outcome, ProtocolError>;

#[allow(clippy::too_many_arguments)]
pub fn submit(
    s: &mut State,
    ctx: &Ctx,
    class: &ObjectId,
    id: ObjectId,
    mode: Mode,
    args: SubmitArgs,
    fee: u64,
    seed: Digest,
    secret: &Digest,
) -> R {
    s.submit_mode(ctx, class, id, args, mode, &secret_hash(secret).0, fee, seed)
}

pub fn commit(s: &mut State, ctx: &Ctx, class: &ObjectId, req: &ObjectId, cap: &NodeCap, c: &Digest) -> R {
    s.commit(ctx, class, req, cap, &c.0)
}

pub fn commit_primary(
    s: &mut State,
    ctx: &Ctx,
    class: &ObjectId,
    req: &ObjectId,
    cap: &NodeCap,
    c: &Digest,
    random: Digest,
) -> R {
    s.commit_primary(ctx, class, req, cap, &c.0, random)
}

pub fn reveal(
    s: &mut State,
    ctx: &Ctx,
    class: &ObjectId,
    req: &ObjectId,
    cap: &NodeCap,
    digest: &Digest,
    salt: &Digest,
) -> R {
    s.reveal(ctx, class, req, cap, &digest.0, &salt.0)
}

/// The member cannot obtain the input.
pub fn abstain(s: &mut State, ctx: &Ctx, class: &ObjectId, req: &ObjectId, cap: &NodeCap, random: Digest) -> R {
    s.abstain(ctx, class, req, cap, random)
}

/// The member cannot run the request in time.
pub fn decline(s: &mut State, ctx: &Ctx, class: &ObjectId, req: &ObjectId, cap: &NodeCap, random: Digest) -> R {
    s.decline(ctx, class, req, cap, random)
}

pub fn reveal_secret(s: &mut State, ctx: &Ctx, class: &ObjectId, req: &ObjectId, secret: &Digest) -> R {
    s.reveal_secret(ctx, class, req, &secret.0)
}

pub fn keep(s: &mut State, ctx: &Ctx, class: &ObjectId, req: &ObjectId, call: KeeperCall, random: Digest) -> R {
    s.keep(ctx, class, req, call, || random)
}

/// Adds a model whose honest run on the class takes at most `run_ms`.
pub fn add_model(s: &mut State, admin: &AdminCap, class: &ObjectId, name: &str, run_ms: u64) -> R {
    s.add_model(admin, class, name, &[7; 32], run_ms)
}

pub fn set_params(s: &mut State, admin: &AdminCap, params: Params) -> R {
    s.set_params(admin, params)
}

/// A package upgrade: the network and the class move to the next version.
pub fn upgrade(s: &mut State, admin: &AdminCap, class: &ObjectId) -> R {
    s.package_version += 1;
    let mut out = s.migrate(admin)?;
    out.events.extend(s.migrate_class(admin, class)?.events);
    Ok(out)
}

/// The time a node may withdraw, from the `NodeLeaving` event.
pub fn promised_exit(out: &Outcome) -> Option<u64> {
    out.events.iter().find_map(|e| match e {
        atoma_protocol::Event::NodeLeaving(l) => Some(l.withdraw_after_ms),
        _ => None,
    })
}
