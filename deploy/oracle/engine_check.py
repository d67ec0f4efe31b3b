#!/usr/bin/env python3
"""Records llama.cpp goldens for the engine tests and measures llama.cpp's speed on this machine.

Run with the oracle venv (not part of CI):  /work/tmp/oracle/bin/python deploy/oracle/engine_check.py
Writes Tests/InferenceTests/Fixtures/engine_goldens.json:
  - greedy continuations (token ids) of several prompts, with llama.cpp's top-1/top-2 logit margin per step;
  - the top-20 logits (ids, values) at the first and last position of each prompt;
  - perplexity on a text, computed from llama.cpp's logits exactly as llama-perplexity does it.
Prints llama.cpp's pp512 / tg128 tokens/s with 2 threads (llama-bench's definitions) for comparison.
Prompts are stored as llama.cpp's token ids so the engine tests do not depend on our tokenizer.
"""
import json
import math
import os
import sys
import time

import numpy as np
from llama_cpp import Llama

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
OUT = os.path.join(ROOT, "Tests", "InferenceTests", "Fixtures", "engine_goldens.json")
TEXT = os.path.join(os.path.dirname(__file__), "engine_perplexity.txt")
STEPS = 24
PPL_CTX = 128

PROMPTS = [
    "The capital of France is",
    "def fibonacci(n):\n    ",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "Once upon a time, in a small village by the sea,",
    "List three colours:\n1.",
    "The patient was admitted to the hospital with",
    "<|im_start|>user\nTranslate to French: good morning<|im_end|>\n<|im_start|>assistant\n",
    "import numpy as np\n\ndef softmax(x):\n",
    "Water boils at",
    "In 1969, the first",
]


def top(values, k):
    order = np.argsort(-values, kind="stable")[:k]
    return [int(i) for i in order], [float(values[i]) for i in order]


def greedy(llm, tokens):
    llm.reset()
    llm.eval(tokens)
    first = np.array(llm.scores[0], dtype=np.float32)
    last = np.array(llm.scores[len(tokens) - 1], dtype=np.float32)
    ids, margins = [], []
    logits = last
    for _ in range(STEPS):
        (a, b), (va, vb) = top(logits, 2)
        ids.append(a)
        margins.append(va - vb)
        llm.eval([a])
        logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
    return first, last, ids, margins


def record(llm, tokens):
    """One prompt's golden entry: its greedy continuation with margins and its top-20 first/last logits."""
    first, last, ids, margins = greedy(llm, tokens)
    fi, fv = top(first, 20)
    li, lv = top(last, 20)
    return {"prompt": tokens, "greedy": ids, "margins": [round(m, 4) for m in margins],
            "first_top_ids": fi, "first_top_logits": fv, "last_top_ids": li, "last_top_logits": lv}


def perplexity(llm, tokens, n_ctx, add_bos, bos):
    """llama-perplexity: chunks of n_ctx tokens, first token := BOS when the model adds one, score the
    second half of each chunk (positions n_ctx/2 .. n_ctx-2 predicting the next token)."""
    n_chunks = len(tokens) // n_ctx
    first = n_ctx // 2
    nll, count = 0.0, 0
    for c in range(n_chunks):
        chunk = list(tokens[c * n_ctx:(c + 1) * n_ctx])
        if add_bos:
            chunk[0] = bos
        llm.reset()
        llm.eval(chunk)
        for j in range(first, n_ctx - 1):
            logits = np.array(llm.scores[j], dtype=np.float64)
            m = logits.max()
            logsum = m + math.log(np.exp(logits - m).sum())
            nll += logsum - logits[tokens[c * n_ctx + j + 1]]
            count += 1
    return math.exp(nll / count), n_chunks, count


def bench(threads):
    llm = Llama(MODEL, n_ctx=1024, n_batch=512, n_ubatch=512, n_threads=threads, n_threads_batch=threads,
                logits_all=False, verbose=False)
    rng = np.random.default_rng(0)
    prompt = [int(t) for t in rng.integers(100, 40000, 512)]
    pp, tg = [], []
    for _ in range(3):
        llm.reset()
        llm._ctx.kv_cache_clear()
        t = time.perf_counter()
        llm.eval(prompt)
        pp.append(512 / (time.perf_counter() - t))
        llm.reset()
        llm._ctx.kv_cache_clear()
        t = time.perf_counter()
        for i in range(128):
            llm.eval([prompt[i]])
        tg.append(128 / (time.perf_counter() - t))
    return float(np.mean(pp)), float(np.mean(tg))


def main():
    llm = Llama(MODEL, n_ctx=512, n_batch=512, n_threads=2, logits_all=True, verbose=False)
    add_bos = llm._model.add_bos_token() if hasattr(llm._model, "add_bos_token") else False
    bos = llm.token_bos()
    prompts = []
    for text in PROMPTS:
        prompts.append(record(llm, llm.tokenize(text.encode(), add_bos=add_bos, special=True)))
    with open(TEXT, encoding="utf-8") as f:
        text = f.read()
    text_tokens = llm.tokenize(text.encode(), add_bos=add_bos, special=False)
    ppl, chunks, scored = perplexity(llm, text_tokens, PPL_CTX, add_bos, bos)
    goldens = {"model": os.path.basename(MODEL), "oracle": "llama-cpp-python 0.3.36 (llama.cpp), 2 threads",
               "add_bos": bool(add_bos), "prompts": prompts,
               "perplexity": {"ctx": PPL_CTX, "tokens": text_tokens, "chunks": chunks, "scored": scored,
                              "ppl": ppl}}
    with open(OUT, "w") as f:
        json.dump(goldens, f, separators=(",", ":"))
    print(f"goldens: {OUT} ({len(prompts)} prompts, ppl {ppl:.4f} over {chunks} chunks of {PPL_CTX})")
    for p in prompts:
        print(f"  min margin {min(p['margins']):.3f} greedy {p['greedy'][:8]}...")
    if "--no-bench" not in sys.argv:
        pp, tg = bench(2)
        print(f"llama.cpp 2 threads: pp512 {pp:.1f} tok/s, tg128 {tg:.1f} tok/s")


if __name__ == "__main__":
    main()
