#!/usr/bin/env python3
"""Records llama.cpp goldens for the tiny random-weight models of deploy/tiny_models.py (qwen3, phi3, and
llama with a SentencePiece vocabulary), one fixture per model in engine_goldens.json's format plus:
  - the file's SHA-256 (the tests regenerate the file and check it is the one these goldens describe);
  - llama.cpp's logits at every position of each prompt evaluated as one batch (top 10 each);
  - the tokenizer goldens (tokenizer_goldens.py's string set, four flag combinations each);
  - for a file with a chat template, llama.cpp's rendering of the conversations through that template
    (llama_chat_apply_template given the template text: llama.cpp's own detection), tokenized.

Run with the oracle venv (it has gguf, numpy and llama-cpp-python; not part of CI):
    /work/venv-oracle/bin/python deploy/oracle/tiny_goldens.py
Writes Tests/InferenceTests/Fixtures/tiny_<name>.json.
"""
import hashlib
import json
import os
import sys
import tempfile

import numpy as np
from llama_cpp import Llama

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import tiny_models  # noqa: E402
from engine_check import ROOT, record, top  # noqa: E402
from tokenizer_goldens import CONVERSATIONS, builtin_template, tokenization_cases, tokenize  # noqa: E402

FIXTURES = os.path.join(ROOT, "Tests", "InferenceTests", "Fixtures")
PROMPTS = [
    "The patient was admitted to the hospital with a fever",
    "def fibonacci(n): return n if n < 2 else",
    "Once upon a time, in a small village by the sea, there lived",
    "In 2024, 10000 people paid $1,234.56 for",
    "Hello world! What is the capital of France?",
]


def every_position(llm, tokens):
    llm.reset()
    llm.eval(tokens)
    rows = []
    for i in range(len(tokens)):
        ids, values = top(np.array(llm.scores[i], dtype=np.float32), 10)
        rows.append({"ids": ids, "logits": [round(v, 5) for v in values]})
    return rows


def main():
    with tempfile.TemporaryDirectory() as tmp:
        for name, write in tiny_models.WRITERS.items():
            path = os.path.join(tmp, name)
            write(path)
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            llm = Llama(path, n_ctx=512, n_batch=512, n_threads=2, logits_all=True, verbose=False)
            add_bos = llm._model.add_bos_token()
            sentencepiece = llm.metadata.get("tokenizer.ggml.model") == "llama"
            prompts, positions = [], []
            for text in PROMPTS:
                tokens = llm.tokenize(text.encode(), add_bos=add_bos, special=True)
                prompts.append(record(llm, tokens))
                positions.append(every_position(llm, tokens))
            template = llm.metadata.get("tokenizer.chat_template")
            renderings = []
            if template:
                for conversation in CONVERSATIONS:
                    rendered = builtin_template(template, conversation, True)
                    renderings.append({"turns": [{"role": r, "content": c} for r, c in conversation],
                                       "prompt": rendered, "ids": tokenize(llm, rendered, False, True)})
            goldens = {"model": name, "sha256": digest, "generator": "deploy/tiny_models.py",
                       "oracle": "llama-cpp-python 0.3.36 (llama.cpp), 2 threads", "add_bos": bool(add_bos),
                       "prompts": prompts, "positions": positions,
                       "perplexity": {"ctx": 0, "tokens": [], "ppl": 0, "chunks": 0},
                       "cases": tokenization_cases(llm, sentencepiece), "renderings": renderings}
            out = os.path.join(FIXTURES, "tiny_" + name.removeprefix("tiny-").removesuffix(".gguf") + ".json")
            with open(out, "w") as f:
                json.dump(goldens, f, ensure_ascii=False, separators=(",", ":"))
            margins = [m for p in prompts for m in p["margins"]]
            print(f"{out}: {len(prompts)} prompts, {len(goldens['cases'])} strings, {len(renderings)} renderings, "
                  f"{sum(m >= 0.1 for m in margins)}/{len(margins)} greedy steps with margin >= 0.1")
            del llm


if __name__ == "__main__":
    main()
