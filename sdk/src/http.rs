//! The node output protocol: how a requester fetches an output from a
//! selected node the moment it is ready, and how a Sealed requester tells
//! its chosen verifiers. The node service serves it; the SDK calls it.
//!
//! ```text
//! GET  /v1/outputs/{request_id}?wait_ms=N
//!      x-atoma-signature: base64(UserSignature)   by the request's requester over
//!                                                 personal message "atoma/output-request/v1" || request_id
//!   200 body = the output bytes
//!      x-atoma-node: node id      x-atoma-output-digest: hex     x-atoma-salt: hex
//!      x-atoma-node-signature: base64(UserSignature) by the node's registered Ed25519 key over
//!                              "atoma/served-output/v1" || request_id || node_id || output_digest || salt
//!   404 no output (yet, after waiting up to wait_ms, at most 30 s)     401/403 bad or foreign signature
//! GET  /v1/outputs/{request_id}/stream?wait_ms=N     (the output as it is generated)
//!      x-atoma-signature: as for the output
//!   200 text/event-stream:
//!      event: chunk   data {"index": i, "text", "running": hex, "signature"}       (text generations; 0 or more)
//!             running_i = blake2b256(running_{i-1} || text_i),  running_{-1} = blake2b256("atoma/stream/v1" || request_id)
//!             signature: the node's registered key over
//!               "atoma/stream-chunk/v1" || request_id || node_id || u64_le(i) || running_i || text_i
//!      event: output  data {"node", "chunks": n, "running": hex, "digest": hex, "salt": hex, "output": base64, "signature"}
//!             running: the last chunk's (running_{-1} without chunks); signature: the node's key over
//!               "atoma/stream-end/v1" || request_id || node_id || u64_le(n) || running || output_digest || salt
//!      event: error   data {"message"}     the node will serve no output (it declined or abstained)
//!   404 neither running nor computed (after waiting up to wait_ms)     401/403 as for the output
//! POST /v1/sealed/{request_id}      body {"secret": "<hex>"}   (a Sealed requester to a chosen verifier)
//!   202 accepted    400 secret does not match the request's hash    404 unknown request or not chosen
//! POST /v1/push/{request_id}        (the requester to a selected node, right after submitting)
//!      x-atoma-signature: base64(UserSignature)   by the request's requester over
//!                                                 personal message "atoma/push/v1" || request_id
//!   202 the node holds a seat and starts now    404 not the node's request    401/403 bad or foreign signature
//! GET  /health      200 "ok"
//! ```
//!
//! A push only saves the time until the node's event stream brings the
//! selection (a checkpoint): the node checks the request on chain before it
//! runs anything, and its event stream still catches every request.
//!
//! The salt lets the requester check the output against the node's on-chain
//! commitment as soon as it exists: `blake2b256(bcs(request, node, digest, salt))`.
//!
//! A stream's chunks are the text a generation releases as it runs, which
//! joins into the output's text (the engine holds back what a stop string
//! may cut); every chunk is signed, and the output event binds the last
//! running hash to the digest and salt the node commits. The requester
//! checks every signature, that the output hashes to its digest and, for a
//! text output, that its text is the chunks joined: a stream is
//! attributable to its node, and one that does not end in the node's
//! committed output is caught at its last event. A node streams each
//! generation while it runs and, for an output already computed, its text
//! as one chunk.
//!
//! Not for: serving (the node service) or deciding whom to ask (the client).

use atoma_protocol::commitment::blake2b256;
use serde::{Deserialize, Serialize};
use sui_sdk_types::{Address, SimpleSignature, UserSignature};

use crate::error::{Result, SdkError};
use crate::keys::{Key, verify_message};

