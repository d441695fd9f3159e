//! Submitting a request (Move module `request`: `submit_sampling`,
//! `submit_cross_validation`, `submit_sealed`).
//!
//! Submission draws the request's seed from on-chain randomness and samples,
//! from the model's class:
//! - Sampling `{n}`: `n` executors;
//! - CrossValidation `{p, n}`: one primary (verifiers come after its commit);
//! - Sealed `{p, n}`: one primary and a public pool of
//!   `min(sealed_pool_factor * n, eligible - 1)` candidates (at least `n`),
//!   from one draw (index 0 is the primary).
//!
//! Every member comes from the class's eligible nodes (free collateral for
//! one more task). Each executor's task lock is locked at once; Sealed
//! candidates hold no stake until the secret chooses them. The commit
//! timeout covers the model's run and one run of the class's longest model
//! (docs/protocol.md, "Time"). The request keeps a copy of the network's
//! parameters, which every later step reads. Submission reads the `Network`
//! (parameters, models) and changes only the model's class object.

use super::settle::{Pool, assign, sample_fresh};
use super::{Ctx, Outcome, State};
use crate::commitment::blake2b256;
use crate::error::{ProtocolError, Result, add};
use crate::events::{NodesSelected, RequestSubmitted};
use crate::params::MAX_URI_LEN;
use crate::request::{Request, Selection, Slot};
use crate::state::HardwareClass;
use crate::types::{BPS, Digest, Input, Mode, ObjectId, Role, Round, Status};

/// The arguments every submit function takes, as the Move entry functions
/// receive them (digests as raw bytes, the input as two optional parts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubmitArgs {
    /// The model to run (a key of the network's model table).
    pub model_id: String,
    /// Blake2b-256 of the input bytes.
    pub input_digest: Vec<u8>,
    /// The input itself (empty when `input_uri` is given).
    pub input_inline: Vec<u8>,
    /// Where to fetch the input (`None` when it is inline).
    pub input_uri: Option<String>,
    /// Commit timeout of every seat: at least `min_timeout_ms` plus the
    /// model's run-time bound plus the class's longest.
    pub timeout_ms: u64,
}

/// What a submission asks of the network besides its input: the rules the
/// state machine applies to it, in one place, so that a tool checks a
/// request before it pays for the transaction by calling the same function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Terms {
    /// The verification mode.
    pub mode: Mode,
    /// The commit timeout asked for.
    pub timeout_ms: u64,
    /// The fee paid (MIST).
    pub fee: u64,
    /// The model's run-time bound.
    pub max_run_ms: u64,
    /// The longest run-time bound of the model's class.
    pub longest_run_ms: u64,
    /// The class's eligible nodes.
    pub eligible: u64,
}

impl Terms {
    /// Errors, in the order checked: `InvalidQuorum` (n is 0 or above
    /// `max_n`), `InvalidProbability` (p above 100 %), `ArithmeticError` (the
    /// shortest timeout overflows), `InvalidTimeout` (below the shortest, see
    /// [`crate::Params::shortest_timeout_ms`], or above `max_timeout_ms`),
    /// `FeeTooLow`, `NotEnoughNodes`.
    pub fn check(&self, params: &crate::Params) -> Result<()> {
        let mode = self.mode;
        if mode.n() == 0 || mode.n() > params.max_n {
            return Err(ProtocolError::InvalidQuorum);
        }
        if mode.p_bps() > BPS {
            return Err(ProtocolError::InvalidProbability);
        }
        let shortest =
            params.shortest_timeout_ms(self.max_run_ms, self.longest_run_ms).ok_or(ProtocolError::ArithmeticError)?;
        if self.timeout_ms < shortest || self.timeout_ms > params.max_timeout_ms {
            return Err(ProtocolError::InvalidTimeout);
        }
        if self.fee < params.min_fee_for(mode) {
            return Err(ProtocolError::FeeTooLow);
        }
        if self.eligible < mode.nodes_needed() {
            return Err(ProtocolError::NotEnoughNodes);
        }
        Ok(())
    }
}

/// The input rule (docs/protocol.md): exactly one of inline bytes (1 to
/// `max_inline_input` bytes, hashing to the digest) and a URI (1 to 512
/// bytes). `InvalidInput` or `InputDigestMismatch`.
pub fn check_input_parts(inline: &[u8], uri: Option<&str>, digest: &Digest, max_inline: u64) -> Result<()> {
    match (inline.is_empty(), uri) {
        (false, None) => {
            if inline.len() as u64 > max_inline {
                return Err(ProtocolError::InvalidInput);
            }
            if blake2b256(inline) != *digest {
                return Err(ProtocolError::InputDigestMismatch);
            }
            Ok(())
        }
        (true, Some(uri)) if !uri.is_empty() && uri.len() <= MAX_URI_LEN => Ok(()),
        _ => Err(ProtocolError::InvalidInput),
    }
}

impl State {
    /// Submits a request in `mode`, as its submit entry function does
    /// (`entry::submit_function`: `submit_sampling`, `submit_cross_validation`
    /// or `submit_sealed`): Sampling `{n}` has `n` nodes execute and agree;
    /// CrossValidation `{p_bps, n}` has one primary, checked by `n` nodes with
    /// probability `p_bps / 10_000`; Sealed as CrossValidation, its requester
    /// publishing `secret_hash = blake2b256(secret)`. `secret_hash` is read for
    /// Sealed only, and checked first (`InvalidDigest`).
    #[allow(clippy::too_many_arguments)]
    pub fn submit_mode(
        &mut self,
        ctx: &Ctx,
        class: &ObjectId,
        request_id: ObjectId,
        args: SubmitArgs,
        mode: Mode,
        secret_hash: &[u8],
        payment: u64,
        random: Digest,
    ) -> Result<Outcome> {
        let secret_hash = match mode {
            Mode::Sealed { .. } => Some(Digest::from_slice(secret_hash).ok_or(ProtocolError::InvalidDigest)?),
            Mode::Sampling { .. } | Mode::CrossValidation { .. } => None,
        };
        self.submit(ctx, class, request_id, args, mode, secret_hash, payment, random)
    }

