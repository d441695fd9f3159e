//! The protocol's errors, with the stable numeric codes that the Move package
//! uses as clever-error codes (`#[error(code = N)]`).
//!
//! The table below is the single list of errors: the Move constants carry the
//! same code, name (with an `E` prefix) and message, and a test checks that
//! the Move sources agree. Codes are never reused or renumbered.
//!
//! Two errors are the Rust state machine's own (`ProtocolError::is_rust_only`):
//! `UnknownRequest`, since on Sui a missing request object rejects the
//! transaction before any Move code runs, and `ArithmeticError`, where Move
//! aborts with the VM's own arithmetic error (an addition that overflows, a
//! subtraction below zero), which carries no code.
//!
//! Not for: transport or I/O errors; those belong to the SDK and the executor.

macro_rules! protocol_errors {
    ($($code:literal $variant:ident $move_name:literal $msg:literal;)*) => {
        /// A rule of the protocol refused an operation. Nothing was changed.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
        pub enum ProtocolError {
            $(#[doc = $msg] #[error($msg)] $variant,)*
        }

        impl ProtocolError {
            /// Every error, in code order.
            pub const ALL: &'static [ProtocolError] = &[$(ProtocolError::$variant,)*];

            /// The stable code (0..=254), equal to the Move clever-error code.
            pub fn code(self) -> u8 {
                match self { $(ProtocolError::$variant => $code,)* }
            }

            /// The Move constant's name, e.g. `ENotSelected`.
            pub fn move_name(self) -> &'static str {
                match self { $(ProtocolError::$variant => $move_name,)* }
            }

            /// The message, identical to the Move constant's value.
            pub fn message(self) -> &'static str {
                match self { $(ProtocolError::$variant => $msg,)* }
            }

            /// The error with this code, if any.
            pub fn from_code(code: u8) -> Option<Self> {
                match code { $($code => Some(ProtocolError::$variant),)* _ => None }
            }
        }
    };
}

protocol_errors! {
    1 WrongNetwork "EWrongNetwork" "object belongs to another network";
    2 InvalidParams "EInvalidParams" "parameter out of range";
    3 UnknownClass "EUnknownClass" "no hardware class with this id";
    4 UnknownModel "EUnknownModel" "no model with this id";
    5 ModelExists "EModelExists" "a model with this id exists already";
    6 InvalidDigest "EInvalidDigest" "digest must be 32 bytes";
    7 InvalidName "EInvalidName" "name is empty or longer than 128 bytes";
    8 InvalidTaskLock "EInvalidTaskLock" "task lock must be positive and at most the minimum collateral";
    9 InsufficientCollateral "EInsufficientCollateral" "collateral is below the class minimum";
    10 UnknownNode "EUnknownNode" "no node with this id";
    11 InvalidEndpoint "EInvalidEndpoint" "endpoint is empty or longer than 256 bytes";
    12 InvalidPublicKey "EInvalidPublicKey" "public key must be 32 bytes";
    13 AlreadyLeaving "EAlreadyLeaving" "node is already leaving";
    14 NotLeaving "ENotLeaving" "node must request to leave before withdrawing";
    15 Unbonding "EUnbonding" "unbonding delay has not passed";
    16 OpenTasks "EOpenTasks" "node has open tasks";
    17 InvalidQuorum "EInvalidQuorum" "n must be between 1 and max_n";
    18 InvalidProbability "EInvalidProbability" "p_bps must be at most 10000";
    19 NotEnoughNodes "ENotEnoughNodes" "not enough eligible nodes in the hardware class";
    20 FeeTooLow "EFeeTooLow" "fee is below the minimum for this mode";
    21 InvalidInput "EInvalidInput" "give exactly one of inline input and URI, within the size limits";
    22 InputDigestMismatch "EInputDigestMismatch" "inline input does not match its digest";
    23 InvalidTimeout "EInvalidTimeout" "timeout is outside the allowed range";
    24 WrongPhase "EWrongPhase" "request is not in a phase that allows this";
    25 NotSelected "ENotSelected" "node is not selected for this request";
    26 AlreadyCommitted "EAlreadyCommitted" "node has committed already";
    27 DeadlinePassed "EDeadlinePassed" "deadline has passed";
    28 AlreadyRevealed "EAlreadyRevealed" "node has revealed already";
    29 CommitmentMismatch "ECommitmentMismatch" "reveal does not match the commitment";
    30 DeadlineNotReached "EDeadlineNotReached" "deadline has not been reached";
    31 PrimaryCommitRequired "EPrimaryCommitRequired" "the CrossValidation primary commits with commit_primary";
    32 NotPrimary "ENotPrimary" "only the CrossValidation primary commits with commit_primary";
    33 PrimaryNotCommitted "EPrimaryNotCommitted" "a Sealed candidate commits only after the primary";
    34 NotSealed "ENotSealed" "request is not in Sealed mode";
    35 SecretMismatch "ESecretMismatch" "secret does not match its hash";
    36 InvalidSecret "EInvalidSecret" "secret must be 32 bytes";
    37 InvalidSalt "EInvalidSalt" "salt must be 32 bytes";
    38 InsufficientTreasury "EInsufficientTreasury" "treasury holds less than the amount";
    39 UnknownRequest "EUnknownRequest" "no request with this id";
    40 InputOnChain "EInputOnChain" "the input is on chain: only a URI input can be unavailable";
    41 InvalidProfile "EInvalidProfile" "class profile is empty or longer than 256 bytes";
    42 WrongClass "EWrongClass" "object belongs to another hardware class";
    43 WrongVersion "EWrongVersion" "object and package versions differ: call the current package, or migrate the object";
    44 InvalidRunTime "EInvalidRunTime" "a model's run-time bound must be between 1 ms and 365 days";
    45 ArithmeticError "EArithmeticError" "an amount or a time overflowed";
}

