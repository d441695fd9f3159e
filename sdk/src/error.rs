//! The SDK's errors: each says what went wrong in words a caller can act on,
//! and protocol rules come back as the protocol's typed error.
//!
//! Not for: the protocol's own errors (`atoma_protocol::ProtocolError`), which
//! are wrapped, not repeated.

use atoma_protocol::ProtocolError;
use sui_sdk_types::Digest;

/// An error of the SDK.
#[derive(Debug, thiserror::Error)]
pub enum SdkError {
    /// The transaction executed and a rule of the protocol aborted it (a Move abort).
    #[error("{error} ({name}, code {code}) in transaction {digest}", name = error.move_name(), code = error.code())]
    Protocol {
        /// The protocol's error.
        error: ProtocolError,
        /// The transaction that aborted (it paid gas).
        digest: Digest,
    },
    /// A protocol rule that the chain would abort with, found before
    /// anything was sent (nothing was paid): an unknown model or class.
    #[error("{error} ({name}, code {code}); nothing was sent", name = error.move_name(), code = error.code())]
    Refused {
        /// The protocol's error.
        error: ProtocolError,
    },
    /// The transaction was cancelled because shared objects it writes were
    /// congested (Sui's per-object congestion control, docs/scaling.md): it
    /// changed nothing but paid for gas; sending the call again later is safe.
    #[error(
        "transaction {digest} was cancelled: shared objects {} are congested; try again later",
        objects.iter().map(|o| o.to_string()).collect::<Vec<_>>().join(", ")
    )]
    Congested {
        /// The congested objects.
        objects: Vec<sui_sdk_types::Address>,
        /// The transaction.
        digest: Digest,
    },
    /// The transaction executed and failed for another reason than a protocol rule.
    #[error("transaction {digest} failed: {description}")]
    Execution {
        /// What failed, as the node describes it.
        description: String,
        /// The transaction.
        digest: Digest,
    },
    /// The node refused the transaction before executing it (nothing was paid).
    #[error("the node rejected the transaction: {0}")]
    Rejected(String),
    /// The node could not be reached or answered with an error.
    #[error("{context}: {}", describe(status))]
    Rpc {
        /// What the SDK was doing.
        context: String,
        /// The gRPC status.
        status: Box<tonic::Status>,
    },
    /// A transaction was sent but its outcome is unknown (the node did not
    /// answer). The same signed transaction is sent again before its objects
    /// are used for anything else, so it can never be replaced by another.
    #[error("the outcome of transaction {digest} is unknown: {reason}")]
    Unknown {
        /// The transaction.
        digest: Digest,
        /// Why its outcome is unknown.
        reason: String,
    },
    /// The sender cannot pay for the transaction.
    #[error("insufficient balance: {0}")]
    InsufficientBalance(String),
    /// An argument is not valid (before anything was sent).
    #[error("{0}")]
    InvalidArgument(String),
    /// Something read from the chain or a node does not decode as expected.
    #[error("{what}")]
    Decode {
        /// What does not decode.
        what: String,
        /// Why, when another error says it.
        #[source]
        source: Option<BoxError>,
    },
    /// A key or keystore could not be read.
    #[error("{what}")]
    Key {
        /// Which key or keystore, and what went wrong.
        what: String,
        /// Why, when another error says it.
        #[source]
        source: Option<BoxError>,
    },
    /// A node's output server could not be reached or refused.
    #[error("{what}")]
    Http {
        /// Which server, and what went wrong.
        what: String,
        /// Why, when another error says it (the HTTP client's).
        #[source]
        source: Option<BoxError>,
    },
    /// A node served data that does not match what it committed or signed.
    #[error("verification failed: {0}")]
    Verification(String),
    /// Waiting took longer than allowed.
    #[error("timed out: {0}")]
    Timeout(String),
}

/// The cause an error keeps (see `SdkError::because`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl SdkError {
    /// Something does not decode as expected.
    pub fn decode(what: impl Into<String>) -> Self {
        SdkError::Decode { what: what.into(), source: None }
    }

    /// A key or keystore cannot be used.
    pub fn key(what: impl Into<String>) -> Self {
        SdkError::Key { what: what.into(), source: None }
    }

    /// A node's output server cannot be reached or refused.
    pub fn http(what: impl Into<String>) -> Self {
        SdkError::Http { what: what.into(), source: None }
    }

    /// The same error, caused by `cause` (its `source()`); the variants
    /// without a cause of their own are returned unchanged.
    pub fn because(self, cause: impl Into<BoxError>) -> Self {
        match self {
            SdkError::Decode { what, .. } => SdkError::Decode { what, source: Some(cause.into()) },
            SdkError::Key { what, .. } => SdkError::Key { what, source: Some(cause.into()) },
            SdkError::Http { what, .. } => SdkError::Http { what, source: Some(cause.into()) },
            other => other,
        }
    }

    /// A gRPC error with what the SDK was doing.
    pub fn rpc(context: impl Into<String>, status: tonic::Status) -> Self {
        SdkError::Rpc { context: context.into(), status: Box::new(status) }
    }

    /// The protocol error, if a protocol rule aborted the transaction or
    /// refused it before it was sent.
    pub fn protocol_error(&self) -> Option<ProtocolError> {
        match self {
            SdkError::Protocol { error, .. } | SdkError::Refused { error } => Some(*error),
            _ => None,
        }
    }
}

/// An error and its causes in one line, `what: why: root cause`, as the
/// command-line tools print errors (for logs, where `Display` shows the
/// outer error only).
pub fn report(error: &(dyn std::error::Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}

/// A gRPC status in one line: its message, and the root cause when the
/// transport failed (`tcp connect error: Connection refused (os error 111)`).
pub fn describe(status: &tonic::Status) -> String {
    let mut root: Option<String> = None;
    let mut source = std::error::Error::source(status);
    while let Some(e) = source {
        root = Some(e.to_string());
        source = e.source();
    }
    let message = if status.message().is_empty() {
        status.code().description().to_string()
    } else {
        status.message().to_string()
    };
    match root {
        Some(r) if r != message => format!("{message}: {r}"),
        _ => message,
    }
}

/// The SDK's result type.
pub type Result<T, E = SdkError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_is_kept_as_the_source_and_reported_after_the_error() {
        let cause = bcs::from_bytes::<u64>(&[1, 2]).unwrap_err();
        let e = SdkError::decode("a request object does not decode").because(cause);
        assert_eq!(e.to_string(), "a request object does not decode");
        let source = std::error::Error::source(&e).expect("the cause");
        assert!(source.downcast_ref::<bcs::Error>().is_some(), "the cause keeps its type");
        assert_eq!(report(&e), format!("a request object does not decode: {source}"));
        // Errors without a cause of their own are unchanged.
        let timeout = SdkError::Timeout("waiting".into()).because(std::fmt::Error);
        assert!(std::error::Error::source(&timeout).is_none());
    }
}