/// Header carrying the requester's signature.
pub const REQUESTER_SIGNATURE: &str = "x-atoma-signature";
/// Header naming the serving node.
pub const NODE: &str = "x-atoma-node";
/// Header carrying the output's digest (hex).
pub const OUTPUT_DIGEST: &str = "x-atoma-output-digest";
/// Header carrying the salt of the node's commitment (hex).
pub const SALT: &str = "x-atoma-salt";
/// Header carrying the node's signature of what it served.
pub const NODE_SIGNATURE: &str = "x-atoma-node-signature";
/// Longest wait a node grants (ms).
pub const MAX_WAIT_MS: u64 = 30_000;

/// The path of a request's output.
pub fn output_path(request: &Address) -> String {
    format!("/v1/outputs/{request}")
}

/// The path a Sealed requester posts its secret to.
pub fn sealed_path(request: &Address) -> String {
    format!("/v1/sealed/{request}")
}

/// The path a requester pushes a new request to.
pub fn push_path(request: &Address) -> String {
    format!("/v1/push/{request}")
}

/// What the requester signs to push a request to its nodes.
pub fn push_message(request: &Address) -> Vec<u8> {
    [b"atoma/push/v1".as_slice(), request.as_bytes()].concat()
}

/// The requester's header value for pushing `request`.
pub fn sign_push(key: &Key, request: &Address) -> Result<String> {
    Ok(key.sign_message(&push_message(request))?.to_base64())
}

/// Checks a push's header value and returns the signer's address.
pub fn verify_push(header: &str, request: &Address) -> Result<Address> {
    verify_requester(header, &push_message(request))
}

/// The signer of a requester's header value (`REQUESTER_SIGNATURE`) over `message`.
fn verify_requester(header: &str, message: &[u8]) -> Result<Address> {
    let signature = UserSignature::from_base64(header.trim())
        .map_err(|_| SdkError::Verification(format!("{REQUESTER_SIGNATURE} is not a base64 Sui signature")))?;
    verify_message(message, &signature)
}

/// The body of a Sealed notification.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SealedNotice {
    /// The requester's secret, hex.
    pub secret: String,
}

/// What the requester signs to fetch a request's output.
pub fn output_request_message(request: &Address) -> Vec<u8> {
    [b"atoma/output-request/v1".as_slice(), request.as_bytes()].concat()
}

/// What a node signs when it serves an output.
pub fn served_output_message(request: &Address, node: &Address, output_digest: &[u8; 32], salt: &[u8; 32]) -> Vec<u8> {
    [b"atoma/served-output/v1".as_slice(), request.as_bytes(), node.as_bytes(), output_digest, salt].concat()
}

/// The requester's header value for fetching `request`'s output.
pub fn sign_output_request(key: &Key, request: &Address) -> Result<String> {
    Ok(key.sign_message(&output_request_message(request))?.to_base64())
}

/// Checks a requester's header value and returns the signer's address.
pub fn verify_output_request(header: &str, request: &Address) -> Result<Address> {
    verify_requester(header, &output_request_message(request))
}

/// A node's header value for an output it serves.
pub fn sign_served_output(
    key: &Key,
    request: &Address,
    node: &Address,
    output_digest: &[u8; 32],
    salt: &[u8; 32],
) -> Result<String> {
    sign_node(key, &served_output_message(request, node, output_digest, salt))
}

/// Checks a node's signature of a served output against the Ed25519 key the node registered.
pub fn verify_served_output(
    header: &str,
    registered_key: &[u8],
    request: &Address,
    node: &Address,
    output_digest: &[u8; 32],
    salt: &[u8; 32],
) -> Result<()> {
    verify_node(header, registered_key, node, &served_output_message(request, node, output_digest, salt))
}

/// The path of a request's output stream.
pub fn stream_path(request: &Address) -> String {
    format!("/v1/outputs/{request}/stream")
}

/// The running hash before a stream's first chunk.
pub fn stream_start(request: &Address) -> [u8; 32] {
    blake2b256(&[b"atoma/stream/v1".as_slice(), request.as_bytes()].concat()).0
}

/// The running hash after a chunk of `text`.
pub fn stream_running(previous: &[u8; 32], text: &str) -> [u8; 32] {
    blake2b256(&[previous.as_slice(), text.as_bytes()].concat()).0
}

