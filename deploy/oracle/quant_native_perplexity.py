#!/usr/bin/env python3
"""llama.cpp's perplexity on the SmolLM2 requantizations through a native build, to check the recorded goldens
(Tests/InferenceTests/Fixtures/quant_perplexity.json, taken with the Python binding) and to re-record one
whose file this machine's llama-quantize makes differently from the pin.

Not part of CI. Needs the native llama.cpp that ../shared/checks/build-llama-bench.sh builds and cc:
  python3 deploy/oracle/quant_native_perplexity.py [--llama DIR] [--record TYPE ...]
Scores the chunks of engine_goldens.json's perplexity tokens (BOS first, the second half of each chunk, as
llama-perplexity does) through native_logits.c, flash attention off and weight repacking on, as the binding
runs, for each file in models/ and prints it beside the golden. With --record, the named types' entries take
the file on disk (its SHA-256 and size) and the native figure; deploy/test-models.env's pin must follow.
"""
import argparse
import hashlib
import json
import os

from native import DEFAULT_LLAMA, compile_tool, perplexity

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "InferenceTests", "Fixtures")

parser = argparse.ArgumentParser()
parser.add_argument("--llama", default=DEFAULT_LLAMA)
parser.add_argument("--record", nargs="*", default=[])
args = parser.parse_args()

tool = compile_tool(args.llama)
base = json.load(open(os.path.join(FIXTURES, "engine_goldens.json")))
ctx, tokens = base["perplexity"]["ctx"], base["perplexity"]["tokens"]
bos = tokens[0] if base["add_bos"] else None

path = os.path.join(FIXTURES, "quant_perplexity.json")
goldens = json.load(open(path))
for key, golden in goldens["types"].items():
    model = os.path.join(ROOT, "models", golden["file"])
    if not os.path.exists(model):
        print(f"{key}: {golden['file']} absent")
        continue
    ppl, count = perplexity(tool, model, tokens, ctx, len(tokens) // ctx, bos)
    assert count == golden["scored"], (count, golden["scored"])
    digest = hashlib.sha256(open(model, "rb").read()).hexdigest()
    same = "the pinned file" if digest == golden["sha256"] else f"another file ({digest[:12]})"
    print(f"{key}: native {ppl:.4f}, golden {golden['ppl']:.4f} ({ppl / golden['ppl']:.5f}), {same}")
    if key in args.record:
        golden.update(sha256=digest, bytes=os.path.getsize(model), ppl=ppl,
                      oracle="native llama.cpp 0.3.36 (weight repacking, no flash attention), "
                             "deploy/oracle/quant_native_perplexity.py")
if args.record:
    with open(path, "w") as f:
        json.dump(goldens, f, indent=1)
        f.write("\n")
    print(f"recorded {' '.join(args.record)}: {path}")