impl ProtocolError {
    /// Whether only the Rust state machine raises this error, Move failing
    /// otherwise (see the module doc).
    pub fn is_rust_only(self) -> bool {
        matches!(self, ProtocolError::UnknownRequest | ProtocolError::ArithmeticError)
    }

    /// Whether a call anyone may make to move a request on (`select_nodes`,
    /// `open_dispute`, `expire`) was refused only because another caller
    /// made it first, or its deadline has not come: not a failure for a keeper.
    pub fn is_lost_race(self) -> bool {
        matches!(self, ProtocolError::WrongPhase | ProtocolError::DeadlineNotReached)
    }
}

/// The protocol's result type.
pub type Result<T, E = ProtocolError> = std::result::Result<T, E>;

/// `a + b`, or `ArithmeticError` where Move's `+` aborts.
pub fn add(a: u64, b: u64) -> Result<u64> {
    a.checked_add(b).ok_or(ProtocolError::ArithmeticError)
}

/// `a - b`, or `ArithmeticError` where Move's `-` aborts.
pub fn sub(a: u64, b: u64) -> Result<u64> {
    a.checked_sub(b).ok_or(ProtocolError::ArithmeticError)
}

/// Reads a Move abort code: a clever error (top nibble `0b1100`) carries the
/// error code in bits 48..56; any other value is taken as a plain code.
/// Returns the protocol error when the code is one of ours.
pub fn decode_abort_code(abort_code: u64) -> Option<ProtocolError> {
    let code = if abort_code >> 60 == 0b1100 { (abort_code >> 48) & 0xff } else { abort_code };
    u8::try_from(code).ok().and_then(ProtocolError::from_code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn only_a_phase_moved_on_or_a_deadline_not_reached_is_a_lost_race() {
        let races: Vec<ProtocolError> = ProtocolError::ALL.iter().copied().filter(|e| e.is_lost_race()).collect();
        assert_eq!(races, [ProtocolError::WrongPhase, ProtocolError::DeadlineNotReached]);
    }

    #[test]
    fn codes_are_unique_and_fit_a_clever_error() {
        let mut seen = HashSet::new();
        for e in ProtocolError::ALL {
            assert!(e.code() <= 254);
            assert!(seen.insert(e.code()), "duplicate code {}", e.code());
            assert_eq!(ProtocolError::from_code(e.code()), Some(*e));
            assert!(e.move_name().starts_with('E'));
        }
    }

    #[test]
    fn clever_abort_codes_decode_to_the_error() {
        // version 0b1100, reserved 0, code 25, line 7, identifier 3, constant 4
        let packed = (0b1100u64 << 60) | (25 << 48) | (7 << 32) | (3 << 16) | 4;
        assert_eq!(decode_abort_code(packed), Some(ProtocolError::NotSelected));
        assert_eq!(decode_abort_code(29), Some(ProtocolError::CommitmentMismatch));
        assert_eq!(decode_abort_code(0), None);
        assert_eq!(decode_abort_code(u64::MAX >> 8), None);
    }
}
