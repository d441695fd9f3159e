//! The canonical byte encoding of a tensor, used for TorchScript inputs and
//! outputs (and hashed into the output digest):
//!
//! ```text
//! tensor = dtype(u8) || ndim(u8) || dims(ndim x u64 LE) || data (row-major, little-endian)
//! dtype  = 0 f32 | 1 f64 | 2 i64 | 3 i32 | 4 u8 | 5 f16 | 6 bf16
//! ```
//!
//! At most 8 dimensions and 256 MiB of data; anything else is rejected.

use tch::{Device, Kind, Tensor};

use super::{EngineError, ModelError};

const MAX_DIMS: usize = 8;
const MAX_BYTES: usize = 256 << 20;

fn kind_code(kind: Kind) -> Option<u8> {
    Some(match kind {
        Kind::Float => 0,
        Kind::Double => 1,
        Kind::Int64 => 2,
        Kind::Int => 3,
        Kind::Uint8 => 4,
        Kind::Half => 5,
        Kind::BFloat16 => 6,
        _ => return None,
    })
}

fn code_kind(code: u8) -> Option<Kind> {
    Some(match code {
        0 => Kind::Float,
        1 => Kind::Double,
        2 => Kind::Int64,
        3 => Kind::Int,
        4 => Kind::Uint8,
        5 => Kind::Half,
        6 => Kind::BFloat16,
        _ => return None,
    })
}

/// Encodes a tensor (copied to the CPU, made contiguous).
pub fn encode(t: &Tensor) -> Result<Vec<u8>, EngineError> {
    let code =
        kind_code(t.kind()).ok_or_else(|| ModelError::new(format!("output dtype {:?} has no encoding", t.kind())))?;
    let dims = t.size();
    if dims.len() > MAX_DIMS {
        return Err(ModelError::new(format!("output has {} dimensions (at most {MAX_DIMS})", dims.len())).into());
    }
    let t = t.to_device(Device::Cpu).contiguous();
    let n = t.numel() * t.kind().elt_size_in_bytes();
    let mut out = Vec::with_capacity(2 + 8 * dims.len() + n);
    out.push(code);
    out.push(dims.len() as u8);
    for d in &dims {
        out.extend_from_slice(&(*d as u64).to_le_bytes());
    }
    let start = out.len();
    out.resize(start + n, 0);
    // Little-endian host (x86-64, aarch64): the in-memory bytes are the encoding.
    t.copy_data_u8(&mut out[start..], t.numel());
    Ok(out)
}

/// Decodes a tensor, rejecting malformed bytes.
pub fn decode(bytes: &[u8]) -> Result<Tensor, EngineError> {
    let bad = |why: &str| EngineError::bad_input("invalid_tensor", format!("tensor encoding: {why}"));
    if bytes.len() < 2 {
        return Err(bad("shorter than its header"));
    }
    let kind = code_kind(bytes[0]).ok_or_else(|| bad("unknown dtype code"))?;
    let ndim = bytes[1] as usize;
    if ndim > MAX_DIMS {
        return Err(bad("more than 8 dimensions"));
    }
    let header = 2 + 8 * ndim;
    if bytes.len() < header {
        return Err(bad("shorter than its dimensions"));
    }
    let dims: Vec<i64> = (0..ndim)
        .map(|i| u64::from_le_bytes(bytes[2 + 8 * i..10 + 8 * i].try_into().expect("8 bytes")))
        .map(|d| i64::try_from(d).map_err(|_| bad("dimension too large")))
        .collect::<Result<_, _>>()?;
    let numel = dims.iter().try_fold(1usize, |acc, d| acc.checked_mul(*d as usize)).ok_or_else(|| bad("too large"))?;
    let n = numel.checked_mul(kind.elt_size_in_bytes()).filter(|n| *n <= MAX_BYTES).ok_or_else(|| bad("too large"))?;
    if bytes.len() != header + n {
        return Err(bad(&format!("{} data bytes for {n} expected", bytes.len() - header)));
    }
    Ok(Tensor::from_data_size(&bytes[header..], &dims, kind))
}
