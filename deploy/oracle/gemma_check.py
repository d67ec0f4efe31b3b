#!/usr/bin/env python3
"""Records llama.cpp goldens for the Gemma 3 engine tests, as engine_check.py does for SmolLM2.

Run with the oracle venv (not part of CI), once models/gemma-3-270m-q4_k_m.gguf is installed
(deploy/fetch-test-models.sh):  /work/venv-oracle/bin/python deploy/oracle/gemma_check.py [--bench]
Writes Tests/InferenceTests/Fixtures/gemma3_goldens.json in engine_goldens.json's format:
  - greedy continuations (token ids) of several prompts, with llama.cpp's top-1/top-2 margin per step;
    one prompt is longer than the model's 512-position sliding window, so local layers must mask;
  - the top-20 logits at the first and last position of each prompt;
  - perplexity on gemma_perplexity.txt (public domain) in chunks of 128 and of 1024 positions (the latter slides).
Prompts are stored as llama.cpp's token ids so the engine tests do not depend on our tokenizer.
"""
import json
import os
import sys

from llama_cpp import Llama

from engine_check import ROOT, bench, perplexity, record
import engine_check

MODEL = os.path.join(ROOT, "models", "gemma-3-270m-q4_k_m.gguf")
OUT = os.path.join(ROOT, "Tests", "InferenceTests", "Fixtures", "gemma3_goldens.json")
# Public-domain prose (Austen, Lincoln, the Declaration of Independence, the US Constitution).
TEXT = os.path.join(os.path.dirname(__file__), "gemma_perplexity.txt")

PROMPTS = [
    "The capital of France is",
    "<start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n",
    "def fibonacci(n):\n    ",
    "Once upon a time, in a small village by the sea,",
    "1, 2, 3, 4, 5,",
    "<start_of_turn>user\nTranslate to French: good morning<end_of_turn>\n<start_of_turn>model\n",
    "Le chat est assis sur",
    "The patient was admitted to the hospital with",
]


def main():
    with open(TEXT, encoding="utf-8") as f:
        text = f.read()
    llm = Llama(MODEL, n_ctx=2048, n_batch=2048, n_ubatch=2048, n_threads=2, logits_all=True, verbose=False)
    add_bos = llm._model.add_bos_token()
    bos = llm.token_bos()
    # Longer than the sliding window (512): the text's first ~700 tokens, then a question.
    text_tokens = llm.tokenize(text.encode(), add_bos=add_bos, special=False)
    long_prompt = llm.detokenize(text_tokens[1:700]).decode("utf-8", errors="ignore") + "\n\nIn short,"
    prompts = []
    for prompt in PROMPTS + [long_prompt]:
        prompts.append(record(llm, llm.tokenize(prompt.encode(), add_bos=add_bos, special=True)))
    ppl = {}
    for ctx in (128, 1024):
        value, chunks, scored = perplexity(llm, text_tokens, ctx, add_bos, bos)
        ppl[ctx] = {"ctx": ctx, "tokens": text_tokens, "chunks": chunks, "scored": scored, "ppl": value}
    goldens = {"model": os.path.basename(MODEL), "oracle": "llama-cpp-python 0.3.36 (llama.cpp), 2 threads",
               "add_bos": bool(add_bos), "prompts": prompts, "perplexity": ppl[128],
               "sliding_perplexity": ppl[1024]}
    with open(OUT, "w") as f:
        json.dump(goldens, f, separators=(",", ":"))
    print(f"goldens: {OUT} ({len(prompts)} prompts; longest {max(len(p['prompt']) for p in prompts)} tokens; "
          f"text {len(text_tokens)} tokens)")
    for ctx, p in ppl.items():
        print(f"  perplexity ctx {ctx}: {p['ppl']:.4f} over {p['chunks']} chunks")
    for p in prompts:
        print(f"  min margin {min(p['margins']):.3f} greedy {p['greedy'][:8]}...")
    if "--bench" in sys.argv:
        engine_check.MODEL = MODEL
        pp, tg = bench(2)
        print(f"llama.cpp 2 threads: pp512 {pp:.1f} tok/s, tg128 {tg:.1f} tok/s")


if __name__ == "__main__":
    main()
