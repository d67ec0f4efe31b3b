#!/usr/bin/env python3
"""Gemma 3's perplexity goldens from a native llama.cpp, with and without its weight repacking.

Not part of CI. Needs the native llama.cpp that ../shared/checks/build-llama-bench.sh builds and cc:
  python3 deploy/oracle/gemma_perplexity.py [--llama DIR] [--record]
Scores the token chunks of Tests/InferenceTests/Fixtures/gemma3_goldens.json (128 and 1024 positions, BOS
first, the second half of each chunk, as llama-perplexity does) through native_logits.c, and prints the
perplexity of each build beside the recorded golden (the Python binding's). Flash attention is off, as in
the binding and our engine. With --record, each build's figure is written beside the golden as `builds`:
GemmaGoldenTests accepts a perplexity within 1% of the range llama.cpp's own builds span. llama-perplexity
(-fa off) gives the native figure at 128 positions too; it refuses 1024 on this text (it asks for two
chunks).
"""
import argparse
import json
import os

from native import DEFAULT_LLAMA, compile_tool, perplexity

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL = os.path.join(ROOT, "models", "gemma-3-270m-q4_k_m.gguf")
GOLDENS = os.path.join(ROOT, "Tests", "InferenceTests", "Fixtures", "gemma3_goldens.json")

parser = argparse.ArgumentParser()
parser.add_argument("--llama", default=DEFAULT_LLAMA)
parser.add_argument("--record", action="store_true")
args = parser.parse_args()

tool = compile_tool(args.llama)
goldens = json.load(open(GOLDENS))
bos = goldens["perplexity"]["tokens"][0] if goldens["add_bos"] else None
for key in ("perplexity", "sliding_perplexity"):
    golden = goldens[key]
    found = {}
    for repack in (1, 0):
        found[repack], count = perplexity(tool, MODEL, golden["tokens"], golden["ctx"], golden["chunks"], bos, repack)
        assert count == golden["scored"], (count, golden["scored"])
    binding = golden["ppl"]
    print(f"ctx {golden['ctx']}: native repack {found[1]:.4f}, native no repack {found[0]:.4f}, "
          f"Python binding {binding:.4f} (the golden)")
    if args.record:
        golden["builds"] = {"python binding": binding, "native repack": found[1], "native no repack": found[0]}
if args.record:
    with open(GOLDENS, "w") as f:
        json.dump(goldens, f, separators=(",", ":"))
    print(f"recorded: {GOLDENS}")
