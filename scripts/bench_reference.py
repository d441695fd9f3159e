#!/usr/bin/env python3
"""The reference side of scripts/bench-inference: Hugging Face transformers
eager (and sentence-transformers for embedding models) on a checkpoint
directory, measured exactly as `atoma-model bench-hf` measures the engine:
prefill = median time of generating 1 token from the prompt; decode tokens/s
= (new tokens - 1) / (median time of generating them - prefill); embeddings/s
= texts / median time of encoding them in one call. f32, the given thread
count, no gradients. Prints one JSON object.
"""
import argparse
import json
import os
import resource
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dir")
    ap.add_argument("--prompt", required=True)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--texts", type=int, default=32)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    # A directory of one GGUF file and no config.json: transformers' GGUF loader
    # (it dequantizes to f32 at load, as the engine does).
    ggufs = [f for f in os.listdir(args.dir) if f.endswith(".gguf")]
    source = {"gguf_file": ggufs[0]} if len(ggufs) == 1 and "config.json" not in os.listdir(args.dir) else {}
    config = {"architectures": ["gguf"]} if source else json.load(open(os.path.join(args.dir, "config.json")))
    report = {"threads": torch.get_num_threads(), "device": args.device, "runs": args.runs}
    start = time.perf_counter()
    if config["architectures"][0] == "BertModel":
        from sentence_transformers import SentenceTransformer
        model = SentenceTransformer(args.dir, device=args.device, model_kwargs={"attn_implementation": "eager"})
        report["load_s"] = time.perf_counter() - start
        texts = [f"{args.prompt} {i}" for i in range(args.texts)]
        times = []
        with torch.no_grad():
            for i in range(args.runs + 1):
                t = time.perf_counter()
                model.encode(texts, batch_size=len(texts))
                if i > 0:
                    times.append(time.perf_counter() - t)
        report["texts"] = args.texts
        report["embeddings_per_s"] = args.texts / statistics.median(times)
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer
        tok = AutoTokenizer.from_pretrained(args.dir, **source)
        model = AutoModelForCausalLM.from_pretrained(args.dir, dtype=torch.float32, attn_implementation="eager",
                                                     **source)
        model = model.to(args.device).eval()
        report["load_s"] = time.perf_counter() - start
        ids = torch.tensor([tok(args.prompt)["input_ids"]], device=args.device)
        mask = torch.ones_like(ids)

        def gen(n):
            t = time.perf_counter()
            out = model.generate(ids, attention_mask=mask, do_sample=False, max_new_tokens=n,
                                 pad_token_id=tok.eos_token_id)
            if args.device != "cpu":
                torch.cuda.synchronize()
            return time.perf_counter() - t, out.shape[1] - ids.shape[1]

        t1, tn = [], []
        generated = 0
        with torch.no_grad():
            for i in range(args.runs + 1):
                a, _ = gen(1)
                b, generated = gen(args.new_tokens)
                if i > 0:
                    t1.append(a)
                    tn.append(b)
        prefill, total = statistics.median(t1), statistics.median(tn)
        report.update({
            "prompt_tokens": ids.shape[1], "new_tokens": generated, "prefill_s": prefill, "generate_s": total,
            "prefill_tokens_per_s": ids.shape[1] / prefill,
            "decode_tokens_per_s": max(generated - 1, 0) / (total - prefill),
        })
    report["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(report))


if __name__ == "__main__":
    main()
