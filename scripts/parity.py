#!/usr/bin/env python3
"""Parity with the reference implementation: runs Hugging Face transformers
(and sentence-transformers' pooling) on the same checkpoints and inputs as
`atoma-model parity-dump`, and compares:

- token ids from tokenization: equal (Unicode, whitespace runs, special tokens);
- chat templates: the rendered prompt and its ids equal `apply_chat_template`'s;
- logits of one forward pass: max absolute difference at most 1e-4, or
  4e-6 of the largest |logit| where logits are larger than 25 (f32 rounding
  grows with the values: a generated Qwen2 with tied embeddings of width 256
  reaches |logit| 200);
- 64 greedy tokens: equal (`generate(do_sample=False)`);
- a GGUF checkpoint (a directory holding one .gguf file) through
  transformers' own GGUF loader (`from_pretrained(dir, gguf_file=…)`, which
  dequantizes with the `gguf` package): the same checks;
- embeddings: cosine at least 0.9999 against sentence-transformers' own
  `SentenceTransformer(dir).encode` (its modules: pooling, normalisation).

Usage: parity.py --atoma-model BIN MANIFEST... (run with the reference venv's
Python, which scripts/setup-reference installs). Exits non-zero on any
difference; never skips a checkpoint it was given.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import tomllib

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

TOKENIZE = [
    "Hello, world!",
    "  leading spaces and   runs   of\twhitespace\n\nnew lines  ",
    "Unicode: café naïve Zürich 東京 日本語 Ελληνικά русский 🙂🚀 \u00a0nbsp",
    "numbers 3.14159 1e-4 2024 and code: def f(x):\n    return x * 2",
    "Spaces before punctuation , and contractions : do n't , I 'm , it 's . Really ?",
    "",
]
PROMPTS = [
    "The quick brown fox",
    "Tell me a story about a robot who learns to paint.",
    "Unicode: café 東京 🙂",
]
CHAT = ["What is the capital of France?", "  Say hello   in three languages.  "]
EMBED = [
    "A man is eating food.",
    "A man is riding a white horse on an enclosed ground.",
    "Unicode: café 東京 🙂 and   whitespace\truns",
    "",
]
LOGITS_TOL = 1e-4
LOGITS_REL = 4e-6
COSINE_MIN = 0.9999


def special_tokens(tok):
    return [t for t in tok.all_special_tokens if t]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--atoma-model", required=True, help="path of the atoma-model binary")
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("manifests", nargs="+")
    args = ap.parse_args()
    torch.set_num_threads(1)
    failures = []
    for manifest in args.manifests:
        with open(manifest, "rb") as f:
            m = tomllib.load(f)
        directory = os.path.join(os.path.dirname(os.path.abspath(manifest)), m["hf"]["dir"])
        # A directory of one GGUF file and no config.json is read by transformers' GGUF loader.
        ggufs = [f for f in os.listdir(directory) if f.endswith(".gguf")]
        source = {"gguf_file": ggufs[0]} if len(ggufs) == 1 and "config.json" not in os.listdir(directory) else {}
        tok = AutoTokenizer.from_pretrained(directory, **source)
        specials = special_tokens(tok)
        tokenize = TOKENIZE + [f"{s} inside {s}text" for s in specials[:3]]
        cases = {"tokenize": tokenize, "logits": PROMPTS, "greedy": PROMPTS, "chat": CHAT,
                 "embed": EMBED, "max_tokens": args.max_tokens}
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(cases, f)
        out = subprocess.run([args.atoma_model, "parity-dump", manifest, f.name], capture_output=True, text=True)
        os.unlink(f.name)
        if out.returncode != 0:
            failures.append(f"{m['id']}: atoma-model parity-dump failed: {out.stderr.strip()}")
            continue
        ours = json.loads(out.stdout)
        fail = lambda what: failures.append(f"{m['id']}: {what}")  # noqa: E731
        checked = []

        for case in ours["tokenize"]:
            ref = tok(case["text"])["input_ids"]
            ref_plain = tok(case["text"], add_special_tokens=False)["input_ids"]
            if case["ids"] != ref or case["ids_no_special"] != ref_plain:
                fail(f"tokenize {case['text']!r}: ours {case['ids']} / {case['ids_no_special']}, "
                     f"transformers {ref} / {ref_plain}")
            ref_text = tok.decode(ref_plain, skip_special_tokens=True)
            if case["decoded"] != ref_text:
                fail(f"decode {case['text']!r}: ours {case['decoded']!r}, transformers {ref_text!r}")
        checked.append(f"{len(ours['tokenize'])} tokenizations")

        if "logits" in ours:
            model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32, **source).eval()
            worst = 0.0
            for case in ours["logits"]:
                ids = torch.tensor([case["ids"]])
                with torch.no_grad():
                    ref = model(ids).logits[0].float()
                mine = torch.tensor(case["values"]).view(case["shape"])
                if list(ref.shape) != list(mine.shape):
                    fail(f"logits {case['prompt']!r}: shape {list(mine.shape)} vs {list(ref.shape)}")
                    continue
                diff = (ref - mine).abs().max().item()
                worst = max(worst, diff)
                tol = max(LOGITS_TOL, LOGITS_REL * ref.abs().max().item())
                if diff > tol:
                    fail(f"logits {case['prompt']!r}: max |diff| {diff:.3g} > {tol:.3g}")
            checked.append(f"logits of {len(ours['logits'])} prompts (max |diff| {worst:.2g})")
            compared = 0
            for case in ours["greedy"]:
                ids = torch.tensor([tok(case["prompt"])["input_ids"]])
                with torch.no_grad():
                    gen = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                         max_new_tokens=args.max_tokens, pad_token_id=tok.eos_token_id)
                ref = gen[0, ids.shape[1]:].tolist()
                compared += len(ref)
                if case["tokens"] != ref:
                    fail(f"greedy {case['prompt']!r}: ours {case['tokens']}, transformers {ref}")
            checked.append(f"{len(ours['greedy'])} greedy generations ({compared} tokens)")
            if tok.chat_template:
                for case in ours["chat"]:
                    rendered = tok.apply_chat_template(case["messages"], add_generation_prompt=True, tokenize=False)
                    ids = tok(rendered, add_special_tokens=False)["input_ids"]
                    if case["rendered"] != rendered or case["ids"] != ids:
                        fail(f"chat template: ours {case['rendered']!r}, transformers {rendered!r}")
                checked.append(f"{len(ours['chat'])} chat templates")
            elif ours["chat"]:
                fail("rendered a chat template the checkpoint does not have")
        else:
            from sentence_transformers import SentenceTransformer
            model = SentenceTransformer(directory, device="cpu")
            ref = model.encode(EMBED, convert_to_tensor=True).float()
            mine = torch.tensor(ours["embed"])
            cos = torch.nn.functional.cosine_similarity(mine, ref, dim=1)
            worst = cos.min().item()
            if worst < COSINE_MIN:
                fail(f"embeddings: cosine {cos.tolist()} (at least {COSINE_MIN})")
            checked.append(f"{len(EMBED)} embeddings (min cosine {worst:.7f})")
        print(f"parity {m['id']}: " + ", ".join(checked))
    for f in failures:
        print(f"PARITY FAILURE {f}", file=sys.stderr)
    if failures:
        sys.exit(1)
    print(f"parity: {len(args.manifests)} checkpoint(s) match transformers")


if __name__ == "__main__":
    main()
