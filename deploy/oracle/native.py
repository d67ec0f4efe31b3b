"""The native llama.cpp oracle shared by gemma_spread.py, gemma_perplexity.py and quant_native_perplexity.py:
native_logits.c compiled against the llama.cpp that ../shared/checks/build-llama-bench.sh builds, and
perplexity scored through it as llama-perplexity scores its chunks."""
import math
import os
import subprocess
import tempfile

DEFAULT_LLAMA = os.path.expanduser("~/.cache/enclave-anchor/llama_cpp_python-0.3.36/vendor/llama.cpp")


def compile_tool(llama):
    """Builds native_logits.c against the llama.cpp source tree `llama` (its build/bin libraries)."""
    tool = os.path.join(tempfile.mkdtemp(), "native_logits")
    lib = os.path.join(llama, "build", "bin")
    subprocess.run(["cc", "-O2", "-o", tool, os.path.join(os.path.dirname(__file__), "native_logits.c"),
                    "-I" + os.path.join(llama, "include"), "-I" + os.path.join(llama, "ggml", "include"),
                    "-L" + lib, "-lllama", "-lm", "-Wl,-rpath," + lib], check=True)
    return tool


def run(tool, model, prompts, repack=1, nll=False, ctx=2048):
    """One output line per prompt (a list of token ids), evaluated as one batch each in a context of `ctx`."""
    lines = "".join(" ".join(map(str, p)) + "\n" for p in prompts)
    command = [tool, model, str(repack), "nll" if nll else "logits", str(ctx)]
    out = subprocess.run(command, input=lines, capture_output=True, text=True, check=True)
    return out.stdout.strip().split("\n")


def perplexity(tool, model, tokens, ctx, chunks, bos, repack=1):
    """Perplexity over `chunks` chunks of `ctx` tokens, BOS first when `bos` is set, each scored on its
    second half; returns it and the number of tokens scored."""
    pieces = [tokens[c * ctx:(c + 1) * ctx] for c in range(chunks)]
    if bos is not None:
        pieces = [[bos] + piece[1:] for piece in pieces]
    sums = [line.split() for line in run(tool, model, pieces, repack, nll=True)]
    nll, count = sum(float(s) for s, _ in sums), sum(int(c) for _, c in sums)
    return math.exp(nll / count), count
