//! A MoveCall to the `atoma` package: its arguments typed by the entry
//! function's signature, parsed into an `EntryCall` and applied to the
//! transaction's scratch state.
//!
//! A Move abort becomes `MoveAbort` with a clever-error code carrying the
//! protocol error's code (bits 48..56, top nibble `0b1100`), located at the
//! entry function that was called; line numbers are not known here and are 0.

// Errors are Sui's `ExecutionError`, returned at most once per transaction.
#![allow(clippy::result_large_err)]

use atoma_protocol::entry::{Arg, Created, EntryCall, Pure, PureError};
use atoma_protocol::{Ctx, ObjectId, ProtocolError};
use sui_sdk_types::{Argument, CommandArgumentError, ExecutionError, Identifier, MoveCall, MoveLocation};

use super::super::signatures::{self, Param};
use super::{Interp, Value, arg_error};
use crate::objects::{self, Kind};

impl Interp<'_> {
    /// Runs one MoveCall; returns its results (only `add_hardware_class` returns a value).
    pub(super) fn move_call(&mut self, call: &MoveCall) -> Result<Vec<Value>, ExecutionError> {
        let Some(params) = signatures::params(call.module.as_str(), call.function.as_str()) else {
            return Err(ExecutionError::FunctionNotFound);
        };
        if !call.type_arguments.is_empty() {
            return Err(ExecutionError::TypeArityMismatch);
        }
        if call.arguments.len() != params.len() {
            return Err(ExecutionError::ArityMismatch);
        }
        let mut args = Vec::with_capacity(params.len());
        for (position, (param, arg)) in params.iter().zip(&call.arguments).enumerate() {
            args.push(self.typed(*param, *arg, position)?);
        }
        if self.out.event_module.is_none() {
            self.out.event_module = Some(call.module.clone());
        }
        let entry = EntryCall::parse(call.function.as_str(), args).map_err(|e| {
            tracing::error!(error = %e, "a call typed by its signature does not parse");
            ExecutionError::InvariantViolation
        })?;
        let ctx = Ctx::new(atoma_protocol::Address::from(self.checked.sender), self.now_ms);
        let mut state = self.out.state.take().unwrap_or_else(|| self.scratch_state());
        let applied = entry.apply(&mut state, &ctx, self);
        self.out.state = Some(state);
        let (outcome, created) = applied.map_err(|e| self.abort(&call.module, &call.function, e))?;
        for payout in outcome.payouts {
            self.mint_coin(payout.amount, sui_sdk_types::Address::from(payout.recipient));
        }
        self.out.events.extend(outcome.events);
        Ok(match created {
            None => Vec::new(),
            Some(Created::Class { object, class_id }) => {
                self.out.new_classes.insert(object);
                // A u64 result is a pure value for later commands.
                vec![Value::Pure(class_id.to_le_bytes().to_vec())]
            }
            Some(Created::NodeCap(cap)) => {
                self.out.new_caps.push((cap, self.checked.sender));
                Vec::new()
            }
            Some(Created::Request(id)) => {
                self.out.new_requests.insert(id);
                Vec::new()
            }
        })
    }

    /// The argument at `position` as the parameter `param` takes it.
    fn typed(&mut self, param: Param, arg: Argument, position: usize) -> Result<Arg, ExecutionError> {
        use Param::*;
        let by_value = matches!(param, Coin | NodeCapOwned);
        let value = if by_value { self.take(arg, position)? } else { self.borrow(arg, position)? };
        let mismatch = || arg_error(position, CommandArgumentError::TypeMismatch);
        let pure = |value: &Value| match value {
            Value::Pure(bytes) => Ok(bytes.clone()),
            Value::Object(..) => Err(mismatch()),
        };
        Ok(match param {
            U64 | Str | Bytes | OptStr => Arg::Pure(Pure::from_bcs(param, &pure(&value)?).map_err(|e| match e {
                PureError::Utf8 => arg_error(position, CommandArgumentError::InvalidUsageOfPureArgument),
                PureError::Bcs | PureError::NotPure => arg_error(position, CommandArgumentError::InvalidBcsBytes),
            })?),
            Coin => {
                if arg == Argument::Gas {
                    return Err(arg_error(position, CommandArgumentError::InvalidGasCoinUsage));
                }
                Arg::Coin(self.consume_coin(&value, position)?)
            }
            _ => {
                let Value::Object(id, kind) = value else { return Err(mismatch()) };
                let expected = match param {
                    NetworkMut | NetworkRef => Kind::Network,
                    ClassMut | ClassRef => Kind::HardwareClass,
                    RequestMut => Kind::Request,
                    AdminCap => Kind::AdminCap,
                    NodeCap | NodeCapOwned => Kind::NodeCap,
                    Clock => Kind::Clock,
                    _ => Kind::Random,
                };
                if kind != expected {
                    return Err(mismatch());
                }
                if matches!(param, NetworkMut | ClassMut | RequestMut | NodeCapOwned) && !self.is_mutable(&id) {
                    let kind = if param == NodeCapOwned {
                        CommandArgumentError::InvalidObjectByValue
                    } else {
                        CommandArgumentError::InvalidObjectByMutRef
                    };
                    return Err(arg_error(position, kind));
                }
                let object = || self.checked_object(&id).ok_or_else(mismatch);
                match param {
                    RequestMut => Arg::Request(ObjectId::from(id)),
                    ClassMut | ClassRef => Arg::Class(ObjectId::from(id)),
                    AdminCap => Arg::AdminCap(objects::cap_contents(object()?).ok_or_else(mismatch)?),
                    NodeCap => Arg::NodeCap(objects::node_cap_contents(object()?).ok_or_else(mismatch)?),
                    NodeCapOwned => {
                        let cap = objects::node_cap_contents(object()?).ok_or_else(mismatch)?;
                        self.destroy(id);
                        Arg::NodeCap(cap)
                    }
                    _ => Arg::Read,
                }
            }
        })
    }

    fn abort(&self, module: &Identifier, function: &Identifier, e: ProtocolError) -> ExecutionError {
        ExecutionError::MoveAbort {
            location: MoveLocation {
                package: self.chain.identity.package,
                module: module.clone(),
                function: 0,
                instruction: 0,
                function_name: Some(function.clone()),
            },
            code: clever_code(e),
        }
    }
}

/// The clever-error abort code of a protocol error (line, identifier and constant indices 0).
fn clever_code(e: ProtocolError) -> u64 {
    (0b1100u64 << 60) | ((e.code() as u64) << 48)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clever_codes_decode_to_their_error() {
        for e in ProtocolError::ALL {
            assert_eq!(atoma_protocol::error::decode_abort_code(clever_code(*e)), Some(*e));
        }
    }
}
