//! One Move call of the package: its arguments as the transaction will
//! carry them, built from the protocol's typed `EntryCall` and checked
//! against the entry table before anything is locked or sent.

use atoma_protocol::ObjectId;
use atoma_protocol::entry::{self, EntryCall, Param, Pure};
use sui_sdk_types::Address;

use crate::error::{Result, SdkError};

/// One argument of a Move call.
#[derive(Clone, Debug)]
pub enum Arg {
    /// A pure value, typed (its BCS is `Pure::to_bcs`).
    Pure(Pure),
    /// The shared `Network`, mutably (admin calls only).
    Network,
    /// The shared `Network`, read only.
    NetworkRef,
    /// A shared `HardwareClass` object, mutably.
    Class(Address),
    /// A shared `HardwareClass` object, read only.
    ClassRef(Address),
    /// A shared `Request`, mutably.
    Request(Address),
    /// An object the sender owns (a `NodeCap` or `AdminCap`), locked for the call.
    Owned(Address),
    /// The Clock, immutably.
    Clock,
    /// Random, immutably.
    Random,
    /// A `Coin<SUI>` of this many MIST, split off the gas coin.
    Payment(u64),
}

impl Arg {
    /// A `u64` argument.
    pub fn u64(value: u64) -> Arg {
        Arg::Pure(Pure::U64(value))
    }

    /// A `vector<u8>` argument.
    pub fn bytes(value: &[u8]) -> Arg {
        Arg::Pure(Pure::Bytes(value.to_vec()))
    }

    /// Whether this argument can fill a parameter of kind `param`.
    pub fn fits(&self, param: Param) -> bool {
        match self {
            Arg::Pure(value) => value.param() == param,
            Arg::Network => param == Param::NetworkMut,
            Arg::NetworkRef => param == Param::NetworkRef,
            Arg::Class(_) => param == Param::ClassMut,
            Arg::ClassRef(_) => param == Param::ClassRef,
            Arg::Request(_) => param == Param::RequestMut,
            Arg::Owned(_) => matches!(param, Param::AdminCap | Param::NodeCap | Param::NodeCapOwned),
            Arg::Clock => param == Param::Clock,
            Arg::Random => param == Param::Random,
            Arg::Payment(_) => param == Param::Coin,
        }
    }
}

/// A Move call of the package.
#[derive(Clone, Debug)]
pub struct Call {
    /// The module.
    pub module: &'static str,
    /// The function.
    pub function: &'static str,
    /// The arguments (the `TxContext` is implicit).
    pub args: Vec<Arg>,
}

/// The call of a typed entry call (capabilities by object id): each
/// argument placed as its parameter in the table takes it (a class written
/// or only read, the owned capabilities locked, the coin split off gas).
impl From<EntryCall<ObjectId, ObjectId>> for Call {
    fn from(call: EntryCall<ObjectId, ObjectId>) -> Call {
        let (module, function) = (call.module(), call.function());
        let params = entry::params(module, function).expect("every entry call is in the table");
        let args = call.into_args();
        assert_eq!(args.len(), params.len(), "{module}::{function}: the protocol's call and its table disagree");
        let args = args.into_iter().zip(params).map(|(arg, param)| match (arg, param) {
            (entry::Arg::Pure(value), _) => Arg::Pure(value),
            (entry::Arg::Coin(mist), _) => Arg::Payment(mist),
            (entry::Arg::Request(id), _) => Arg::Request(Address::from(id)),
            (entry::Arg::Class(id), Param::ClassRef) => Arg::ClassRef(Address::from(id)),
            (entry::Arg::Class(id), _) => Arg::Class(Address::from(id)),
            (entry::Arg::AdminCap(id) | entry::Arg::NodeCap(id), _) => Arg::Owned(Address::from(id)),
            (entry::Arg::Read, Param::NetworkMut) => Arg::Network,
            (entry::Arg::Read, Param::NetworkRef) => Arg::NetworkRef,
            (entry::Arg::Read, Param::Random) => Arg::Random,
            (entry::Arg::Read, _) => Arg::Clock,
        });
        Call { module, function, args: args.collect() }
    }
}

impl Call {
    /// Checks the call against the package's table of entry functions
    /// (`atoma_protocol::entry`): a function it holds, each argument of its
    /// parameter's kind, none missing or extra.
    pub fn check(&self) -> Result<()> {
        let Some(params) = entry::params(self.module, self.function) else {
            return Err(SdkError::InvalidArgument(format!(
                "{}::{} is not an entry function",
                self.module, self.function
            )));
        };
        let fits = params.len() == self.args.len() && self.args.iter().zip(params).all(|(a, p)| a.fits(*p));
        if !fits {
            return Err(SdkError::InvalidArgument(format!(
                "the arguments of {}::{} do not fit its parameters {params:?}",
                self.module, self.function
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_call_becomes_the_call_of_its_function_with_arguments_that_fit() {
        for (module, function, params) in entry::FUNCTIONS {
            let args = params.iter().map(|param| match param {
                Param::ClassMut | Param::ClassRef => entry::Arg::Class(ObjectId::from_u64(1)),
                Param::RequestMut => entry::Arg::Request(ObjectId::from_u64(2)),
                Param::AdminCap => entry::Arg::AdminCap(ObjectId::from_u64(3)),
                Param::NodeCap | Param::NodeCapOwned => entry::Arg::NodeCap(ObjectId::from_u64(4)),
                Param::Coin => entry::Arg::Coin(5),
                Param::U64 => entry::Arg::Pure(Pure::U64(6)),
                Param::Str => entry::Arg::Pure(Pure::Str("s".into())),
                Param::Bytes => entry::Arg::Pure(Pure::Bytes(vec![7])),
                Param::OptStr => entry::Arg::Pure(Pure::OptStr(None)),
                Param::NetworkMut | Param::NetworkRef | Param::Clock | Param::Random => entry::Arg::Read,
            });
            let call = Call::from(EntryCall::parse(function, args.collect()).unwrap());
            assert_eq!((call.module, call.function), (*module, *function));
            call.check().unwrap_or_else(|e| panic!("{module}::{function}: {e}"));
        }
    }

    #[test]
    fn a_call_must_fit_its_entry_function() {
        let (class, request, cap) = (Address::ZERO, Address::TWO, Address::THREE);
        let args =
            || vec![Arg::ClassRef(class), Arg::Request(request), Arg::Owned(cap), Arg::bytes(&[7; 32]), Arg::Clock];
        let call = |function, args| Call { module: "request", function, args };
        assert!(call("commit", args()).check().is_ok());
        // A writable class where the function reads it, an argument missing or
        // extra, a value of the wrong kind, a function the package lacks.
        let mut writable = args();
        writable[0] = Arg::Class(class);
        let mut short = args();
        short.pop();
        let mut long = args();
        long.push(Arg::Random);
        let mut wrong = args();
        wrong[3] = Arg::u64(7);
        for (what, c) in [
            ("writable class", call("commit", writable)),
            ("one argument less", call("commit", short)),
            ("one argument more", call("commit", long)),
            ("a u64 for bytes", call("commit", wrong)),
            ("no such function", call("commit_all", args())),
        ] {
            assert!(matches!(c.check(), Err(SdkError::InvalidArgument(_))), "{what}");
        }
    }
}
