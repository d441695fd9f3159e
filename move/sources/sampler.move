/// The deterministic sampler (docs/protocol.md, "Selection and randomness"), byte for byte the Rust
/// `atoma_protocol::sampler`; the shared vectors in `tests/vectors_tests.move`
/// pin both.
///
/// `sample(seed, k, len, excluded)` draws `k` distinct indices of `0..len`:
/// for counter = 0, 1, ...: `x = u64_le(blake2b256(seed || u64_le(counter))[0..8])`;
/// reject `x >= len * floor(2^64 / len)`; `i = x mod len`; skip `i` if drawn
/// already or excluded. It reads only the indices it draws, so selecting `k`
/// nodes costs O(k), whatever the size of the class.
module atoma::sampler;

use sui::hash::blake2b256;

// === Errors ===

/// Fewer than `k` indices are left after the exclusions.
#[error(code = 19)]
const ENotEnoughNodes: vector<u8> = b"not enough eligible nodes in the hardware class";

// === Constants ===

const BPS: u64 = 10_000;
/// Tag of the seed a coin flip is drawn from.
const FLIP_TAG: u8 = 0;
/// Tag of the seed verifiers are sampled from.
const VERIFIERS_TAG: u8 = 1;

// === Public functions ===

/// The `counter`-th 64-bit draw of `seed`.
public fun draw(seed: &vector<u8>, counter: u64): u64 {
    let mut data = *seed;
    data.append(std::bcs::to_bytes(&counter));
    let h = blake2b256(&data);
    let mut x = 0u64;
    let mut i = 8;
    while (i > 0) {
        i = i - 1;
        x = (x << 8) | (h[i] as u64);
    };
    x
}

/// Draws `k` distinct indices of `0..len`, none in `excluded`, in draw order.
/// Aborts with `ENotEnoughNodes` if fewer than `k` are left.
public fun sample(seed: &vector<u8>, k: u64, len: u64, excluded: &vector<u64>): vector<u64> {
    let mut distinct = vector<u64>[];
    excluded.do_ref!(|i| if (*i < len && !distinct.contains(i)) distinct.push_back(*i));
    assert!(k <= len - distinct.length(), ENotEnoughNodes);
    let mut drawn = vector<u64>[];
    if (k == 0) return drawn;
    let bound = (len as u128) * ((1u128 << 64) / (len as u128));
    let mut counter = 0;
    while (drawn.length() < k) {
        let x = draw(seed, counter);
        counter = counter + 1;
        if ((x as u128) >= bound) continue;
        let i = x % len;
        if (drawn.contains(&i) || distinct.contains(&i)) continue;
        drawn.push_back(i);
    };
    drawn
}

/// A seed derived from `seed` for one purpose: `blake2b256(seed || tag)`.
public fun derive(seed: &vector<u8>, tag: u8): vector<u8> {
    let mut data = *seed;
    data.push_back(tag);
    blake2b256(&data)
}

/// The coin flip of `seed`: true with probability `p_bps / 10_000`.
public fun flip(seed: &vector<u8>, p_bps: u64): bool {
    sample(&derive(seed, FLIP_TAG), 1, BPS, &vector[])[0] < p_bps
}

/// The seed verifiers are sampled from, after a flip from `seed`.
public fun verifier_seed(seed: &vector<u8>): vector<u8> {
    derive(seed, VERIFIERS_TAG)
}

/// The seed of a Sealed request's draw: `blake2b256(request_seed || secret)`.
public fun sealed_draw_seed(request_seed: &vector<u8>, secret: &vector<u8>): vector<u8> {
    let mut data = *request_seed;
    data.append(*secret);
    blake2b256(&data)
}

/// A Sealed request's draw from `h = blake2b256(request_seed || secret)`:
/// whether the primary is checked, and which positions of the pool verify.
public fun sealed_draw(request_seed: &vector<u8>, secret: &vector<u8>, p_bps: u64, n: u64, pool: u64): (bool, vector<u64>) {
    let h = sealed_draw_seed(request_seed, secret);
    if (!flip(&h, p_bps)) return (false, vector[]);
    (true, sample(&verifier_seed(&h), n.min(pool), pool, &vector[]))
}