/// One chunk of a stream, as sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamChunk {
    pub index: u64,
    pub text: String,
    /// The running hash after this chunk (hex).
    pub running: String,
    /// The node's signature (`chunk_message`).
    pub signature: String,
}

/// The last event of a stream: the output, bound to the chunks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StreamEnd {
    pub node: Address,
    /// Chunks sent before it.
    pub chunks: u64,
    /// The last chunk's running hash (hex).
    pub running: String,
    pub digest: String,
    pub salt: String,
    /// The output bytes, base64.
    pub output: String,
    /// The node's signature (`stream_end_message`).
    pub signature: String,
}

/// What a node signs for a stream's chunk.
pub fn chunk_message(request: &Address, node: &Address, index: u64, running: &[u8; 32], text: &str) -> Vec<u8> {
    [
        b"atoma/stream-chunk/v1".as_slice(),
        request.as_bytes(),
        node.as_bytes(),
        &index.to_le_bytes(),
        running,
        text.as_bytes(),
    ]
    .concat()
}

/// What a node signs to end a stream with its output.
pub fn stream_end_message(
    request: &Address,
    node: &Address,
    chunks: u64,
    running: &[u8; 32],
    output_digest: &[u8; 32],
    salt: &[u8; 32],
) -> Vec<u8> {
    [
        b"atoma/stream-end/v1".as_slice(),
        request.as_bytes(),
        node.as_bytes(),
        &chunks.to_le_bytes(),
        running,
        output_digest,
        salt,
    ]
    .concat()
}

/// A node's signature of `message`, base64.
pub fn sign_node(key: &Key, message: &[u8]) -> Result<String> {
    Ok(key.sign_message(message)?.to_base64())
}

/// Checks a node's signature of `message` against the Ed25519 key it registered.
pub fn verify_node(signature: &str, registered_key: &[u8], node: &Address, message: &[u8]) -> Result<()> {
    let signature = UserSignature::from_base64(signature.trim())
        .map_err(|_| SdkError::Verification(format!("node {node}'s signature is not a base64 Sui signature")))?;
    match &signature {
        UserSignature::Simple(SimpleSignature::Ed25519 { public_key, .. })
            if public_key.as_bytes() == registered_key => {}
        _ => {
            return Err(SdkError::Verification(format!(
                "node {node} signed with another key than the one it registered"
            )));
        }
    }
    verify_message(message, &signature).map(|_| ())
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 32 bytes from 64 hex digits (with or without `0x`).
pub fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    atoma_protocol::Digest::from_hex(s.trim()).map(|d| d.0)
}

/// The digest of output bytes, as committed on chain.
pub fn output_digest(output: &[u8]) -> [u8; 32] {
    blake2b256(output).0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_requests_verify_to_the_requester() {
        let key = Key::from_ed25519_bytes([1; 32]);
        let request = Address::from_static("0x42");
        let header = sign_output_request(&key, &request).unwrap();
        assert_eq!(verify_output_request(&header, &request).unwrap(), key.address());
        let other = Address::from_static("0x43");
        assert_ne!(verify_output_request(&header, &other).ok(), Some(key.address()));
    }

    #[test]
    fn served_outputs_verify_only_with_the_registered_key() {
        let node_key = Key::from_ed25519_bytes([2; 32]);
        let (request, node) = (Address::from_static("0x1"), Address::from_static("0x2"));
        let (digest, salt) = ([3; 32], [4; 32]);
        let header = sign_served_output(&node_key, &request, &node, &digest, &salt).unwrap();
        verify_served_output(&header, &node_key.public_key(), &request, &node, &digest, &salt).unwrap();
        let other = Key::from_ed25519_bytes([5; 32]);
        assert!(verify_served_output(&header, &other.public_key(), &request, &node, &digest, &salt).is_err());
        assert!(verify_served_output(&header, &node_key.public_key(), &request, &node, &[9; 32], &salt).is_err());
    }
}
