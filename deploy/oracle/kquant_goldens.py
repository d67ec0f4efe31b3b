#!/usr/bin/env python3
"""Records dequantization goldens for the K-quant and IQ4 block types from the `gguf` package's reference
dequantizer (gguf.quants.dequantize), independent of our C kernels.

Run once with a Python that has `gguf` (pip install gguf==0.19.0):
    python3 deploy/oracle/kquant_goldens.py
Writes Tests/InferenceTests/Fixtures/kquant_goldens.json: for each type, a few seeded random blocks (raw
bytes, hex) and the float32 values gguf decodes them to (the bit patterns, hex, little-endian).
Any byte pattern is a valid block except a non-finite half scale, so the half-float fields get
finite values over several magnitudes and both signs; every other byte is uniform.
"""
import json
import os

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import quants

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "InferenceTests", "Fixtures", "kquant_goldens.json")
BLOCKS = 4

# Byte offsets of each type's half-float fields inside its block (ggml-common.h). New types go at the end:
# the generator is seeded once, so earlier types keep their recorded blocks.
HALF_FIELDS = {
    T.Q4_K: (0, 2), T.Q5_K: (0, 2), T.Q6_K: (208,),
    T.Q2_K: (80, 82), T.Q3_K: (108,), T.IQ4_NL: (0,), T.IQ4_XS: (0,),
}


def blocks(qtype, rng):
    size = quants.GGML_QUANT_SIZES[qtype][1]
    raw = rng.integers(0, 256, size=(BLOCKS, size), dtype=np.uint8)
    for offset in HALF_FIELDS[qtype]:
        halves = (rng.uniform(-1, 1, BLOCKS) * 10.0 ** rng.integers(-4, 1, BLOCKS)).astype(np.float16)
        raw[:, offset:offset + 2] = halves.view(np.uint8).reshape(BLOCKS, 2)
    return raw


def main():
    rng = np.random.default_rng(20261202)
    out = {}
    for qtype in HALF_FIELDS:
        raw = blocks(qtype, rng)
        values = quants.dequantize(raw.reshape(-1), qtype).astype(np.float32).reshape(-1)
        out[qtype.name.lower().replace("_k", "_K")] = {
            "count": int(values.size),
            "blocks": raw.tobytes().hex(),
            "values": values.astype("<f4").tobytes().hex(),
        }
    with open(OUT, "w") as f:
        json.dump({"source": "gguf.quants.dequantize (gguf 0.19.0)", "types": out}, f, indent=1)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
