//! The adversary's operations: what requesters, the admin, keepers and the
//! operators may do, with any parameter, at any moment.

use super::*;

/// Who gets a URI input from the requester's server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Serve {
    All,
    Nobody,
    /// Only the colluders.
    Colluders,
    /// The nodes whose index bit is set.
    Mask(u32),
    /// Everyone, until this long after submission.
    Until(u64),
}

/// When a Sealed requester reveals its secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecretPlan {
    Prompt,
    Late,
    Never,
}

/// A requester's choice of timeout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Timeout {
    /// The smallest the chain accepts for the model.
    Shortest,
    /// Enough for a node finishing another run first: the smallest the
    /// chain accepts, or twice the class's longest run and a reaction.
    Fair,
    /// This many ms.
    Ms(u64),
    /// The largest the chain accepts.
    Longest,
}

/// A requester's choice of fee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fee {
    Minimum,
    Plus(u64),
    Huge,
}

/// One request as the adversary asks for it.
#[derive(Clone, Debug)]
pub struct Ask {
    pub mode: Mode,
    pub timeout: Timeout,
    pub fee: Fee,
    /// `None`: inline.
    pub uri: Option<Serve>,
    /// Colluders answer it with their wrong output.
    pub attacked: bool,
    /// Index into the models (0 is the base model).
    pub model: usize,
    pub secret: SecretPlan,
}

/// What the adversary does next.
#[derive(Clone, Debug)]
pub enum Op {
    Submit(Ask),
    SetParams(Params),
    AddModel {
        run_ms: u64,
    },
    Upgrade,
    /// A call through the package before the last upgrade.
    OldCall {
        req: usize,
        kind: u8,
    },
    Keeper {
        req: usize,
        call: u8,
    },
    Leave {
        node: usize,
    },
    AddCollateral {
        node: usize,
        amount: u64,
    },
    Register {
        colluder: bool,
    },
    Wait {
        ms: u64,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Honest,
    Colluder,
}
