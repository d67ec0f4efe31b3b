#!/usr/bin/env python3
"""Records llama.cpp's perplexity on each SmolLM2 requantization that deploy/make-quant-models.sh makes
(Q2_K, Q3_K, IQ4_NL, IQ4_XS), for the engine's low-bit kernels to be held against the same files.

Run with the oracle venv (not part of CI), after deploy/make-quant-models.sh:
    /work/venv-oracle/bin/python deploy/oracle/quant_perplexity.py
Writes Tests/InferenceTests/Fixtures/quant_perplexity.json: per type the file name, its SHA-256 and size
(deploy/make-quant-models.sh pins the former, the test checks the latter) and the perplexity, computed from llama.cpp's logits exactly as
llama-perplexity does it (engine_check.perplexity) over the token ids engine_goldens.json already holds
(the requantized files keep SmolLM2's vocabulary), with the same context.
"""
import hashlib
import json
import os

from llama_cpp import Llama

from engine_check import perplexity

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "InferenceTests", "Fixtures")
TYPES = ("Q2_K", "Q3_K", "IQ4_NL", "IQ4_XS")


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    with open(os.path.join(FIXTURES, "engine_goldens.json")) as f:
        base = json.load(f)
    ctx, tokens = base["perplexity"]["ctx"], base["perplexity"]["tokens"]
    out = {}
    for name in TYPES:
        path = os.path.join(ROOT, "models", f"SmolLM2-135M-Instruct.{name}.gguf")
        llm = Llama(path, n_ctx=512, n_batch=512, n_threads=2, logits_all=True, verbose=False)
        ppl, chunks, scored = perplexity(llm, tokens, ctx, base["add_bos"], llm.token_bos())
        out[name.lower().replace("_k", "_K")] = {"file": os.path.basename(path), "sha256": sha256(path),
                                                 "bytes": os.path.getsize(path),
                                                 "ctx": ctx, "chunks": chunks, "scored": scored, "ppl": ppl}
        print(f"{name}: ppl {ppl:.4f} over {chunks} chunks of {ctx}")
        del llm
    with open(os.path.join(FIXTURES, "quant_perplexity.json"), "w") as f:
        json.dump({"oracle": "llama-cpp-python 0.3.36 (llama.cpp), 2 threads",
                   "tokens": "engine_goldens.json perplexity.tokens", "types": out}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
