//! Dequantization of GGUF tensor data into f32, bit for bit what the PyPI
//! `gguf` package's `gguf.quants.dequantize` (0.19.0) returns.
//!
//! Every block format follows the reference's arithmetic exactly: the f16
//! scales become f32 first (exactly, NaN payloads kept, as numpy's
//! `astype(np.float32)` does), each product and difference is rounded to
//! f32 separately, in the reference's order (`d * q - m`, never a fused
//! multiply-add; Rust does not contract `a * b - c`). Each element is a pure
//! function of its block's bytes, so the result does not depend on the
//! machine, the thread count or the order blocks are visited in. The
//! products of an f16 scale with the small integers of a block are never
//! subnormal f32 values, so a flush-to-zero mode (which libtorch may set)
//! cannot change them either.
//!
//! Supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K,
//! Q5_K, Q6_K. Any other type (Q8_1, Q8_K, the IQ and ternary formats, the
//! integer types) is refused by name.
//!
//! Not for: reading the file (`super::reader`), converting to the class's
//! dtype or device (the loader does that from the f32 values).

use super::{GgmlType, GgufError};

/// Whether [`dequantize`] supports `ty`.
pub fn is_supported(ty: GgmlType) -> bool {
    use GgmlType::*;
    matches!(ty, F32 | F16 | Bf16 | Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q8_0 | Q2K | Q3K | Q4K | Q5K | Q6K)
}

/// Dequantizes `data` (the raw bytes of a tensor of type `ty`, in GGUF's
/// element order) into `n_elements` f32 values in the same order.
///
/// Fails if `ty` is not supported or if `data` is not exactly the size
/// `n_elements` of `ty` occupy (`n_elements` a multiple of the block size).
pub fn dequantize(ty: GgmlType, data: &[u8], n_elements: usize) -> Result<Vec<f32>, GgufError> {
    let mut out = vec![0f32; n_elements];
    dequantize_into(ty, data, &mut out)?;
    Ok(out)
}

/// [`dequantize`] into a buffer the caller owns (`out.len()` elements).
pub fn dequantize_into(ty: GgmlType, data: &[u8], out: &mut [f32]) -> Result<(), GgufError> {
    if !is_supported(ty) {
        return Err(GgufError::UnsupportedType { ty: ty.name() });
    }
    let (block, size) = (ty.block_size(), ty.type_size());
    if !out.len().is_multiple_of(block) || out.len() / block * size != data.len() {
        return Err(GgufError::DataSize { ty: ty.name(), elements: out.len() as u64, bytes: data.len() as u64 });
    }
    let blocks = data.chunks_exact(size).zip(out.chunks_exact_mut(block));
    match ty {
        GgmlType::F32 => blocks.for_each(|(b, y)| y[0] = f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        GgmlType::F16 => blocks.for_each(|(b, y)| y[0] = f16_at(b, 0)),
        // `(int16 as int32) << 16` viewed as f32: the bf16 bits in the high half.
        GgmlType::Bf16 => blocks.for_each(|(b, y)| y[0] = f32::from_bits((u16_at(b, 0) as u32) << 16)),
        GgmlType::Q4_0 => blocks.for_each(|(b, y)| q4_0(b, y)),
        GgmlType::Q4_1 => blocks.for_each(|(b, y)| q4_1(b, y)),
        GgmlType::Q5_0 => blocks.for_each(|(b, y)| q5_0(b, y)),
        GgmlType::Q5_1 => blocks.for_each(|(b, y)| q5_1(b, y)),
        GgmlType::Q8_0 => blocks.for_each(|(b, y)| q8_0(b, y)),
        GgmlType::Q2K => blocks.for_each(|(b, y)| q2_k(b, y)),
        GgmlType::Q3K => blocks.for_each(|(b, y)| q3_k(b, y)),
        GgmlType::Q4K => blocks.for_each(|(b, y)| q4_k(b, y)),
        GgmlType::Q5K => blocks.for_each(|(b, y)| q5_k(b, y)),
        GgmlType::Q6K => blocks.for_each(|(b, y)| q6_k(b, y)),
        _ => unreachable!("is_supported checked the type"),
    }
    Ok(())
}

/// IEEE half to single precision, exact; a NaN keeps its payload (shifted),
/// quiet or signalling, as numpy's `npy_halfbits_to_floatbits` does.
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h & 0x8000) as u32) << 16;
    let exp = ((h >> 10) & 0x1f) as u32;
    let man = (h & 0x03ff) as u32;
    let bits = match exp {
        0 if man == 0 => sign,
        0 => {
            // Subnormal: normalise the mantissa (value man * 2^-24).
            let shift = man.leading_zeros() - 21; // brings the top set bit to bit 10
            let man = (man << shift) & 0x03ff;
            sign | ((127 - 15 + 1 - shift) << 23) | (man << 13)
        }
        0x1f => sign | 0x7f80_0000 | (man << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (man << 13),
    };
    f32::from_bits(bits)
}

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_le_bytes([b[i], b[i + 1]])
}

