//! Unit tests of `reader.rs`.

use super::*;

/// A GGUF file built by hand, field by field.
#[derive(Default)]
struct Builder {
    version: Option<u32>,
    kvs: Vec<u8>,
    kv_count: u64,
    infos: Vec<u8>,
    tensor_count: u64,
    data: Vec<u8>,
    alignment: u64,
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

impl Builder {
    fn new() -> Self {
        Builder { alignment: 32, ..Default::default() }
    }

    /// A key with a raw value (its type code and bytes).
    fn kv(mut self, key: &str, ty: u32, value: &[u8]) -> Self {
        string(&mut self.kvs, key);
        self.kvs.extend(ty.to_le_bytes());
        self.kvs.extend(value);
        self.kv_count += 1;
        self
    }

    fn tensor(mut self, name: &str, dims: &[u64], ty: u32, offset: u64) -> Self {
        string(&mut self.infos, name);
        self.infos.extend((dims.len() as u32).to_le_bytes());
        for d in dims {
            self.infos.extend(d.to_le_bytes());
        }
        self.infos.extend(ty.to_le_bytes());
        self.infos.extend(offset.to_le_bytes());
        self.tensor_count += 1;
        self
    }

    fn data(mut self, bytes: &[u8]) -> Self {
        self.data.extend(bytes);
        self
    }

    fn build(&self) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend(self.version.unwrap_or(3).to_le_bytes());
        out.extend(self.tensor_count.to_le_bytes());
        out.extend(self.kv_count.to_le_bytes());
        out.extend(&self.kvs);
        out.extend(&self.infos);
        while !(out.len() as u64).is_multiple_of(self.alignment) {
            out.push(0);
        }
        out.extend(&self.data);
        out
    }
}

fn str_value(s: &str) -> Vec<u8> {
    let mut v = Vec::new();
    string(&mut v, s);
    v
}

fn err(bytes: &[u8]) -> GgufError {
    parse(bytes).expect_err("the file must be refused")
}

#[test]
fn every_value_type_and_tensor_infos_are_read() {
    let mut strings = 8u32.to_le_bytes().to_vec();
    strings.extend(2u64.to_le_bytes());
    strings.extend(str_value("<s>"));
    strings.extend(str_value("é🙂"));
    let mut nested = 9u32.to_le_bytes().to_vec();
    nested.extend(1u64.to_le_bytes());
    nested.extend(4u32.to_le_bytes());
    nested.extend(2u64.to_le_bytes());
    nested.extend(7u32.to_le_bytes());
    nested.extend(8u32.to_le_bytes());
    let file = Builder::new()
        .kv("u8", 0, &[200])
        .kv("i8", 1, &[0xff])
        .kv("u16", 2, &60000u16.to_le_bytes())
        .kv("i16", 3, &(-3i16).to_le_bytes())
        .kv("u32", 4, &7u32.to_le_bytes())
        .kv("i32", 5, &(-7i32).to_le_bytes())
        .kv("f32", 6, &1.5f32.to_le_bytes())
        .kv("bool", 7, &[1])
        .kv("string", 8, &str_value("llama"))
        .kv("strings", 9, &strings)
        .kv("nested", 9, &nested)
        .kv("u64", 10, &u64::MAX.to_le_bytes())
        .kv("i64", 11, &i64::MIN.to_le_bytes())
        .kv("f64", 12, &0.1f64.to_le_bytes())
        .tensor("a", &[64, 2], 2, 0) // Q4_0: 2 rows of 2 blocks of 18 bytes
        .tensor("b", &[3], 0, 96)
        .data(&[0; 96 + 12])
        .build();
    let g = parse(&file).unwrap();
    assert_eq!(g.version, 3);
    let m = &g.metadata;
    assert_eq!(m["u8"], Value::U8(200));
    assert_eq!(m["i8"], Value::I8(-1));
    assert_eq!(m["u16"], Value::U16(60000));
    assert_eq!(m["i16"], Value::I16(-3));
    assert_eq!(m["u32"], Value::U32(7));
    assert_eq!(m["i32"], Value::I32(-7));
    assert_eq!(m["f32"], Value::F32(1.5));
    assert_eq!(m["bool"], Value::Bool(true));
    assert_eq!(m["string"].as_str(), Some("llama"));
    assert_eq!(m["strings"], Value::Array(vec![Value::String("<s>".into()), Value::String("é🙂".into())]));
    assert_eq!(m["nested"], Value::Array(vec![Value::Array(vec![Value::U32(7), Value::U32(8)])]));
    assert_eq!(m["u64"], Value::U64(u64::MAX));
    assert_eq!(m["i64"], Value::I64(i64::MIN));
    assert_eq!(m["f64"], Value::F64(0.1));
    assert_eq!(g.alignment, 32);
    assert_eq!(g.data_offset % 32, 0);
    let a = &g.tensors[0];
    assert_eq!((a.ty, a.n_elements, a.n_bytes, a.shape()), (GgmlType::Q4_0, 128, 72, vec![2, 64]));
    let b = g.tensor("b").unwrap();
    assert_eq!((b.ty, b.offset, b.n_bytes), (GgmlType::F32, 96, 12));
}

