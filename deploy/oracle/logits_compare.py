#!/usr/bin/env python3
"""Compares our engine's logits with llama.cpp's at every position of greedy continuations.

Run with the oracle venv (not part of CI), after building `enclave`:
  /work/tmp/oracle/bin/python deploy/oracle/logits_compare.py [--enclave .build/debug/enclave] [--steps 24]
For each prompt llama.cpp evaluates the prompt as one batch, then its own greedy tokens one at a time;
our engine (`enclave model logits`) is fed the same ids the same way. Prints, per prompt, the largest
logit difference per position, llama.cpp's top-1/top-2 margin, and every step where the argmaxes differ.
"""
import argparse
import json
import os
import subprocess
import tempfile

import numpy as np
from llama_cpp import Llama

from engine_check import MODEL, PROMPTS

parser = argparse.ArgumentParser()
parser.add_argument("--enclave", default=os.path.join(os.path.dirname(MODEL), "..", ".build", "debug", "enclave"))
parser.add_argument("--steps", type=int, default=24)
parser.add_argument("--verbose", action="store_true")
args = parser.parse_args()

llm = Llama(MODEL, n_ctx=512, n_batch=512, n_threads=2, logits_all=True, verbose=False)
worst = 0.0
for n, text in enumerate(PROMPTS):
    prompt = llm.tokenize(text.encode(), add_bos=False, special=True)
    llm.reset()
    llm.eval(prompt)
    ids = list(prompt)
    for _ in range(args.steps):
        ids.append(int(np.argmax(llm.scores[llm.n_tokens - 1])))
        llm.eval([ids[-1]])
    theirs = np.array(llm.scores[:len(ids)], dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        with open(os.path.join(tmp, "ids.json"), "w") as f:
            json.dump(ids, f)
        subprocess.run([args.enclave, "model", "logits", MODEL, "--ids-file", os.path.join(tmp, "ids.json"),
                        "--batch", str(len(prompt)), "--out", os.path.join(tmp, "out.bin")], check=True)
        ours = np.fromfile(os.path.join(tmp, "out.bin"), dtype=np.float32).reshape(len(ids), -1)
    diff = np.abs(ours - theirs).max(axis=1)
    top2 = np.sort(theirs, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    flips = [i for i in range(len(prompt) - 1, len(ids)) if ours[i].argmax() != theirs[i].argmax()]
    worst = max(worst, diff.max())
    print(f"prompt {n}: {len(prompt)} tokens, max |Δlogit| first {diff[0]:.3f} prompt-last "
          f"{diff[len(prompt) - 1]:.3f} overall {diff.max():.3f} (mean {diff.mean():.3f})")
    if args.verbose:
        print("  per position:", " ".join(f"{d:.2f}" for d in diff))
    for i in flips:
        step = i - (len(prompt) - 1)
        print(f"  argmax differs at step {step}: llama.cpp margin {margin[i]:.3f}, "
              f"ours {ours[i][theirs[i].argmax()] - ours[i].max():.3f} below our top")
print(f"worst |Δlogit| {worst:.3f}")