fn f16_at(b: &[u8], i: usize) -> f32 {
    f16_to_f32(u16_at(b, i))
}

/// Low nibble for the first half of a 32-block, high nibble for the second.
fn nibble(qs: &[u8], j: usize) -> u8 {
    (qs[j % 16] >> (4 * (j / 16))) & 0x0f
}

/// `d (f16) | qs[16]`: `d * (q - 8)`.
fn q4_0(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    for (j, y) in y.iter_mut().enumerate() {
        *y = d * (nibble(&b[2..], j) as i8 - 8) as f32;
    }
}

/// `d, m (f16) | qs[16]`: `d * q + m`.
fn q4_1(b: &[u8], y: &mut [f32]) {
    let (d, m) = (f16_at(b, 0), f16_at(b, 2));
    for (j, y) in y.iter_mut().enumerate() {
        *y = d * nibble(&b[4..], j) as f32 + m;
    }
}

/// `d (f16) | qh (u32 LE) | qs[16]`: `d * (q - 16)`, bit j of `qh` the fifth bit.
fn q5_0(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    let qh = u32::from_le_bytes([b[2], b[3], b[4], b[5]]);
    for (j, y) in y.iter_mut().enumerate() {
        let q = nibble(&b[6..], j) | ((((qh >> j) & 1) as u8) << 4);
        *y = d * (q as i8 - 16) as f32;
    }
}

/// `d, m (f16) | qh (u32 LE) | qs[16]`: `d * q + m`.
fn q5_1(b: &[u8], y: &mut [f32]) {
    let (d, m) = (f16_at(b, 0), f16_at(b, 2));
    let qh = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
    for (j, y) in y.iter_mut().enumerate() {
        let q = nibble(&b[8..], j) | ((((qh >> j) & 1) as u8) << 4);
        *y = d * q as f32 + m;
    }
}

/// `d (f16) | qs[32] (i8)`: `q * d`.
fn q8_0(b: &[u8], y: &mut [f32]) {
    let d = f16_at(b, 0);
    for (j, y) in y.iter_mut().enumerate() {
        *y = (b[2 + j] as i8) as f32 * d;
    }
}

/// Two bits of `qs` for element `f` of a 256-block laid out as two halves of
/// 128, each four 32-element slices taking successive bit pairs of 32 bytes.
fn crumb(qs: &[u8], f: usize) -> u8 {
    let (h, r) = (f / 128, f % 128);
    (qs[h * 32 + r % 32] >> (2 * (r / 32))) & 3
}