#[test]
fn version_2_is_read() {
    let file = Builder { version: Some(2), ..Builder::new() }.build();
    assert_eq!(parse(&file).unwrap().version, 2);
}

#[test]
fn bad_magic_is_refused() {
    let mut file = Builder::new().build();
    file[..4].copy_from_slice(b"GGML");
    assert!(matches!(err(&file), GgufError::BadMagic(m) if &m == b"GGML"));
}

#[test]
fn unsupported_versions_are_refused() {
    for v in [0, 1, 4, 0xffff] {
        let file = Builder { version: Some(v), ..Builder::new() }.build();
        assert!(matches!(err(&file), GgufError::UnsupportedVersion(x) if x == v), "version {v}");
    }
    let file = Builder { version: Some(3u32.swap_bytes()), ..Builder::new() }.build();
    assert!(matches!(err(&file), GgufError::BigEndian));
}

#[test]
fn alignment_that_is_not_a_power_of_two_is_refused() {
    for a in [0u32, 3, 48] {
        let file = Builder::new().kv("general.alignment", 4, &a.to_le_bytes()).build();
        assert!(matches!(err(&file), GgufError::BadAlignment(x) if x == u64::from(a)), "alignment {a}");
    }
    let file = Builder::new().kv("general.alignment", 10, &64u64.to_le_bytes()).build();
    assert!(err(&file).to_string().contains("must be a u32"));
}

#[test]
fn custom_alignment_sets_the_data_offset() {
    let file = Builder { alignment: 64, ..Builder::new() }
        .kv("general.alignment", 4, &64u32.to_le_bytes())
        .tensor("t", &[4], 0, 0)
        .data(&[0; 16])
        .build();
    let g = parse(&file).unwrap();
    assert_eq!((g.alignment, g.data_offset % 64), (64, 0));
    let file = Builder { alignment: 64, ..Builder::new() }
        .kv("general.alignment", 4, &64u32.to_le_bytes())
        .tensor("t", &[4], 0, 32)
        .data(&[0; 64])
        .build();
    assert!(matches!(err(&file), GgufError::MisalignedOffset { offset: 32, alignment: 64, .. }));
}

#[test]
fn tensor_past_the_end_of_the_file_is_refused() {
    let file = Builder::new().tensor("w", &[8], 0, 0).data(&[0; 31]).build();
    let e = err(&file);
    assert!(matches!(&e, GgufError::TensorPastEnd { name, .. } if name == "w"), "{e}");
    let file = Builder::new().tensor("w", &[8], 0, u64::MAX - 31).data(&[0; 32]).build();
    assert!(matches!(err(&file), GgufError::TensorPastEnd { .. }));
}

#[test]
fn unknown_tensor_type_is_refused() {
    for code in [4, 31, 36, 42, u32::MAX] {
        let file = Builder::new().tensor("w", &[32], code, 0).data(&[0; 64]).build();
        assert!(matches!(err(&file), GgufError::UnknownType { ty, .. } if ty == code), "type {code}");
    }
}

#[test]
fn element_count_overflow_is_refused() {
    let file = Builder::new().tensor("w", &[1 << 32, 1 << 32], 0, 0).build();
    assert!(matches!(err(&file), GgufError::ElementCountOverflow { .. }));
    let file = Builder::new().tensor("w", &[1 << 63], 0, 0).build();
    assert!(matches!(err(&file), GgufError::ElementCountOverflow { .. }));
    // Fits in an i64, but its byte size (x4) overflows a u64.
    let file = Builder::new().tensor("w", &[1 << 62], 0, 0).build();
    assert!(matches!(err(&file), GgufError::ElementCountOverflow { .. }));
}

