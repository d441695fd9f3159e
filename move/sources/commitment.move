/// The commitment scheme (Rust: `atoma_protocol::commitment`):
/// `commitment = blake2b256(bcs(request_id, node_id, output_digest, salt))`,
/// with the ids as `ID` (32 bytes) and the digest and salt as `vector<u8>`.
module atoma::commitment;

use std::bcs;
use sui::hash::blake2b256;

/// `blake2b256(bcs(request_id) || bcs(node_id) || bcs(output_digest) || bcs(salt))`.
public fun commitment(request_id: ID, node_id: ID, output_digest: vector<u8>, salt: vector<u8>): vector<u8> {
    let mut data = bcs::to_bytes(&request_id);
    data.append(bcs::to_bytes(&node_id));
    data.append(bcs::to_bytes(&output_digest));
    data.append(bcs::to_bytes(&salt));
    blake2b256(&data)
}

/// The hash a Sealed requester publishes at submission.
public fun secret_hash(secret: &vector<u8>): vector<u8> {
    blake2b256(secret)
}
