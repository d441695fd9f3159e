//! GGUF, the checkpoint format of llama.cpp and Ollama: one file holding
//! metadata (architecture, hyperparameters, tokenizer, chat template) and
//! tensors, most of them block-quantized. This module reads the format
//! (`reader`) and dequantizes tensors to f32 (`quant`) bit for bit as the
//! PyPI `gguf` package does.
//!
//! Layout (ggml's docs/gguf.md; versions 2 and 3, little-endian, all
//! integers little-endian):
//!
//! ```text
//! file        = magic:"GGUF" version:u32 tensor_count:u64 kv_count:u64
//!               kv{kv_count} tensor_info{tensor_count} padding data
//! string      = len:u64 utf8-bytes{len}
//! kv          = key:string value_type:u32 value
//! value       = u8 | i8 | u16 | i16 | u32 | i32 | f32 | bool:u8(0|1)
//!             | string | array | u64 | i64 | f64        (types 0 to 12)
//! array       = item_type:u32 count:u64 value{count}    (type 9)
//! tensor_info = name:string n_dims:u32 dims:u64{n_dims} type:u32 offset:u64
//! padding     = zero bytes up to a multiple of `general.alignment` (u32,
//!               a power of two; 32 if absent)
//! data        = the tensors, each at `offset` from the data start, a
//!               multiple of the alignment
//! ```
//!
//! `dims[0]` varies fastest (the reverse of a row-major shape); a tensor of a
//! block type holds `dims[0] / block_size` blocks per row.
//!
//! Beside the format: `llama` turns a Llama-family file (llama, qwen2) into
//! the config and named tensors the Hugging Face decoder takes, `tokenizer`
//! builds its tokenizer and chat template from the metadata, and `writer`
//! writes small files for tests.
//!
//! Not for: choosing the class's dtype (the model loader does that).

pub mod llama;
pub mod quant;
mod reader;
pub mod tokenizer;
#[cfg(any(test, feature = "fixtures"))]
pub mod writer;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::{Mmap, UncheckedAdvice};

pub use quant::{dequantize, dequantize_into, f16_to_f32};

/// Why a GGUF file or one of its tensors was refused; the message names the
/// check, and the key or tensor where there is one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GgufError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The wrapped error, for a file given by path.
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        #[source]
        source: Box<GgufError>,
    },
    #[error("not a GGUF file: magic bytes {0:02x?}, expected \"GGUF\"")]
    BadMagic([u8; 4]),
    #[error("GGUF version {0} is not supported (2 and 3 are)")]
    UnsupportedVersion(u32),
    #[error("big-endian GGUF files are not supported")]
    BigEndian,
    #[error("truncated: {what} at byte {offset} runs past the end of the file ({len} bytes)")]
    Truncated { what: String, offset: u64, len: u64 },
    #[error("{what}: {why}")]
    Invalid { what: String, why: String },
    #[error("metadata key `{0}` appears twice")]
    DuplicateKey(String),
    #[error("general.alignment is {0}, not a power of two")]
    BadAlignment(u64),
    #[error("tensor `{name}` has unknown type {ty}")]
    UnknownType { name: String, ty: u32 },
    #[error("tensor `{name}` has {n_dims} dimensions, at most 4 are allowed")]
    TooManyDims { name: String, n_dims: u32 },
    #[error("tensor `{name}`: the element count of dims {dims:?} overflows")]
    ElementCountOverflow { name: String, dims: Vec<u64> },
    #[error("tensor `{name}` of type {ty}: first dimension {dim0} is not a multiple of the block size {block}")]
    BlockMisaligned { name: String, ty: &'static str, dim0: u64, block: usize },
    #[error("tensor `{name}`: offset {offset} is not a multiple of the alignment {alignment}")]
    MisalignedOffset { name: String, offset: u64, alignment: u64 },
    #[error("tensor `{name}`: bytes {start}..{end} lie past the end of the file ({len} bytes)")]
    TensorPastEnd { name: String, start: u64, end: u64, len: u64 },
    #[error("tensor `{0}` appears twice")]
    DuplicateTensor(String),
    #[error("no tensor `{0}` in the file")]
    NoTensor(String),
    #[error(
        "tensor type {ty} cannot be dequantized (supported: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K to Q6_K)"
    )]
    UnsupportedType { ty: &'static str },
    #[error("{ty}: {bytes} bytes are not {elements} elements")]
    DataSize { ty: &'static str, elements: u64, bytes: u64 },
}

macro_rules! ggml_types {
    ($($variant:ident = $code:literal, $name:literal, $block:literal, $size:expr;)*) => {
        /// A tensor type of ggml (`ggml_type`), with its block layout.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum GgmlType { $($variant),* }

        impl GgmlType {
            /// The type of a code, if ggml defines it.
            pub fn from_code(code: u32) -> Option<Self> {
                match code { $($code => Some(GgmlType::$variant),)* _ => None }
            }
            /// The code in a tensor info.
            pub fn code(self) -> u32 {
                match self { $(GgmlType::$variant => $code),* }
            }
            /// The name ggml and the `gguf` package use (`Q4_K`).
            pub fn name(self) -> &'static str {
                match self { $(GgmlType::$variant => $name),* }
            }
            /// Elements per block.
            pub fn block_size(self) -> usize {
                match self { $(GgmlType::$variant => $block),* }
            }
            /// Bytes per block.
            pub fn type_size(self) -> usize {
                match self { $(GgmlType::$variant => $size),* }
            }
        }
    };
}

