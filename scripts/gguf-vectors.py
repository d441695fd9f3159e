#!/usr/bin/env python3
"""GGUF test vectors from the reference: the PyPI `gguf` package (llama.cpp's
own Python reader and writer; version pinned in scripts/parity).

Writes two files into DIR:

- input.gguf: metadata of every value type (the keys `test.*`, checked by
  executor/tests/gguf.rs) and, for each type the engine dequantizes (F32,
  F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K),
  the tensor `<TYPE>.raw` (random bytes of 4 rows of 256 elements, 16 for
  the k-quants, every f16 scale random but finite;
  the F16 and BF16 ones every bit pattern, NaNs and infinities included) and,
  where `gguf.quants.quantize` supports the type, `<TYPE>.quantized` (random
  normal values quantized by the package). Alignment 64, not the default.
- expected.gguf: for each tensor of input.gguf, an F32 tensor of the same
  name and shape holding `gguf.quants.dequantize` of the bytes that
  `gguf.GGUFReader` reads back from input.gguf.

executor/tests/gguf.rs compares its own dequantization with expected.gguf
bit for bit. The committed vectors (executor/tests/fixtures/gguf/) are this
script's output for seed 0; `--check DIR` regenerates them and fails if a
byte differs.

Usage: gguf-vectors.py --out DIR [--seed N] | --check DIR
"""
import argparse
import filecmp
import importlib.metadata
import sys
import tempfile
from pathlib import Path

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

SUPPORTED = [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K, T.Q6_K]
# Byte offsets of the f16 fields (scales and mins) inside one block.
F16_FIELDS = {
    T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2], T.Q8_0: [0],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
# f16 bit patterns at the edges: zeros, subnormals, the largest, infinities, NaNs.
F16_EDGES = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x3C00, 0x7BFF, 0xFBFF,
             0x7C00, 0xFC00, 0x7C01, 0x7D00, 0x7E00, 0xFE00, 0xFFFF]
ROW = 256   # elements per row: one k-quant super-block, eight 32-blocks


def finite_f16_bits(rng, n):
    h = rng.integers(0, 1 << 16, size=n, dtype=np.uint32).astype(np.uint16)
    # An all-ones exponent (inf, NaN) loses its top exponent bit: finite.
    return np.where((h & 0x7C00) == 0x7C00, h & ~np.uint16(0x4000), h).astype(np.uint16)


def raw_tensor(rng, qtype, shape):
    """Random bytes of `shape` (row-major elements) in `qtype`, scales finite."""
    n = int(np.prod(shape))
    if qtype == T.F32:
        return rng.integers(0, 1 << 32, size=n, dtype=np.uint64).astype(np.uint32).view(np.float32).reshape(shape)
    if qtype in (T.F16, T.BF16):
        bits = rng.integers(0, 1 << 16, size=n, dtype=np.uint32).astype(np.uint16)
        bits[: len(F16_EDGES)] = F16_EDGES
        if qtype == T.F16:
            return bits.view(np.float16).reshape(shape)
        return bits.view(np.uint8).reshape((*shape[:-1], shape[-1] * 2))
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    blocks = rng.integers(0, 256, size=(n // block, size), dtype=np.uint16).astype(np.uint8)
    for off in F16_FIELDS[qtype]:
        blocks[:, off:off + 2] = finite_f16_bits(rng, n // block).view(np.uint8).reshape(-1, 2)
    return blocks.reshape((*shape[:-1], shape[-1] // block * size))


def write(out: Path, seed: int):
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    w = gguf.GGUFWriter(out / "input.gguf", "test")
    w.add_custom_alignment(64)
    w.add_uint8("test.u8", 200)
    w.add_int8("test.i8", -100)
    w.add_uint16("test.u16", 60000)
    w.add_int16("test.i16", -30000)
    w.add_uint32("test.u32", 4000000000)
    w.add_int32("test.i32", -2000000000)
    w.add_float32("test.f32", 0.1)
    w.add_bool("test.bool", True)
    w.add_string("test.string", "Unicode: café 東京 🙂")
    w.add_uint64("test.u64", 2**64 - 1)
    w.add_int64("test.i64", -(2**63))
    w.add_float64("test.f64", 0.1)
    w.add_array("test.strings", ["<s>", "</s>", "Ġthe", "\n", "🙂"])
    w.add_array("test.i32s", [1, -2, 3])
    w.add_array("test.f32s", [0.5, -1.25])
    w.add_array("test.nested", [[1, 2], [3]])
    for qtype in SUPPORTED:
        name = qtype.name
        # Four rows of blocks; sixteen for the k-quants (one block per row).
        data = raw_tensor(rng, qtype, (8 if gguf.GGML_QUANT_SIZES[qtype][0] == ROW else 2, 2, ROW))
        if data.dtype == np.uint8:
            w.add_tensor(f"{name}.raw", data, raw_dtype=qtype)
        else:
            w.add_tensor(f"{name}.raw", data)
        try:
            q = gguf.quants.quantize(rng.standard_normal((4, ROW), dtype=np.float32), qtype)
        except NotImplementedError:
            continue
        w.add_tensor(f"{name}.quantized", q, raw_dtype=None if q.dtype != np.uint8 else qtype)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    reader = gguf.GGUFReader(out / "input.gguf")
    e = gguf.GGUFWriter(out / "expected.gguf", "test")
    for t in reader.tensors:
        values = gguf.quants.dequantize(t.data, t.tensor_type)
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))
        assert values.dtype == np.float32 and values.shape == shape, (t.name, values.dtype, values.shape, shape)
        e.add_tensor(t.name, np.ascontiguousarray(values))
    e.write_header_to_file()
    e.write_kv_data_to_file()
    e.write_tensors_to_file()
    e.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--out", type=Path, help="directory to write input.gguf and expected.gguf into")
    group.add_argument("--check", type=Path, help="directory whose files must equal a regeneration with seed 0")
    ap.add_argument("--seed", type=int, default=0, help="random seed (default 0, the committed vectors')")
    args = ap.parse_args()
    if args.out:
        write(args.out, args.seed)
        return
    with tempfile.TemporaryDirectory() as tmp:
        write(Path(tmp), 0)
        stale = [f for f in ("input.gguf", "expected.gguf")
                 if not filecmp.cmp(Path(tmp) / f, args.check / f, shallow=False)]
    if stale:
        sys.exit(f"gguf-vectors: {', '.join(stale)} in {args.check} differ from the gguf package's output "
                 f"(gguf {importlib.metadata.version('gguf')}); "
                 f"regenerate with scripts/gguf-vectors.py --out {args.check}")
    print(f"gguf-vectors: {args.check} equals the gguf package's output")


if __name__ == "__main__":
    main()
