//! The GGUF header parser: bytes in, a checked [`Gguf`] or an error out,
//! never a panic and never an allocation larger than the input warrants
//! (counts and lengths are checked against the bytes left before anything
//! is reserved).
//!
//! Checks, in file order: the magic, the version (2 or 3; a byte-swapped
//! version is a big-endian file), every length and count against the end of
//! the file, value types (0 to 12, arrays of one type, nested at most
//! [`MAX_DEPTH`] deep), booleans (0 or 1), UTF-8 strings, duplicate keys,
//! `general.alignment` (a u32 power of two), tensor infos (at most four
//! dims, a known type, an element count that fits in an i64, a first dim
//! that is a multiple of the block size, an aligned offset), duplicate
//! tensor names, and that every tensor's bytes lie inside the file.
//!
//! Not for: memory mapping (`super::GgufFile`), dequantization (`super::quant`).

use std::collections::BTreeMap;

use super::{GgmlType, Gguf, GgufError, TensorInfo, Value};

const MAGIC: &[u8; 4] = b"GGUF";
const DEFAULT_ALIGNMENT: u64 = 32;
/// Deepest nesting of arrays accepted (the format allows any; files use 1).
pub const MAX_DEPTH: usize = 4;
/// ggml's GGML_MAX_DIMS.
const MAX_DIMS: u32 = 4;

/// A read position in the file's bytes.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    fn take(&mut self, n: u64, what: &dyn Fn() -> String) -> Result<&'a [u8], GgufError> {
        if n > self.left() as u64 {
            return Err(GgufError::Truncated { what: what(), offset: self.pos as u64, len: self.bytes.len() as u64 });
        }
        let out = &self.bytes[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(out)
    }

    fn array<const N: usize>(&mut self, what: &dyn Fn() -> String) -> Result<[u8; N], GgufError> {
        let b = self.take(N as u64, what)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    fn u32(&mut self, what: &dyn Fn() -> String) -> Result<u32, GgufError> {
        self.array(what).map(u32::from_le_bytes)
    }

    fn u64(&mut self, what: &dyn Fn() -> String) -> Result<u64, GgufError> {
        self.array(what).map(u64::from_le_bytes)
    }

    fn string(&mut self, what: &dyn Fn() -> String) -> Result<String, GgufError> {
        let len = self.u64(&|| format!("{} (length)", what()))?;
        let bytes = self.take(len, what)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|e| GgufError::Invalid { what: what(), why: format!("not UTF-8: {e}") })
    }
}

/// See the module doc for the checks.
pub fn parse(bytes: &[u8]) -> Result<Gguf, GgufError> {
    let mut c = Cursor { bytes, pos: 0 };
    let magic: [u8; 4] = c.array(&|| "magic".into())?;
    if &magic != MAGIC {
        return Err(GgufError::BadMagic(magic));
    }
    let version = c.u32(&|| "version".into())?;
    if !(2..=3).contains(&version) {
        return Err(if (2..=3).contains(&version.swap_bytes()) {
            GgufError::BigEndian
        } else {
            GgufError::UnsupportedVersion(version)
        });
    }
    let tensor_count = c.u64(&|| "tensor count".into())?;
    let kv_count = c.u64(&|| "metadata count".into())?;

    let mut metadata = BTreeMap::new();
    for i in 0..kv_count {
        let key = c.string(&|| format!("metadata key {i}"))?;
        let ty = c.u32(&|| format!("type of metadata `{key}`"))?;
        let value = read_value(&mut c, ty, &key, 0)?;
        if metadata.insert(key.clone(), value).is_some() {
            return Err(GgufError::DuplicateKey(key));
        }
    }

    let alignment = match metadata.get("general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some(Value::U32(a)) if a.is_power_of_two() => u64::from(*a),
        Some(Value::U32(a)) => return Err(GgufError::BadAlignment(u64::from(*a))),
        Some(other) => {
            return Err(GgufError::Invalid {
                what: "general.alignment".into(),
                why: format!("must be a u32, found {other:?}"),
            });
        }
    };

    // A tensor info takes at least 8 + 4 + 4 + 8 bytes.
    let mut tensors = Vec::with_capacity((tensor_count.min(c.left() as u64 / 24)) as usize);
    for i in 0..tensor_count {
        tensors.push(read_tensor_info(&mut c, i, alignment)?);
    }
    let mut names: Vec<&str> = tensors.iter().map(|t| t.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(GgufError::DuplicateTensor(w[0].to_owned()));
    }

    let data_offset = (c.pos as u64).div_ceil(alignment) * alignment;
    let len = bytes.len() as u64;
    for t in &tensors {
        let end = data_offset.checked_add(t.offset).and_then(|s| s.checked_add(t.n_bytes));
        if end.is_none_or(|end| end > len) {
            return Err(GgufError::TensorPastEnd {
                name: t.name.clone(),
                start: data_offset.saturating_add(t.offset),
                end: data_offset.saturating_add(t.offset).saturating_add(t.n_bytes),
                len,
            });
        }
    }
    Ok(Gguf { version, metadata, tensors, alignment, data_offset })
}

