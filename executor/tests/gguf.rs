//! GGUF against its reference, the PyPI `gguf` package: the engine's
//! dequantization of every supported type equals `gguf.quants.dequantize`
//! bit for bit, and metadata of every value type reads as the package wrote it.
//!
//! The vectors are scripts/gguf-vectors.py's output: by default the committed
//! ones (executor/tests/fixtures/gguf/, seed 0); `ATOMA_GGUF_VECTORS=DIR`
//! names another set (scripts/parity generates a fresh seed each run, and
//! checks that the committed set still equals the package's output).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use atoma_executor::engine::gguf::{GgmlType, GgufFile, Value, quant};

fn vectors() -> PathBuf {
    match std::env::var_os("ATOMA_GGUF_VECTORS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gguf"),
    }
}

const SUPPORTED: [GgmlType; 13] = [
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::Bf16,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q2K,
    GgmlType::Q3K,
    GgmlType::Q4K,
    GgmlType::Q5K,
    GgmlType::Q6K,
];

#[test]
fn dequantization_equals_the_gguf_package_bit_for_bit() {
    let dir = vectors();
    let input = GgufFile::open(&dir.join("input.gguf")).unwrap();
    let expected = GgufFile::open(&dir.join("expected.gguf")).unwrap();
    assert_eq!(input.header.tensors.len(), expected.header.tensors.len());
    // Elements compared per type: every supported type must be covered.
    let mut compared: BTreeMap<&str, usize> = BTreeMap::new();
    for info in &input.header.tensors {
        let want = expected.header.tensor(&info.name).unwrap_or_else(|| panic!("{} has no reference", info.name));
        assert_eq!((want.ty, &want.dims), (GgmlType::F32, &info.dims), "{}", info.name);
        let got = input.dequantize(&info.name).unwrap();
        let want = expected.dequantize(&info.name).unwrap();
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!(
                g.to_bits() == w.to_bits(),
                "{} ({}): element {i} is {g:e} ({:#010x}), the gguf package gives {w:e} ({:#010x})",
                info.name,
                info.ty.name(),
                g.to_bits(),
                w.to_bits()
            );
        }
        *compared.entry(info.ty.name()).or_default() += got.len();
    }
    for ty in SUPPORTED {
        assert!(quant::is_supported(ty));
        assert!(compared.get(ty.name()).is_some_and(|&n| n >= 1024), "{} is not covered: {compared:?}", ty.name());
    }
    eprintln!("{}: elements equal bit for bit per type: {compared:?}", dir.display());
}

#[test]
fn metadata_of_every_type_reads_as_the_package_wrote_it() {
    let input = GgufFile::open(&vectors().join("input.gguf")).unwrap();
    let g = &input.header;
    assert_eq!((g.version, g.alignment, g.data_offset % 64), (3, 64, 0));
    let get = |k: &str| g.get(k).unwrap_or_else(|| panic!("no key {k}")).clone();
    assert_eq!(get("general.architecture"), Value::String("test".into()));
    assert_eq!(get("general.alignment"), Value::U32(64));
    assert_eq!(get("test.u8"), Value::U8(200));
    assert_eq!(get("test.i8"), Value::I8(-100));
    assert_eq!(get("test.u16"), Value::U16(60000));
    assert_eq!(get("test.i16"), Value::I16(-30000));
    assert_eq!(get("test.u32"), Value::U32(4_000_000_000));
    assert_eq!(get("test.i32"), Value::I32(-2_000_000_000));
    assert_eq!(get("test.f32"), Value::F32(0.1));
    assert_eq!(get("test.bool"), Value::Bool(true));
    assert_eq!(get("test.string"), Value::String("Unicode: café 東京 🙂".into()));
    assert_eq!(get("test.u64"), Value::U64(u64::MAX));
    assert_eq!(get("test.i64"), Value::I64(i64::MIN));
    assert_eq!(get("test.f64"), Value::F64(0.1));
    let strings = ["<s>", "</s>", "Ġthe", "\n", "🙂"].map(|s| Value::String(s.into()));
    assert_eq!(get("test.strings"), Value::Array(strings.to_vec()));
    assert_eq!(get("test.i32s"), Value::Array(vec![Value::I32(1), Value::I32(-2), Value::I32(3)]));
    assert_eq!(get("test.f32s"), Value::Array(vec![Value::F32(0.5), Value::F32(-1.25)]));
    let nested = [vec![Value::I32(1), Value::I32(2)], vec![Value::I32(3)]].map(Value::Array);
    assert_eq!(get("test.nested"), Value::Array(nested.to_vec()));
    assert_eq!(g.metadata.len(), 18);
}