// The gguf package's GGML_QUANT_SIZES (constants.py, 0.19.0).
ggml_types! {
    F32 = 0, "F32", 1, 4;
    F16 = 1, "F16", 1, 2;
    Q4_0 = 2, "Q4_0", 32, 2 + 16;
    Q4_1 = 3, "Q4_1", 32, 2 + 2 + 16;
    Q5_0 = 6, "Q5_0", 32, 2 + 4 + 16;
    Q5_1 = 7, "Q5_1", 32, 2 + 2 + 4 + 16;
    Q8_0 = 8, "Q8_0", 32, 2 + 32;
    Q8_1 = 9, "Q8_1", 32, 4 + 4 + 32;
    Q2K = 10, "Q2_K", 256, 2 + 2 + 16 + 64;
    Q3K = 11, "Q3_K", 256, 2 + 64 + 32 + 12;
    Q4K = 12, "Q4_K", 256, 2 + 2 + 128 + 12;
    Q5K = 13, "Q5_K", 256, 2 + 2 + 128 + 32 + 12;
    Q6K = 14, "Q6_K", 256, 2 + 128 + 64 + 16;
    Q8K = 15, "Q8_K", 256, 4 + 256 + 32;
    Iq2Xxs = 16, "IQ2_XXS", 256, 2 + 64;
    Iq2Xs = 17, "IQ2_XS", 256, 2 + 64 + 8;
    Iq3Xxs = 18, "IQ3_XXS", 256, 2 + 64 + 32;
    Iq1S = 19, "IQ1_S", 256, 2 + 32 + 16;
    Iq4Nl = 20, "IQ4_NL", 32, 2 + 16;
    Iq3S = 21, "IQ3_S", 256, 2 + 64 + 32 + 8 + 4;
    Iq2S = 22, "IQ2_S", 256, 2 + 64 + 16;
    Iq4Xs = 23, "IQ4_XS", 256, 2 + 2 + 128 + 4;
    I8 = 24, "I8", 1, 1;
    I16 = 25, "I16", 1, 2;
    I32 = 26, "I32", 1, 4;
    I64 = 27, "I64", 1, 8;
    F64 = 28, "F64", 1, 8;
    Iq1M = 29, "IQ1_M", 256, 32 + 16 + 8;
    Bf16 = 30, "BF16", 1, 2;
    Tq1_0 = 34, "TQ1_0", 256, 2 + 4 * 13;
    Tq2_0 = 35, "TQ2_0", 256, 2 + 64;
    Mxfp4 = 39, "MXFP4", 32, 1 + 16;
    Nvfp4 = 40, "NVFP4", 64, 4 + 32;
    Q1_0 = 41, "Q1_0", 128, 2 + 16;
}

/// A metadata value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    String(String),
    /// Items of one type (the reader checks it); may nest.
    Array(Vec<Value>),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl Value {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// An unsigned or non-negative signed integer of any width.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// A float of either width (f32 widened exactly).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F32(v) => Some(v.into()),
            Value::F64(v) => Some(v),
            _ => None,
        }
    }

    /// The items, if this is an array.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }
}