/// `scales[16] | qs[64] | d, dmin (f16)`: per 16 elements, `dl = d * (sc & 15)`,
/// `ml = dmin * (sc >> 4)`, then `dl * q - ml`.
fn q2_k(b: &[u8], y: &mut [f32]) {
    let (scales, qs) = (&b[..16], &b[16..80]);
    let (d, dmin) = (f16_at(b, 80), f16_at(b, 82));
    for (f, y) in y.iter_mut().enumerate() {
        let sc = scales[f / 16];
        let dl = d * (sc & 0x0f) as f32;
        let ml = dmin * (sc >> 4) as f32;
        *y = dl * crumb(qs, f) as f32 - ml;
    }
}

/// `hmask[32] | qs[64] | scales[12] (16 six-bit values) | d (f16)`: per 16
/// elements `dl = d * (scale - 32)`, then `dl * (q - 4 * !hbit)`.
fn q3_k(b: &[u8], y: &mut [f32]) {
    let (hmask, qs, packed) = (&b[..32], &b[32..96], &b[96..108]);
    let d = f16_at(b, 108);
    let mut scales = [0f32; 16];
    for (i, s) in scales.iter_mut().enumerate() {
        let low = (packed[i % 8] >> (4 * (i / 8))) & 0x0f;
        let high = (packed[8 + i % 4] >> (2 * (i / 4))) & 0x03;
        *s = ((low | (high << 4)) as i8 - 32) as f32;
    }
    for (f, y) in y.iter_mut().enumerate() {
        let dl = d * scales[f / 16];
        let hbit = ((hmask[f % 32] >> (f / 32)) & 1) ^ 1;
        let q = crumb(qs, f) as i8 - (hbit << 2) as i8;
        *y = dl * q as f32;
    }
}

/// The eight 6-bit scales and mins of Q4_K and Q5_K, packed in 12 bytes.
fn scale_min_k4(s: &[u8]) -> ([u8; 8], [u8; 8]) {
    let (mut sc, mut m) = ([0u8; 8], [0u8; 8]);
    for j in 0..4 {
        sc[j] = s[j] & 0x3f;
        m[j] = s[4 + j] & 0x3f;
        sc[4 + j] = (s[8 + j] & 0x0f) | ((s[j] >> 2) & 0x30);
        m[4 + j] = (s[8 + j] >> 4) | ((s[4 + j] >> 2) & 0x30);
    }
    (sc, m)
}

/// The low four bits of element `f` of Q4_K and Q5_K: four 64-element
/// chunks, each the low then the high nibbles of 32 bytes.
fn nibble_k(qs: &[u8], f: usize) -> u8 {
    (qs[(f / 64) * 32 + f % 32] >> (4 * ((f / 32) % 2))) & 0x0f
}

/// `d, dmin (f16) | scales[12] | qs[128]`: per 32 elements `dl = d * sc`,
/// `dm = dmin * m`, then `dl * q - dm`.
fn q4_k(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
    let (sc, m) = scale_min_k4(&b[4..16]);
    let qs = &b[16..144];
    for (f, y) in y.iter_mut().enumerate() {
        let s = f / 32;
        let dl = d * sc[s] as f32;
        let dm = dmin * m[s] as f32;
        *y = dl * nibble_k(qs, f) as f32 - dm;
    }
}

/// `d, dmin (f16) | scales[12] | qh[32] | qs[128]`: as Q4_K, with bit `f / 32`
/// of `qh[f % 32]` the fifth bit.
fn q5_k(b: &[u8], y: &mut [f32]) {
    let (d, dmin) = (f16_at(b, 0), f16_at(b, 2));
    let (sc, m) = scale_min_k4(&b[4..16]);
    let (qh, qs) = (&b[16..48], &b[48..176]);
    for (f, y) in y.iter_mut().enumerate() {
        let s = f / 32;
        let dl = d * sc[s] as f32;
        let dm = dmin * m[s] as f32;
        let q = nibble_k(qs, f) | (((qh[f % 32] >> s) & 1) << 4);
        *y = dl * q as f32 - dm;
    }
}

