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
import math
import os
import subprocess
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURES = os.path.join(ROOT, "Tests", "InferenceTests", "Fixtures")
DEFAULT_LLAMA = os.path.expanduser("~/.cache/enclave-anchor/llama_cpp_python-0.3.36/vendor/llama.cpp")

parser = argparse.ArgumentParser()
parser.add_argument("--llama", default=DEFAULT_LLAMA)
parser.add_argument("--record", nargs="*", default=[])
args = parser.parse_args()

work = tempfile.mkdtemp()
tool = os.path.join(work, "native_logits")
lib = os.path.join(args.llama, "build", "bin")
subprocess.run(["cc", "-O2", "-o", tool, os.path.join(os.path.dirname(__file__), "native_logits.c"),
                "-I" + os.path.join(args.llama, "include"), "-I" + os.path.join(args.llama, "ggml", "include"),
                "-L" + lib, "-lllama", "-lm", "-Wl,-rpath," + lib], check=True)

base = json.load(open(os.path.join(FIXTURES, "engine_goldens.json")))
ctx, tokens = base["perplexity"]["ctx"], base["perplexity"]["tokens"]
bos = tokens[0] if base["add_bos"] else None
chunks = [tokens[c * ctx:(c + 1) * ctx] for c in range(len(tokens) // ctx)]
if bos is not None:
    chunks = [[bos] + chunk[1:] for chunk in chunks]
lines = "".join(" ".join(map(str, chunk)) + "\n" for chunk in chunks)

path = os.path.join(FIXTURES, "quant_perplexity.json")
goldens = json.load(open(path))
for key, golden in goldens["types"].items():
    model = os.path.join(ROOT, "models", golden["file"])
    if not os.path.exists(model):
        print(f"{key}: {golden['file']} absent")
        continue
    out = subprocess.run([tool, model, "1", "nll"], input=lines, capture_output=True, text=True, check=True)
    sums = [line.split() for line in out.stdout.strip().split("\n")]
    nll, count = sum(float(s) for s, _ in sums), sum(int(c) for _, c in sums)
    assert count == golden["scored"], (count, golden["scored"])
    ppl = math.exp(nll / count)
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