/// One tensor's description; its data is at `data_offset + offset`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    /// GGUF order: `dims[0]` varies fastest.
    pub dims: Vec<u64>,
    pub ty: GgmlType,
    /// From the start of the data section.
    pub offset: u64,
    pub n_elements: u64,
    pub n_bytes: u64,
}

impl TensorInfo {
    /// The row-major shape (torch's and numpy's): `dims` reversed.
    pub fn shape(&self) -> Vec<i64> {
        // The reader checked that the element count fits in an i64.
        self.dims.iter().rev().map(|&d| d as i64).collect()
    }
}

/// A parsed GGUF header: everything but the tensor data.
#[derive(Clone, Debug)]
pub struct Gguf {
    pub version: u32,
    pub metadata: BTreeMap<String, Value>,
    /// In file order.
    pub tensors: Vec<TensorInfo>,
    pub alignment: u64,
    /// Where the data section starts, from the start of the file.
    pub data_offset: u64,
}

impl Gguf {
    /// Parses the header of a whole GGUF file held in `bytes`, checking that
    /// every tensor lies inside it.
    pub fn parse(bytes: &[u8]) -> Result<Self, GgufError> {
        reader::parse(bytes)
    }

    /// A metadata value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.metadata.get(key)
    }

    /// A tensor's description.
    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// The bytes of `info` in `file` (the bytes `parse` read).
    pub fn tensor_data<'a>(&self, file: &'a [u8], info: &TensorInfo) -> &'a [u8] {
        // `parse` checked that the range lies inside the file.
        let start = (self.data_offset + info.offset) as usize;
        &file[start..start + info.n_bytes as usize]
    }
}

/// A GGUF file, memory-mapped, its header parsed and checked.
pub struct GgufFile {
    pub path: PathBuf,
    pub header: Gguf,
    map: Mmap,
}

impl GgufFile {
    /// Maps and parses `path`; every error names the file.
    pub fn open(path: &Path) -> Result<Self, GgufError> {
        let io = |source| GgufError::Io { path: path.to_owned(), source };
        let file = File::open(path).map_err(io)?;
        // SAFETY: the file is opened read-only; a node must not change model
        // files while it serves them (their digests are checked at load).
        let map = unsafe { Mmap::map(&file) }.map_err(io)?;
        let header = Gguf::parse(&map).map_err(|e| GgufError::File { path: path.to_owned(), source: Box::new(e) })?;
        Ok(GgufFile { path: path.to_owned(), header, map })
    }

    /// The raw bytes of a tensor.
    pub fn data(&self, info: &TensorInfo) -> &[u8] {
        self.header.tensor_data(&self.map, info)
    }

    /// [`GgufFile::dequantize`] into a buffer the caller owns
    /// (`info.n_elements` long), then the tensor's pages of the file
    /// released: a model's quantized blocks need not stay resident beside
    /// the weights they became.
    pub fn dequantize_into(&self, info: &TensorInfo, out: &mut [f32]) -> Result<(), GgufError> {
        quant::dequantize_into(info.ty, self.data(info), out)?;
        let start = (self.header.data_offset + info.offset) as usize;
        // SAFETY: the mapping is private and read-only: DontNeed only drops
        // its pages, and a later read faults them back in from the file.
        // Only memory use depends on it, so a refusal is ignored.
        let _ = unsafe { self.map.unchecked_advise_range(UncheckedAdvice::DontNeed, start, info.n_bytes as usize) };
        Ok(())
    }

    /// A tensor dequantized to f32, in GGUF element order (row-major for
    /// [`TensorInfo::shape`]).
    pub fn dequantize(&self, name: &str) -> Result<Vec<f32>, GgufError> {
        let info = self.header.tensor(name).ok_or_else(|| GgufError::NoTensor(name.to_owned()))?;
        let n = usize::try_from(info.n_elements)
            .map_err(|_| GgufError::ElementCountOverflow { name: info.name.clone(), dims: info.dims.clone() })?;
        dequantize(info.ty, self.data(info), n)
    }
}