/// `ql[128] | qh[64] | scales[16] (i8) | d (f16)`: per 16 elements
/// `dl = d * scale`, then `dl * (q - 32)` with q six bits: a nibble of `ql`
/// and a bit pair of `qh`.
fn q6_k(b: &[u8], y: &mut [f32]) {
    let (ql, qh, scales) = (&b[..128], &b[128..192], &b[192..208]);
    let d = f16_at(b, 208);
    for (f, y) in y.iter_mut().enumerate() {
        let (h, r) = (f / 128, f % 128);
        let low = (ql[h * 64 + r % 64] >> (4 * (r / 64))) & 0x0f;
        let high = (qh[h * 32 + r % 32] >> (2 * (r / 32))) & 0x03;
        let dl = d * (scales[f / 16] as i8) as f32;
        *y = dl * ((low | (high << 4)) as i8 - 32) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f16_conversion_is_exact_for_every_finite_value() {
        for h in 0..=u16::MAX {
            let f = f16_to_f32(h);
            if (h & 0x7c00) == 0x7c00 {
                continue;
            }
            // Each finite f16 is m * 2^(e-25) for integers; f64 holds it exactly.
            let e = ((h >> 10) & 0x1f) as i32;
            let m = (h & 0x3ff) as f64 + if e == 0 { 0.0 } else { 1024.0 };
            let v = m * 2f64.powi(e.max(1) - 25);
            let v = if h & 0x8000 != 0 { -v } else { v };
            assert_eq!(f as f64, v, "{h:#06x}");
            assert_eq!(f.is_sign_negative(), h & 0x8000 != 0, "{h:#06x}");
        }
    }

    #[test]
    fn f16_infinities_and_nans_keep_sign_and_payload() {
        assert_eq!(f16_to_f32(0x7c00), f32::INFINITY);
        assert_eq!(f16_to_f32(0xfc00), f32::NEG_INFINITY);
        assert_eq!(f16_to_f32(0x7e00).to_bits(), 0x7fc0_0000);
        assert_eq!(f16_to_f32(0x7d00).to_bits(), 0x7fa0_0000);
        assert_eq!(f16_to_f32(0xfc01).to_bits(), 0xff80_2000);
    }

    #[test]
    fn q8_0_block_is_scale_times_int8() {
        let mut b = vec![0x00, 0x3c]; // d = 1.0
        b.extend((0..32).map(|i| (i as i8 - 16) as u8));
        let y = dequantize(GgmlType::Q8_0, &b, 32).unwrap();
        assert_eq!(y, (0..32).map(|i| (i - 16) as f32).collect::<Vec<_>>());
    }

    #[test]
    fn q4_0_uses_low_nibbles_then_high_nibbles() {
        let mut b = vec![0x00, 0x40]; // d = 2.0
        b.extend((0..16).map(|i| (i as u8) | ((15 - i as u8) << 4)));
        let y = dequantize(GgmlType::Q4_0, &b, 32).unwrap();
        let low: Vec<f32> = (0..16).map(|i| 2.0 * (i - 8) as f32).collect();
        let high: Vec<f32> = (0..16).map(|i| 2.0 * (15 - i - 8) as f32).collect();
        assert_eq!(y, [low, high].concat());
    }

    #[test]
    fn unsupported_types_are_refused_by_name() {
        for ty in [GgmlType::Q8_1, GgmlType::Q8K, GgmlType::Iq4Nl, GgmlType::I32, GgmlType::F64] {
            let err = dequantize(ty, &[], 0).unwrap_err();
            assert!(err.to_string().contains(ty.name()), "{err}");
        }
    }

    #[test]
    fn data_of_the_wrong_size_is_refused() {
        let err = dequantize(GgmlType::Q6K, &[0; 209], 256).unwrap_err();
        assert!(matches!(err, GgufError::DataSize { .. }), "{err}");
        let err = dequantize(GgmlType::Q4_0, &[0; 18], 31).unwrap_err();
        assert!(matches!(err, GgufError::DataSize { .. }), "{err}");
    }
}
