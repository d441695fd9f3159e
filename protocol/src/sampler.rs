//! The deterministic sampler (docs/protocol.md, "Selection and randomness"). Move's `sampler` module
//! implements the same function; the vectors in `tests/vectors/sampler.json`
//! pin both.
//!
//! `sample(seed, k, len, excluded)` draws `k` distinct indices of `0..len`:
//!
//! ```text
//! for counter = 0, 1, 2, ...:
//!     x = u64_le(blake2b256(seed || u64_le(counter))[0..8])
//!     if x >= len * floor(2^64 / len): reject          (no modulo bias)
//!     i = x mod len
//!     if i already drawn or i in excluded: skip
//!     else: draw i                                      (until k are drawn)
//! ```
//!
//! The result is in draw order. Its cost is O(k + |excluded|) hashes in
//! expectation: it touches only the indices it draws, never the whole list,
//! which is what keeps on-chain selection within Sui's per-transaction limits.
//!
//! Not for: deciding who is eligible (the class's active list) or what the
//! indices mean (the caller maps them to nodes).

use crate::commitment::blake2b256;
use crate::error::{ProtocolError, Result};
use crate::types::Digest;

/// The `counter`-th 64-bit draw of `seed`.
pub fn draw(seed: &Digest, counter: u64) -> u64 {
    let mut data = [0u8; 40];
    data[..32].copy_from_slice(&seed.0);
    data[32..].copy_from_slice(&counter.to_le_bytes());
    let h = blake2b256(&data);
    let mut x = [0u8; 8];
    x.copy_from_slice(&h.0[..8]);
    u64::from_le_bytes(x)
}

/// The rejection bound `len * floor(2^64 / len)` (2^64 when `len` is a power of two).
pub fn rejection_bound(len: u64) -> u128 {
    let len = len as u128;
    len * ((1u128 << 64) / len)
}

/// Draws `k` distinct indices of `0..len`, none in `excluded` (see the module doc).
///
/// Fails with `NotEnoughNodes` when fewer than `k` indices are left after the
/// exclusions (excluded values outside `0..len` and repeats are ignored).
pub fn sample(seed: &Digest, k: u64, len: u64, excluded: &[u64]) -> Result<Vec<u64>> {
    let mut excluded_in_range: Vec<u64> = excluded.iter().copied().filter(|&i| i < len).collect();
    excluded_in_range.sort_unstable();
    excluded_in_range.dedup();
    let available = len - excluded_in_range.len() as u64;
    if k > available {
        return Err(ProtocolError::NotEnoughNodes);
    }
    let mut drawn: Vec<u64> = Vec::with_capacity(k as usize);
    if k == 0 {
        return Ok(drawn);
    }
    let bound = rejection_bound(len);
    let mut counter = 0u64;
    while (drawn.len() as u64) < k {
        let x = draw(seed, counter);
        counter += 1;
        if (x as u128) >= bound {
            continue;
        }
        let i = x % len;
        if drawn.contains(&i) || excluded_in_range.binary_search(&i).is_ok() {
            continue;
        }
        drawn.push(i);
    }
    Ok(drawn)
}

/// A uniform draw below `bound` from `seed` (the first index of `sample(seed, 1, bound, [])`).
pub fn draw_below(seed: &Digest, bound: u64) -> Result<u64> {
    Ok(sample(seed, 1, bound, &[])?[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_of_two_lengths_never_reject() {
        assert_eq!(rejection_bound(1), 1u128 << 64);
        assert_eq!(rejection_bound(1024), 1u128 << 64);
        assert_eq!(rejection_bound(3), 3 * (u64::MAX as u128 / 3));
    }

    #[test]
    fn too_few_indices_is_an_error() {
        assert_eq!(sample(&Digest([0; 32]), 3, 3, &[1]), Err(ProtocolError::NotEnoughNodes));
        assert_eq!(sample(&Digest([0; 32]), 1, 0, &[]), Err(ProtocolError::NotEnoughNodes));
        assert_eq!(sample(&Digest([0; 32]), 2, 3, &[1, 1, 7]).unwrap().len(), 2);
    }

    #[test]
    fn drawing_everything_returns_a_permutation() {
        let mut v = sample(&Digest([9; 32]), 10, 10, &[]).unwrap();
        v.sort();
        assert_eq!(v, (0..10).collect::<Vec<_>>());
    }
}
