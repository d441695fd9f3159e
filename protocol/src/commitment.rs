//! Hashes the protocol commits to: output digests, commitments, the Sealed
//! secret's hash and the seeds derived from a random draw.
//!
//! ```text
//! blake2b256(x)           = Blake2b with a 32-byte output (Sui's `sui::hash::blake2b256`)
//! output_digest           = blake2b256(canonical output bytes)
//! commitment              = blake2b256(request_id(32) || node_id(32) || 0x20 || output_digest(32) || 0x20 || salt(32))
//!                         = blake2b256(bcs((ID, ID, vector<u8>, vector<u8>)))
//! secret_hash             = blake2b256(secret)
//! derive(seed, tag)       = blake2b256(seed || tag)          (tag: one byte)
//! sealed_draw_seed        = blake2b256(request_seed || secret)
//! dispute_key             = blake2b256(request_id(32) || output bytes)   (the dispute round's salt)
//! ```
//!
//! Not for: choosing nodes (see `sampler`), or checking reveals against the
//! request's state (see `ops::execute`).

use fastcrypto::hash::{Blake2b256, HashFunction};

use crate::types::{Digest, ObjectId};

/// Tag for the seed of a coin flip (`derive(seed, FLIP_TAG)`).
pub const FLIP_TAG: u8 = 0;
/// Tag for the seed that samples verifiers (`derive(seed, VERIFIERS_TAG)`).
pub const VERIFIERS_TAG: u8 = 1;
/// Tag for the seed that refills the seats of chosen Sealed verifiers no
/// longer on call (`derive(sealed_draw_seed(seed, secret), REFILL_TAG)`).
pub const REFILL_TAG: u8 = 2;

/// Blake2b-256 of `data`.
pub fn blake2b256(data: &[u8]) -> Digest {
    Digest(Blake2b256::digest(data).digest)
}

/// The model digest of a checkpoint's files (the on-chain model table's
/// `weight_digest` of a multi-file model): Blake2b-256 over, for each file in
/// name order, the name's bytes, a zero byte and the file's 32-byte digest.
pub fn files_digest(files: &std::collections::BTreeMap<String, Digest>) -> Digest {
    let mut hasher = Blake2b256::new();
    for (name, digest) in files {
        hasher.update(name.as_bytes());
        hasher.update([0u8]);
        hasher.update(digest.0);
    }
    Digest(hasher.finalize().digest)
}

/// The digest of an output: `blake2b256(output bytes)`.
pub fn output_digest(output: &[u8]) -> Digest {
    blake2b256(output)
}

/// The bytes hashed into a commitment: the BCS of `(request_id, node_id, output_digest, salt)`.
pub fn commitment_preimage(
    request_id: &ObjectId,
    node_id: &ObjectId,
    output_digest: &Digest,
    salt: &Digest,
) -> Vec<u8> {
    // BCS of a tuple of fixed-size values cannot fail.
    bcs::to_bytes(&(request_id, node_id, output_digest, salt)).expect("BCS of fixed-size values")
}

/// `blake2b256(bcs(request_id, node_id, output_digest, salt))`.
pub fn commitment(request_id: &ObjectId, node_id: &ObjectId, output_digest: &Digest, salt: &Digest) -> Digest {
    blake2b256(&commitment_preimage(request_id, node_id, output_digest, salt))
}

/// The salt a dispute-round member commits with: `blake2b256(request_id ||
/// output bytes)`. Only a node that holds the output bytes can compute it, so
/// a disputer cannot vote with the public main-round digests without running
/// the model (docs/protocol.md, Settlement).
pub fn dispute_key(request_id: &ObjectId, output: &[u8]) -> Digest {
    let mut data = Vec::with_capacity(32 + output.len());
    data.extend_from_slice(&request_id.0);
    data.extend_from_slice(output);
    blake2b256(&data)
}

/// The hash a Sealed requester publishes at submission: `blake2b256(secret)`.
pub fn secret_hash(secret: &Digest) -> Digest {
    blake2b256(&secret.0)
}

/// A seed derived from `seed` for one purpose: `blake2b256(seed || tag)`.
pub fn derive(seed: &Digest, tag: u8) -> Digest {
    let mut data = [0u8; 33];
    data[..32].copy_from_slice(&seed.0);
    data[32] = tag;
    blake2b256(&data)
}

/// The seed of a Sealed request's verification draw: `blake2b256(request_seed || secret)`.
pub fn sealed_draw_seed(request_seed: &Digest, secret: &Digest) -> Digest {
    let mut data = [0u8; 64];
    data[..32].copy_from_slice(&request_seed.0);
    data[32..].copy_from_slice(&secret.0);
    blake2b256(&data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preimage_is_the_bcs_of_ids_and_vectors() {
        let p = commitment_preimage(&ObjectId([1; 32]), &ObjectId([2; 32]), &Digest([3; 32]), &Digest([4; 32]));
        assert_eq!(p.len(), 32 + 32 + 33 + 33);
        assert_eq!(p[64], 32);
        assert_eq!(p[97], 32);
        assert_eq!(&p[98..], &[4u8; 32]);
    }

    #[test]
    fn dispute_key_hashes_the_request_id_then_the_output() {
        let id = ObjectId([9; 32]);
        let mut data = vec![9u8; 32];
        data.extend_from_slice(b"out");
        assert_eq!(dispute_key(&id, b"out"), blake2b256(&data));
        assert_ne!(dispute_key(&id, b"out"), output_digest(b"out"));
    }

    #[test]
    fn blake2b256_matches_the_known_answer_for_abc() {
        // RFC 7693 parameters with a 32-byte output; also Python's hashlib.blake2b(b"abc", digest_size=32).
        assert_eq!(
            blake2b256(b"abc").to_string(),
            "0xbddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"
        );
    }
}
