//! A minimal GGUF writer (version 3, little-endian, alignment 32), the
//! inverse of `super::reader`: metadata of every value type and tensors of
//! any type given as raw bytes. For tests and tools that need a small GGUF
//! file (a generated checkpoint converted to GGUF, a malformed file); the
//! engine never writes GGUF.
//!
//! Not for: quantizing (tensors are written as the bytes given), checking
//! what is written (the reader checks it when the file is read back).

use super::{GgmlType, Value};

const ALIGNMENT: usize = 32;

/// One tensor to write: its name, GGUF dims (`dims[0]` fastest), type and
/// raw data (exactly the bytes `ty` takes for `dims`).
pub struct TensorData {
    pub name: String,
    pub dims: Vec<u64>,
    pub ty: GgmlType,
    pub data: Vec<u8>,
}

impl TensorData {
    /// An F32 tensor of row-major `shape` (torch's order).
    pub fn f32(name: &str, shape: &[i64], values: &[f32]) -> Self {
        TensorData {
            name: name.to_owned(),
            dims: shape.iter().rev().map(|&d| d as u64).collect(),
            ty: GgmlType::F32,
            data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

/// The type code of a value (`value` in the module doc of `super`).
fn type_code(v: &Value) -> u32 {
    match v {
        Value::U8(_) => 0,
        Value::I8(_) => 1,
        Value::U16(_) => 2,
        Value::I16(_) => 3,
        Value::U32(_) => 4,
        Value::I32(_) => 5,
        Value::F32(_) => 6,
        Value::Bool(_) => 7,
        Value::String(_) => 8,
        Value::Array(_) => 9,
        Value::U64(_) => 10,
        Value::I64(_) => 11,
        Value::F64(_) => 12,
    }
}

fn value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::U8(x) => out.push(*x),
        Value::I8(x) => out.extend(x.to_le_bytes()),
        Value::U16(x) => out.extend(x.to_le_bytes()),
        Value::I16(x) => out.extend(x.to_le_bytes()),
        Value::U32(x) => out.extend(x.to_le_bytes()),
        Value::I32(x) => out.extend(x.to_le_bytes()),
        Value::F32(x) => out.extend(x.to_le_bytes()),
        Value::Bool(x) => out.push(u8::from(*x)),
        Value::String(s) => string(out, s),
        Value::Array(items) => {
            // An empty array is written as an array of u8.
            out.extend(items.first().map_or(0, type_code).to_le_bytes());
            out.extend((items.len() as u64).to_le_bytes());
            for item in items {
                value(out, item);
            }
        }
        Value::U64(x) => out.extend(x.to_le_bytes()),
        Value::I64(x) => out.extend(x.to_le_bytes()),
        Value::F64(x) => out.extend(x.to_le_bytes()),
    }
}

/// The bytes of a GGUF file holding `metadata` (in the order given) and
/// `tensors` (in the order given, each at an aligned offset).
pub fn write(metadata: &[(String, Value)], tensors: &[TensorData]) -> Vec<u8> {
    let mut out = b"GGUF".to_vec();
    out.extend(3u32.to_le_bytes());
    out.extend((tensors.len() as u64).to_le_bytes());
    out.extend((metadata.len() as u64).to_le_bytes());
    for (key, v) in metadata {
        string(&mut out, key);
        out.extend(type_code(v).to_le_bytes());
        value(&mut out, v);
    }
    let mut offset = 0usize;
    for t in tensors {
        string(&mut out, &t.name);
        out.extend((t.dims.len() as u32).to_le_bytes());
        for d in &t.dims {
            out.extend(d.to_le_bytes());
        }
        out.extend(t.ty.code().to_le_bytes());
        out.extend((offset as u64).to_le_bytes());
        offset = (offset + t.data.len()).div_ceil(ALIGNMENT) * ALIGNMENT;
    }
    for t in tensors {
        out.resize(out.len().div_ceil(ALIGNMENT) * ALIGNMENT, 0);
        out.extend(&t.data);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::gguf::Gguf;

    #[test]
    fn a_written_file_reads_back() {
        let metadata = vec![
            ("general.architecture".to_string(), Value::String("llama".into())),
            ("n".to_string(), Value::U32(7)),
            ("eps".to_string(), Value::F32(1e-5)),
            ("tokens".to_string(), Value::Array(vec![Value::String("a".into()), Value::String("b".into())])),
            ("empty".to_string(), Value::Array(vec![])),
        ];
        let tensors =
            vec![TensorData::f32("a", &[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]), TensorData::f32("b", &[1], &[9.0])];
        let bytes = write(&metadata, &tensors);
        let g = Gguf::parse(&bytes).unwrap();
        for (k, v) in &metadata {
            assert_eq!(g.get(k), Some(v), "{k}");
        }
        let a = g.tensor("a").unwrap();
        assert_eq!((a.shape(), a.ty), (vec![2, 3], GgmlType::F32));
        let b = g.tensor("b").unwrap();
        assert_eq!(g.tensor_data(&bytes, b), 9f32.to_le_bytes());
        assert_eq!(g.tensor_data(&bytes, a), &tensors[0].data[..]);
    }
}
