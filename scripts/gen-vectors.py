#!/usr/bin/env python3
"""Writes the shared test vectors of the sampler and the commitment scheme.

An independent implementation of DESIGN.md section 5 (Python's hashlib, not
the Rust crate), so that the Rust tests (protocol/tests/vectors.rs) and the
Move tests (move/tests/vectors_tests.move, generated from these files by
scripts/gen-move-vectors.py) check two implementations against a third.

Usage: scripts/gen-vectors.py [--check]   (--check: fail if the files differ)
"""
import hashlib
import json
import pathlib
import struct
import sys

OUT = pathlib.Path(__file__).resolve().parent.parent / "protocol" / "tests" / "vectors"


def blake2b256(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=32).digest()


def draw(seed: bytes, counter: int) -> int:
    return struct.unpack("<Q", blake2b256(seed + struct.pack("<Q", counter))[:8])[0]


def sample(seed: bytes, k: int, length: int, excluded: list[int]) -> list[int]:
    excl = {i for i in excluded if i < length}
    assert k <= length - len(excl)
    bound = length * ((1 << 64) // length)
    drawn: list[int] = []
    counter = 0
    while len(drawn) < k:
        x = draw(seed, counter)
        counter += 1
        if x >= bound:
            continue
        i = x % length
        if i in drawn or i in excl:
            continue
        drawn.append(i)
    return drawn


def derive(seed: bytes, tag: int) -> bytes:
    return blake2b256(seed + bytes([tag]))


def flip(seed: bytes, p_bps: int) -> bool:
    return sample(derive(seed, 0), 1, 10_000, [])[0] < p_bps


def sealed_draw(request_seed: bytes, secret: bytes, p_bps: int, n: int, pool: int):
    h = blake2b256(request_seed + secret)
    if not flip(h, p_bps):
        return False, []
    return True, sample(derive(h, 1), min(n, pool), pool, [])


def uleb(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def commitment_preimage(request_id: bytes, node_id: bytes, digest: bytes, salt: bytes) -> bytes:
    # bcs((ID, ID, vector<u8>, vector<u8>))
    return request_id + node_id + uleb(len(digest)) + digest + uleb(len(salt)) + salt


def h(tag: str) -> bytes:
    return blake2b256(tag.encode())


def hexs(b: bytes) -> str:
    return b.hex()


def sampler_vectors():
    cases = [
        ("one of one", h("s1"), 1, 1, []),
        ("all of ten", h("s2"), 10, 10, []),
        ("three of a thousand", h("s3"), 3, 1000, []),
        ("five of seven", h("s4"), 5, 7, []),
        ("with exclusions", h("s5"), 4, 12, [0, 3, 5, 11]),
        ("exclusions out of range are ignored", h("s6"), 2, 4, [1, 9, 1]),
        ("all but the excluded", h("s7"), 6, 8, [2, 6]),
        ("power of two length", h("s8"), 4, 1024, []),
        ("half the draws rejected", h("s9"), 3, (1 << 63) + 1, []),
        ("large population", h("s10"), 16, 100_000, [7, 99_999]),
        ("zero draws", h("s11"), 0, 5, []),
    ]
    return [
        {"name": name, "seed": hexs(seed), "k": k, "len": length, "excluded": excl,
         "indices": sample(seed, k, length, excl)}
        for name, seed, k, length, excl in cases
    ]


def draw_vectors():
    return [{"seed": hexs(h("d")), "counter": c, "value": draw(h("d"), c)} for c in (0, 1, 2, 255, 2**40)]


def commitment_vectors():
    out = []
    for i in range(4):
        rid, nid, dig, salt = h(f"r{i}"), h(f"n{i}"), h(f"o{i}"), h(f"salt{i}")
        pre = commitment_preimage(rid, nid, dig, salt)
        out.append({"request_id": hexs(rid), "node_id": hexs(nid), "output_digest": hexs(dig),
                    "salt": hexs(salt), "preimage": hexs(pre), "commitment": hexs(blake2b256(pre))})
    return out


def draw_rule_vectors():
    flips = [{"seed": hexs(h(f"f{i}")), "p_bps": p, "checked": flip(h(f"f{i}"), p)}
             for i, p in enumerate([0, 1, 2_500, 5_000, 5_000, 5_000, 9_999, 10_000])]
    derives = [{"seed": hexs(h("x")), "tag": t, "derived": hexs(derive(h("x"), t))} for t in (0, 1, 2, 255)]
    sealed = []
    for i, (p, n, pool) in enumerate([(5_000, 2, 6), (5_000, 2, 6), (10_000, 3, 9), (10_000, 1, 1), (0, 1, 3), (7_500, 4, 5)]):
        checked, chosen = sealed_draw(h(f"rs{i}"), h(f"secret{i}"), p, n, pool)
        sealed.append({"request_seed": hexs(h(f"rs{i}")), "secret": hexs(h(f"secret{i}")),
                       "secret_hash": hexs(blake2b256(h(f"secret{i}"))), "p_bps": p, "n": n, "pool": pool,
                       "checked": checked, "chosen": chosen})
    return {"flips": flips, "derives": derives, "sealed": sealed}


FILES = {
    "sampler.json": lambda: {
        "origin": "scripts/gen-vectors.py (Python hashlib.blake2b, digest_size=32)",
        "rule": "DESIGN.md section 5: x = u64_le(blake2b256(seed || u64_le(counter))[0..8]); "
                "reject x >= len * floor(2^64 / len); i = x mod len; skip repeats and excluded",
        "draws": draw_vectors(),
        "samples": sampler_vectors(),
    },
    "commitments.json": lambda: {
        "origin": "scripts/gen-vectors.py (Python hashlib.blake2b, digest_size=32)",
        "rule": "commitment = blake2b256(bcs((request_id: ID, node_id: ID, output_digest: vector<u8>, salt: vector<u8>)))",
        "commitments": commitment_vectors(),
    },
    "draws.json": lambda: {
        "origin": "scripts/gen-vectors.py (Python hashlib.blake2b, digest_size=32)",
        "rule": "derive(seed, tag) = blake2b256(seed || tag); flip(seed, p) = sample(derive(seed, 0), 1, 10000)[0] < p; "
                "sealed: h = blake2b256(seed || secret); checked = flip(h, p); chosen = sample(derive(h, 1), n, pool)",
        **draw_rule_vectors(),
    },
}


def main() -> int:
    check = "--check" in sys.argv[1:]
    OUT.mkdir(parents=True, exist_ok=True)
    stale = []
    for name, make in FILES.items():
        text = json.dumps(make(), indent=2) + "\n"
        path = OUT / name
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            path.write_text(text)
    if stale:
        print(f"stale vectors: {', '.join(stale)}; run scripts/gen-vectors.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