#[test]
fn rows_that_do_not_divide_into_blocks_are_refused() {
    let file = Builder::new().tensor("w", &[33, 2], 8, 0).data(&[0; 256]).build();
    let e = err(&file);
    assert!(matches!(e, GgufError::BlockMisaligned { dim0: 33, block: 32, ty: "Q8_0", .. }), "{e}");
    let file = Builder::new().tensor("w", &[128], 14, 0).data(&[0; 256]).build();
    assert!(matches!(err(&file), GgufError::BlockMisaligned { block: 256, ty: "Q6_K", .. }));
}

#[test]
fn too_many_dims_are_refused() {
    let file = Builder::new().tensor("w", &[1, 1, 1, 1, 1], 0, 0).data(&[0; 4]).build();
    assert!(matches!(err(&file), GgufError::TooManyDims { n_dims: 5, .. }));
}

#[test]
fn truncated_metadata_is_refused_at_every_length() {
    let file = Builder::new()
        .kv("general.architecture", 8, &str_value("llama"))
        .kv("n", 4, &7u32.to_le_bytes())
        .tensor("w", &[4], 0, 0)
        .build();
    // Every prefix that cuts the header (magic to the last tensor info) is refused.
    let header_end = file.len() - (file.len() % 32);
    for cut in 0..header_end.min(file.len()) {
        let cut_file = &file[..cut];
        if let Ok(g) = parse(cut_file) {
            panic!("a file cut at {cut} bytes was read: {g:?}");
        }
    }
}

#[test]
fn huge_counts_and_lengths_fail_without_allocating() {
    let mut file = Builder::new().build();
    file[16..24].copy_from_slice(&u64::MAX.to_le_bytes()); // kv_count
    assert!(matches!(err(&file), GgufError::Truncated { .. }));
    let mut array = 8u32.to_le_bytes().to_vec();
    array.extend(u64::MAX.to_le_bytes());
    let file = Builder::new().kv("tokens", 9, &array).build();
    assert!(matches!(err(&file), GgufError::Truncated { .. }));
    let mut s = u64::MAX.to_le_bytes().to_vec();
    s.extend(b"abc");
    let file = Builder::new().kv("name", 8, &s).build();
    assert!(matches!(err(&file), GgufError::Truncated { .. }));
    let mut file = Builder::new().tensor("w", &[4], 0, 0).data(&[0; 16]).build();
    file[8..16].copy_from_slice(&u64::MAX.to_le_bytes()); // tensor_count
    assert!(matches!(err(&file), GgufError::Truncated { .. }));
}

#[test]
fn malformed_values_are_refused() {
    let e = err(&Builder::new().kv("b", 7, &[2]).build());
    assert!(e.to_string().contains("bool byte 2"), "{e}");
    let e = err(&Builder::new().kv("x", 13, &[0; 8]).build());
    assert!(e.to_string().contains("unknown value type 13"), "{e}");
    let e = err(&Builder::new().kv("s", 8, &[2, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xfe]).build());
    assert!(e.to_string().contains("not UTF-8"), "{e}");
    // MAX_DEPTH + 1 arrays, each holding the next; the innermost holds one u8.
    let mut deep = Vec::new();
    for item in [9u32; MAX_DEPTH].into_iter().chain([0]) {
        deep.extend(item.to_le_bytes());
        deep.extend(1u64.to_le_bytes());
    }
    deep.push(0);
    let e = err(&Builder::new().kv("deep", 9, &deep).build());
    assert!(e.to_string().contains("nested"), "{e}");
}

#[test]
fn duplicate_keys_and_tensors_are_refused() {
    let file = Builder::new().kv("k", 0, &[1]).kv("k", 0, &[2]).build();
    assert!(matches!(err(&file), GgufError::DuplicateKey(k) if k == "k"));
    let file = Builder::new().tensor("w", &[8], 0, 0).tensor("w", &[8], 0, 32).data(&[0; 64]).build();
    assert!(matches!(err(&file), GgufError::DuplicateTensor(n) if n == "w"));
}

#[test]
fn random_bytes_never_panic() {
    // A fixed xorshift stream: bytes in, an error (or a header) out.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let good = Builder::new()
        .kv("s", 8, &str_value("abc"))
        .kv("a", 9, &[4, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0])
        .tensor("w", &[32], 8, 0)
        .data(&[0; 34])
        .build();
    for _ in 0..20_000 {
        let mut file = good.clone();
        for _ in 0..3 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x % file.len() as u64) as usize;
            file[i] = (x >> 32) as u8;
        }
        let _ = parse(&file);
        let _ = parse(&file[..(x >> 40) as usize % file.len()]);
    }
}