    /// Errors, in the order checked: `WrongVersion` (the network's), then the
    /// class's `UnknownClass`, `WrongNetwork`, `WrongVersion`; `UnknownModel`,
    /// `WrongClass` (the class object is not the model's),
    /// `InvalidDigest`, `InvalidInput`, `InputDigestMismatch`, `InvalidQuorum`,
    /// `InvalidProbability`, `InvalidTimeout`, `FeeTooLow`, `NotEnoughNodes`,
    /// `ArithmeticError`.
    #[allow(clippy::too_many_arguments)]
    fn submit(
        &mut self,
        ctx: &Ctx,
        class: &ObjectId,
        request_id: ObjectId,
        args: SubmitArgs,
        mode: Mode,
        secret_hash: Option<Digest>,
        payment: u64,
        seed: Digest,
    ) -> Result<Outcome> {
        self.network_current()?;
        let class_obj = self.class_current(class)?;
        let net = &self.network;
        let params = net.params;
        let model = net.model(&args.model_id)?;
        let class_id = model.class_id;
        class_obj.check_member(&net.id, class_id)?;
        let eligible = class_obj.active.len();
        let input_digest = Digest::from_slice(&args.input_digest).ok_or(ProtocolError::InvalidDigest)?;
        let input = check_input(args.input_inline, args.input_uri, &input_digest, params.max_inline_input)?;
        let terms = Terms {
            mode,
            timeout_ms: args.timeout_ms,
            fee: payment,
            max_run_ms: model.max_run_ms,
            longest_run_ms: class_obj.longest_run_ms,
            eligible,
        };
        terms.check(&params)?;

        let deadline_ms = add(ctx.now_ms, args.timeout_ms)?;
        let mut req = Request {
            id: request_id,
            network_id: net.id,
            requester: ctx.sender,
            model_id: args.model_id.clone(),
            class_id,
            input_digest,
            input: input.clone(),
            mode,
            secret_hash,
            secret: None,
            checked: None,
            seed,
            timeout_ms: args.timeout_ms,
            params,
            fee: payment,
            pool: 0,
            status: Status::Committing,
            round: Round::Main,
            deadline_ms,
            extended: false,
            retries: 0,
            input_unavailable: false,
            slots: Vec::new(),
            selection: Selection { role: Role::Executor, count: 0, seed },
            dispute_size: 0,
            output_digest: None,
            created_ms: ctx.now_ms,
        };
        let mut out = Outcome::default();
        out.emit(RequestSubmitted {
            request_id,
            requester: ctx.sender,
            model_id: args.model_id,
            input_digest,
            input,
            mode,
            fee: payment,
            seed,
            timeout_ms: args.timeout_ms,
        });
        self.class_mut(class).atomically(|c| select_first(c, &mut req, eligible, &mut out))?;
        self.requests.insert(request_id, req);
        Ok(out)
    }
}

/// The first selection of a new request, drawn from its seed: the quorum
/// (Sampling), the primary (CrossValidation), or the primary and the pool
/// of candidates (Sealed: one draw, so that the pool never holds the
/// primary; only the primary is locked).
fn select_first(class: &mut HardwareClass, req: &mut Request, eligible: u64, out: &mut Outcome) -> Result<()> {
    let (request_id, seed, deadline_ms) = (req.id, req.seed, req.deadline_ms);
    match req.mode {
        Mode::Sampling { n } => {
            let nodes = assign(class, req, &seed, n, Role::Executor, Pool::Eligible)?;
            out.emit(NodesSelected { request_id, role: Role::Executor, nodes, deadline_ms });
        }
        Mode::CrossValidation { .. } => {
            let nodes = assign(class, req, &seed, 1, Role::Executor, Pool::Eligible)?;
            out.emit(NodesSelected { request_id, role: Role::Executor, nodes, deadline_ms });
        }
        Mode::Sealed { n, .. } => {
            // One draw for the primary and the pool, so that the pool never holds the primary;
            // only the primary is locked.
            let pool = (req.params.sealed_pool_factor * n).min(eligible - 1);
            let nodes = sample_fresh(&class.active, req, &seed, 1 + pool);
            for (k, node_id) in nodes.iter().enumerate() {
                let slot = if k == 0 {
                    Slot::new(*node_id, Role::Executor, class.lock(node_id)?)
                } else {
                    Slot::new(*node_id, Role::Candidate, 0)
                };
                req.slots.push(slot);
            }
            out.emit(NodesSelected { request_id, role: Role::Executor, nodes: nodes[..1].to_vec(), deadline_ms });
            out.emit(NodesSelected { request_id, role: Role::Candidate, nodes: nodes[1..].to_vec(), deadline_ms });
        }
    }
    Ok(())
}

/// The request's input, once it meets the input rule (`check_input_parts`).
fn check_input(inline: Vec<u8>, uri: Option<String>, digest: &Digest, max_inline: u64) -> Result<Input> {
    check_input_parts(&inline, uri.as_deref(), digest, max_inline)?;
    Ok(match uri {
        Some(uri) => Input::Uri(uri),
        None => Input::Inline(inline),
    })
}