/// The smallest encoding of a value of type `ty` (to bound array counts).
fn min_size(ty: u32) -> u64 {
    match ty {
        0 | 1 | 7 => 1,
        2 | 3 => 2,
        4..=6 => 4,
        8 => 8,
        9 => 12,
        _ => 8,
    }
}

fn read_value(c: &mut Cursor<'_>, ty: u32, key: &str, depth: usize) -> Result<Value, GgufError> {
    let what = || format!("value of metadata `{key}`");
    Ok(match ty {
        0 => Value::U8(c.array::<1>(&what)?[0]),
        1 => Value::I8(c.array::<1>(&what)?[0] as i8),
        2 => Value::U16(u16::from_le_bytes(c.array(&what)?)),
        3 => Value::I16(i16::from_le_bytes(c.array(&what)?)),
        4 => Value::U32(u32::from_le_bytes(c.array(&what)?)),
        5 => Value::I32(i32::from_le_bytes(c.array(&what)?)),
        6 => Value::F32(f32::from_le_bytes(c.array(&what)?)),
        7 => match c.array::<1>(&what)?[0] {
            0 => Value::Bool(false),
            1 => Value::Bool(true),
            b => return Err(GgufError::Invalid { what: what(), why: format!("bool byte {b}, not 0 or 1") }),
        },
        8 => Value::String(c.string(&what)?),
        9 => {
            if depth >= MAX_DEPTH {
                return Err(GgufError::Invalid {
                    what: what(),
                    why: format!("arrays nested more than {MAX_DEPTH} deep"),
                });
            }
            let item = c.u32(&|| format!("array item type of metadata `{key}`"))?;
            let count = c.u64(&|| format!("array length of metadata `{key}`"))?;
            if !(0..=12).contains(&item) {
                return Err(GgufError::Invalid { what: what(), why: format!("unknown array item type {item}") });
            }
            if count.checked_mul(min_size(item)).is_none_or(|n| n > c.left() as u64) {
                return Err(GgufError::Truncated {
                    what: format!("{count} array items of metadata `{key}`"),
                    offset: c.pos as u64,
                    len: c.bytes.len() as u64,
                });
            }
            // Bounded by the bytes left (checked above) and by a fixed cap.
            let mut items = Vec::with_capacity(count.min(1 << 20) as usize);
            for _ in 0..count {
                items.push(read_value(c, item, key, depth + 1)?);
            }
            Value::Array(items)
        }
        10 => Value::U64(u64::from_le_bytes(c.array(&what)?)),
        11 => Value::I64(i64::from_le_bytes(c.array(&what)?)),
        12 => Value::F64(f64::from_le_bytes(c.array(&what)?)),
        _ => return Err(GgufError::Invalid { what: what(), why: format!("unknown value type {ty}") }),
    })
}

fn read_tensor_info(c: &mut Cursor<'_>, index: u64, alignment: u64) -> Result<TensorInfo, GgufError> {
    let name = c.string(&|| format!("name of tensor {index}"))?;
    let what = |field: &'static str| {
        let name = name.clone();
        move || format!("{field} of tensor `{name}`")
    };
    let n_dims = c.u32(&what("dimension count"))?;
    if n_dims > MAX_DIMS {
        return Err(GgufError::TooManyDims { name, n_dims });
    }
    let mut dims = Vec::with_capacity(n_dims as usize);
    for _ in 0..n_dims {
        dims.push(c.u64(&what("dimensions"))?);
    }
    let code = c.u32(&what("type"))?;
    let offset = c.u64(&what("offset"))?;
    let ty = GgmlType::from_code(code).ok_or_else(|| GgufError::UnknownType { name: name.clone(), ty: code })?;
    let overflow = || GgufError::ElementCountOverflow { name: name.clone(), dims: dims.clone() };
    let n_elements = dims.iter().try_fold(1u64, |n, &d| n.checked_mul(d)).ok_or_else(overflow)?;
    if n_elements > i64::MAX as u64 {
        return Err(overflow());
    }
    let block = ty.block_size() as u64;
    let dim0 = dims.first().copied().unwrap_or(1);
    if !dim0.is_multiple_of(block) {
        return Err(GgufError::BlockMisaligned { name, ty: ty.name(), dim0, block: ty.block_size() });
    }
    let n_bytes = (n_elements / block).checked_mul(ty.type_size() as u64).ok_or_else(overflow)?;
    if !offset.is_multiple_of(alignment) {
        return Err(GgufError::MisalignedOffset { name, offset, alignment });
    }
    Ok(TensorInfo { name, dims, ty, offset, n_elements, n_bytes })
}

#[cfg(test)]
mod tests;
