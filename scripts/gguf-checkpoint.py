#!/usr/bin/env python3
"""Writes a Hugging Face checkpoint (one `atoma-model generate-checkpoint`
writes) as a GGUF file, the way llama.cpp's converter does, with the PyPI
`gguf` package's own writer: llama.cpp's tensor names, the Q/K row
permutation of the `llama` architecture, the model's hyperparameters, the
BPE tokenizer (tokens, token types, merges, BOS/EOS ids, add-BOS flag), and
the chat template.

Every weight matrix is stored in TYPE where its rows are whole blocks of
TYPE (norms, biases and other vectors stay F32, as llama.cpp keeps them).
Where the package can quantize TYPE (F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1,
Q8_0) the checkpoint's weights are quantized; the package cannot quantize
the k-quants (Q2_K to Q6_K), so their blocks are random bytes whose f16
scales are set so that each matrix keeps the checkpoint's standard
deviation: a model of the same shape whose weights are exactly what the
blocks say, which is all a parity check needs.

Used by scripts/parity (the reference venv has `gguf`) to check the engine's
GGUF path against transformers' GGUF loader for every architecture and type.

Usage: gguf-checkpoint.py HF_DIR OUT_DIR --arch {llama,qwen2} --type TYPE...
(writes OUT_DIR/ARCH-TYPE/model.gguf for each TYPE).
"""
import argparse
import json
from pathlib import Path

import gguf
import numpy as np
from gguf import GGMLQuantizationType as T
from safetensors.numpy import load_file

TYPES = ["F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]
# Byte offsets of the f16 scales (and mins) inside one k-quant block.
K_SCALES = {T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208]}
LAYER = {
    "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k", "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output", "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down", "input_layernorm": "attn_norm", "post_attention_layernorm": "ffn_norm",
}
TOP = {"model.embed_tokens": "token_embd", "model.norm": "output_norm", "lm_head": "output"}


def cpp_name(name):
    stem, suffix = name.rsplit(".", 1)
    if stem in TOP:
        return f"{TOP[stem]}.{suffix}"
    parts = stem.split(".")
    assert parts[:2] == ["model", "layers"], name
    return f"blk.{parts[2]}.{LAYER['.'.join(parts[3:])]}.{suffix}"


def permute(w, heads):
    """llama.cpp's reordering of Q/K rows for its RoPE kernel (convert_hf_to_gguf.py)."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def random_blocks(rng, qtype, w):
    """Blocks of `qtype` for a matrix of w's shape, scaled to w's standard deviation."""
    block, size = gguf.GGML_QUANT_SIZES[qtype]
    n = w.size // block
    blocks = rng.integers(0, 256, size=(n, size), dtype=np.uint16).astype(np.uint8)
    u = rng.uniform(0.5, 1.5, size=(n, 1)).astype(np.float32)

    def set_scales(values):
        for off in K_SCALES[qtype]:
            blocks[:, off:off + 2] = values.astype(np.float16).view(np.uint8).reshape(-1, 2)

    set_scales(u)
    # Dequantized values are linear in the scales: one measurement sets the size.
    spread = float(gguf.quants.dequantize(blocks, qtype).std())
    set_scales(u * (float(w.std()) / spread))
    return blocks.reshape(*w.shape[:-1], w.shape[-1] // block * size)


def tensor(rng, qtype, w):
    """(data, raw_dtype) to write for weight w in qtype, or F32 where qtype does not fit it."""
    block = gguf.GGML_QUANT_SIZES[qtype][0]
    if w.ndim < 2 or qtype == T.F32 or w.shape[-1] % block != 0:
        return w.astype(np.float32), None
    if qtype == T.F16:
        return w.astype(np.float16), None
    if qtype in K_SCALES:
        return random_blocks(rng, qtype, w), qtype
    return gguf.quants.quantize(w.astype(np.float32), qtype), qtype


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("hf_dir", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--arch", required=True, choices=["llama", "qwen2"])
    ap.add_argument("--type", required=True, choices=TYPES, nargs="+")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    config = json.loads((args.hf_dir / "config.json").read_text())
    tok = json.loads((args.hf_dir / "tokenizer.json").read_text())
    tok_config = json.loads((args.hf_dir / "tokenizer_config.json").read_text())
    if config.get("rope_scaling") or config.get("rope_parameters", {}).get("rope_type", "default") != "default":
        raise SystemExit("gguf-checkpoint: rope scaling is not converted (transformers' GGUF loader drops it)")

    tokens = {}
    for t, i in tok["model"]["vocab"].items():
        tokens[i] = t
    types = {}
    for a in tok["added_tokens"]:
        tokens[a["id"]] = a["content"]
        types[a["id"]] = gguf.TokenType.CONTROL if a["special"] else gguf.TokenType.NORMAL
    assert sorted(tokens) == list(range(len(tokens))), "token ids are not contiguous"
    token_list = [tokens[i] for i in range(len(tokens))]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok["model"]["merges"]]

    weights = {}
    for f in sorted(args.hf_dir.glob("*.safetensors")):
        weights.update(load_file(f))
    for name in args.type:
        out = args.out_dir / f"{args.arch}-{name}"
        out.mkdir(parents=True, exist_ok=True)
        write(out / "model.gguf", args.arch, name, np.random.default_rng(args.seed), config, tok_config,
              token_list, types, merges, weights)


def write(path, arch, type_name, rng, config, tok_config, token_list, types, merges, weights):
    qtype = T[type_name]
    heads, kv_heads = config["num_attention_heads"], config["num_key_value_heads"]
    head_dim = config.get("head_dim") or config["hidden_size"] // heads
    w = gguf.GGUFWriter(path, arch)
    w.add_name(f"generated {arch} {type_name}")
    w.add_context_length(config["max_position_embeddings"])
    w.add_embedding_length(config["hidden_size"])
    w.add_block_count(config["num_hidden_layers"])
    w.add_feed_forward_length(config["intermediate_size"])
    w.add_head_count(heads)
    w.add_head_count_kv(kv_heads)
    w.add_layer_norm_rms_eps(config["rms_norm_eps"])
    w.add_rope_freq_base(config.get("rope_theta") or config["rope_parameters"]["rope_theta"])
    if arch == "llama":
        w.add_rope_dimension_count(head_dim)
    w.add_vocab_size(len(token_list))
    w.add_file_type(next(f for f in gguf.LlamaFileType if f.name in (f"MOSTLY_{type_name}", f"MOSTLY_{type_name}_M"))
                    if qtype != T.F32 else gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("qwen2" if arch == "qwen2" else "default")
    w.add_token_list(token_list)
    w.add_token_types([types.get(i, gguf.TokenType.NORMAL) for i in range(len(token_list))])
    w.add_token_merges(merges)
    ids = {t: i for i, t in enumerate(token_list)}
    if tok_config.get("bos_token") in ids:
        w.add_bos_token_id(ids[tok_config["bos_token"]])
    w.add_add_bos_token(tok_config.get("bos_token") is not None)
    if tok_config.get("eos_token") in ids:
        w.add_eos_token_id(ids[tok_config["eos_token"]])
    if tok_config.get("chat_template"):
        w.add_chat_template(tok_config["chat_template"])

    for name in sorted(weights):
        value = weights[name]
        if arch == "llama" and name.endswith(("q_proj.weight", "k_proj.weight")):
            value = permute(value, heads if "q_proj" in name else kv_heads)
        data, raw = tensor(rng, qtype, value)
        w.add_tensor(cpp_name(name), np.ascontiguousarray(data), raw_dtype=raw)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
