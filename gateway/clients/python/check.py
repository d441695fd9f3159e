#!/usr/bin/env python3
"""atoma-gateway driven by the official `openai` Python package, as an AI
application would use it: the model list, chat completions streamed and
not, a text completion, embeddings, the `atoma` extension (verification
mode, waiting for the first output only) and the errors an OpenAI client
knows. Asserts what an application may rely on and prints one JSON object
of what it saw, for tests/tests/gateway.rs to check against the chain.

Usage: check.py --base-url URL --api-key KEY --chat-model ID --embed-model ID
                [--poor-api-key KEY]  (a key whose budget cannot pay a request)
"""
import argparse
import json
import sys

import openai
from openai import OpenAI


def receipt(obj):
    return (obj.model_extra or {}).get("atoma")


def expect_error(kind, call, code=None, param=None):
    try:
        call()
    except kind as e:
        body = e.body if isinstance(e.body, dict) else {}
        assert code is None or body.get("code") == code, (kind.__name__, body)
        assert param is None or body.get("param") == param, (kind.__name__, body)
        receipt = e.response.json().get("atoma") if e.response is not None else None
        return {"status": e.status_code, "code": body.get("code"), "param": body.get("param"),
                "message": body.get("message"), "receipt": receipt}
    raise AssertionError(f"expected {kind.__name__}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--api-key", required=True)
    ap.add_argument("--chat-model", required=True)
    ap.add_argument("--embed-model", required=True)
    ap.add_argument("--poor-api-key")
    args = ap.parse_args()
    client = OpenAI(base_url=args.base_url, api_key=args.api_key, max_retries=0, timeout=300)
    seen = {"client": f"openai-python {openai.__version__}"}

    models = client.models.list()
    ids = [m.id for m in models.data]
    assert args.chat_model in ids and args.embed_model in ids, ids
    seen["models"] = {m.id: (m.model_extra or {})["atoma"] for m in models.data}

    messages = [{"role": "user", "content": "Say hello to Sui."}]
    chat = client.chat.completions.create(model=args.chat_model, messages=messages, max_tokens=12)
    text = chat.choices[0].message.content
    assert isinstance(text, str) and chat.choices[0].finish_reason in ("stop", "length"), chat
    assert chat.usage.completion_tokens > 0 and chat.usage.prompt_tokens > 0, chat.usage
    assert receipt(chat)["status"] == "verified", receipt(chat)
    seen["chat"] = {"text": text, "finish_reason": chat.choices[0].finish_reason, "receipt": receipt(chat),
                    "usage": chat.usage.model_dump()}

    chunks = list(client.chat.completions.create(model=args.chat_model, messages=messages, max_tokens=12,
                                                 stream=True, stream_options={"include_usage": True}))
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    statuses = [receipt(c)["status"] for c in chunks if receipt(c)]
    finish = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    usage = [c.usage for c in chunks if c.usage]
    # Greedy decoding: the stream says what the whole response said.
    assert streamed == text, (streamed, text)
    # The text comes with a first_output receipt, unless finality came first.
    assert statuses in (["first_output", "verified"], ["verified"]), statuses
    # Token by token, as the node generates it: several pieces of text
    # before the first_output receipt.
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    before_receipt = next(i for i, c in enumerate(chunks) if receipt(c))
    assert len(pieces) > 2 and sum(1 for c in chunks[:before_receipt] if c.choices and c.choices[0].delta.content) > 2, pieces
    assert finish == [chat.choices[0].finish_reason] and len(usage) == 1, (finish, usage)
    assert usage[0].completion_tokens == chat.usage.completion_tokens
    seen["stream"] = {"chunks": len(chunks), "pieces": pieces, "statuses": statuses, "receipt": [receipt(c) for c in chunks if receipt(c)][-1]}

    early = client.chat.completions.create(model=args.chat_model, messages=messages, max_tokens=12,
                                           extra_body={"atoma": {"wait": "first_output"}})
    # Returned at the first output, or at finality if that came first.
    assert receipt(early)["status"] in ("first_output", "verified"), receipt(early)
    assert early.choices[0].message.content == text
    checked = client.chat.completions.create(model=args.chat_model, messages=messages, max_tokens=12,
                                             extra_body={"atoma": {"mode": "cross_validation", "p": 1.0, "n": 1}})
    assert receipt(checked)["status"] == "verified" and receipt(checked)["mode"]["mode"] == "cross-validation"
    unchecked = client.chat.completions.create(model=args.chat_model, messages=messages, max_tokens=12,
                                               extra_body={"atoma": {"mode": "cross_validation", "p": 0.0, "n": 1}})
    assert receipt(unchecked)["status"] == "unverified", receipt(unchecked)
    seen["modes"] = {"first_output": receipt(early), "checked": receipt(checked), "unchecked": receipt(unchecked)}

    completion = client.completions.create(model=args.chat_model, prompt="The quick brown fox", max_tokens=8)
    assert isinstance(completion.choices[0].text, str) and receipt(completion)["status"] == "verified"
    seen["completion"] = {"text": completion.choices[0].text, "receipt": receipt(completion)}

    # The package asks for base64 unless told otherwise, and decodes it.
    texts = ["A man is eating food.", "Sui"]
    embeddings = client.embeddings.create(model=args.embed_model, input=texts)
    floats = client.embeddings.create(model=args.embed_model, input=texts, encoding_format="float")
    assert [len(d.embedding) for d in embeddings.data] == [384, 384], embeddings
    # Deterministic nodes, and base64 carrying the same f32 values as JSON numbers.
    assert [d.embedding for d in floats.data] == [d.embedding for d in embeddings.data]
    seen["embeddings"] = {"dims": len(embeddings.data[0].embedding), "head": embeddings.data[0].embedding[:4],
                          "receipt": receipt(embeddings)}

    seen["errors"] = {
        "unknown_model": expect_error(openai.NotFoundError, lambda: client.chat.completions.create(
            model="no-such-model", messages=messages), code="model_not_found", param="model"),
        "n": expect_error(openai.BadRequestError, lambda: client.chat.completions.create(
            model=args.chat_model, messages=messages, n=2), code="unsupported_parameter", param="n"),
        "tools": expect_error(openai.BadRequestError, lambda: client.chat.completions.create(
            model=args.chat_model, messages=messages,
            tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]),
            code="unsupported_parameter", param="tools"),
        "context": expect_error(openai.BadRequestError, lambda: client.chat.completions.create(
            model=args.chat_model, messages=[{"role": "user", "content": "word " * 1400}], max_tokens=8),
            code="context_length_exceeded"),
        "too_large": expect_error(openai.BadRequestError, lambda: client.chat.completions.create(
            model=args.chat_model, messages=[{"role": "user", "content": "word " * 2000}], max_tokens=8),
            code="input_too_large", param="messages"),
        "bad_mode": expect_error(openai.BadRequestError, lambda: client.chat.completions.create(
            model=args.chat_model, messages=messages, extra_body={"atoma": {"mode": "trust-me"}}),
            param="atoma.mode"),
        "no_key": expect_error(openai.AuthenticationError, lambda: OpenAI(
            base_url=args.base_url, api_key="sk-atoma-not-a-key", max_retries=0).chat.completions.create(
            model=args.chat_model, messages=messages), code="invalid_api_key"),
    }
    if args.poor_api_key:
        poor = OpenAI(base_url=args.base_url, api_key=args.poor_api_key, max_retries=0)
        seen["errors"]["over_budget"] = expect_error(openai.RateLimitError, lambda: poor.chat.completions.create(
            model=args.chat_model, messages=messages), code="insufficient_quota")
    json.dump(seen, sys.stdout)


if __name__ == "__main__":
    main()
