#!/usr/bin/env python3
"""How far apart llama.cpp's own builds put Gemma 3's logits, beside ours (the spread behind the logit bar).

Not part of CI. Needs the native llama.cpp that ../shared/checks/build-llama-bench.sh builds (its library
and headers), cc, and a built `enclave`:
  python3 deploy/oracle/gemma_spread.py [--llama DIR] [--enclave .build/release/enclave]
Compiles native_logits.c against that llama.cpp, evaluates each prompt of
Tests/InferenceTests/Fixtures/gemma3_goldens.json as one batch with weight repacking on and off, and
prints, per prompt and overall, the largest difference at the last position over the goldens' top-20
ids between: the recorded goldens (llama-cpp-python's build), the native build with and without
repacking, and our engine (`enclave model logits`).
"""
import argparse
import json
import os
import struct
import subprocess
import tempfile

from native import DEFAULT_LLAMA, compile_tool, run

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODEL = os.path.join(ROOT, "models", "gemma-3-270m-q4_k_m.gguf")
GOLDENS = os.path.join(ROOT, "Tests", "InferenceTests", "Fixtures", "gemma3_goldens.json")

parser = argparse.ArgumentParser()
parser.add_argument("--llama", default=DEFAULT_LLAMA)
parser.add_argument("--enclave", default=os.path.join(ROOT, ".build", "release", "enclave"))
args = parser.parse_args()

work = tempfile.mkdtemp()
tool = compile_tool(args.llama)

goldens = json.load(open(GOLDENS))
prompts = [p["prompt"] for p in goldens["prompts"]]
native = {}
for repack in (1, 0):
    native[repack] = [dict((i, v) for i, v in json.loads(l)["last"]) for l in run(tool, MODEL, prompts, repack)]

ours = []
for p in prompts:
    ids, logits = os.path.join(work, "ids.json"), os.path.join(work, "logits.bin")
    json.dump(p, open(ids, "w"))
    subprocess.run([args.enclave, "model", "logits", MODEL, "--ids-file", ids, "--out", logits], check=True,
                   capture_output=True)
    data = open(logits, "rb").read()
    vocab = len(data) // 4 // len(p)
    last = struct.unpack_from(f"<{vocab}f", data, (len(p) - 1) * vocab * 4)
    ours.append(last)

sources = {"recorded": [dict(zip(g["last_top_ids"], g["last_top_logits"])) for g in goldens["prompts"]],
           "native repack": native[1], "native no repack": native[0]}
pairs = [("recorded", "native repack"), ("recorded", "native no repack"), ("native repack", "native no repack")]
worst = {}
for n, p in enumerate(prompts):
    row = []
    for a, b in pairs:
        ids = [i for i in sources["recorded"][n] if i in sources[a][n] and i in sources[b][n]]
        d = max(abs(sources[a][n][i] - sources[b][n][i]) for i in ids)
        worst[(a, b)] = max(worst.get((a, b), 0), d)
        row.append(f"{a} / {b} {d:.3f}")
    for a in sources:
        d = max(abs(ours[n][i] - v) for i, v in sources[a][n].items())
        worst[("ours", a)] = max(worst.get(("ours", a), 0), d)
        row.append(f"ours / {a} {d:.3f}")
    print(f"prompt {n} ({len(p)} tokens): " + ", ".join(row))
print("largest: " + ", ".join(f"{a} / {b} {d:.3f}" for (a, b), d in worst.items()))
