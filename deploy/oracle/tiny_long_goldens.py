#!/usr/bin/env python3
"""Records llama.cpp goldens for the tiny models of deploy/tiny_models.py over long prompts (12 to 400
tokens, each evaluated as one batch), in two contexts:
  - a prompt of 32 tokens or more is multiplied by llama.cpp's batch kernels (tinyBLAS), whose bits the
    engine's integer products must equal: a last-bit difference flips later roundings and moves the logits;
  - tiny-phi3-longrope.gguf has Phi 3's LongRoPE, whose frequency factors llama.cpp chooses by the context
    length (the short set up to the original 512 positions, the long set beyond) and whose attention factor
    multiplies every rotation. The other files give the same logits in both contexts.

The oracle is the native llama.cpp of ../shared/checks/build-llama-bench.sh through native_logits.c
(native.py), flash attention off, contexts of 512 and 2048 positions. Writes
Tests/InferenceTests/Fixtures/tiny_long_prompts.json: per file, its SHA-256, the prompts (token ids past
the control and byte tokens) and, per context, llama.cpp's top-20 logits at each prompt's first and last
position.

Run with the test venv (it has gguf and numpy; not part of CI):
    cache/test-venv/bin/python deploy/oracle/tiny_long_goldens.py [LLAMA_CPP_SOURCE]
"""
import hashlib
import json
import os
import random
import sys
import tempfile

from gguf import GGUFReader

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import tiny_models  # noqa: E402
import native  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
CONTEXTS = [tiny_models.LONGROPE_ORIGINAL_CONTEXT, 2048]
LENGTHS = [12, 40, 160, 400]
FIRST_ORDINARY_ID = 263  # past the SentencePiece files' controls and 256 byte tokens, and BPE's bytes


def main():
    llama = sys.argv[1] if len(sys.argv) > 1 else native.DEFAULT_LLAMA
    tool = native.compile_tool(llama)
    models = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, write in {**tiny_models.WRITERS, **tiny_models.EXTRA_WRITERS}.items():
            path = os.path.join(tmp, name)
            write(path)
            with open(path, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
            reader = GGUFReader(path)
            types = reader.fields["tokenizer.ggml.token_type"]
            # Ordinary tokens only (type 1), so no prompt holds a control or byte token.
            ordinary = [i for i in range(FIRST_ORDINARY_ID, len(types.data)) if types.parts[types.data[i]][0] == 1]
            rng = random.Random(29)
            prompts = [[rng.choice(ordinary) for _ in range(n)] for n in LENGTHS]
            runs = []
            for ctx in CONTEXTS:
                rows = [json.loads(line) for line in native.run(tool, path, prompts, ctx=ctx)]
                runs.append({"ctx": ctx, "first": [r["first"] for r in rows], "last": [r["last"] for r in rows]})
            key = name.removeprefix("tiny-").removesuffix(".gguf")
            models[key] = {"sha256": digest, "prompts": prompts, "runs": runs}
    goldens = {"generator": "deploy/tiny_models.py",
               "oracle": "native llama.cpp (llama-cpp-python 0.3.36's source), 2 threads, flash attention off",
               "models": models}
    out = os.path.join(ROOT, "Tests", "InferenceTests", "Fixtures", "tiny_long_prompts.json")
    with open(out, "w") as f:
        json.dump(goldens, f, separators=(",", ":"))
    print(f"{out}: {len(models)} models x {len(LENGTHS)} prompts x {len(CONTEXTS)} contexts")


if __name__ == "__main__":
    main()
