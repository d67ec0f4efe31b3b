#!/usr/bin/env bash
# Makes the low-bit test models: the pinned SmolLM2 file requantized by llama.cpp's llama-quantize into
# each type whose kernels the engine has beside the default model's (deploy/test-models.env lists them and
# pins each result's SHA-256, which deploy/oracle/quant_perplexity.py recorded llama.cpp's perplexity on).
# `--pure` puts every tensor whose rows allow it in the type (SmolLM2's 576-wide rows fall back to Q4_0 or
# IQ4_NL, as llama.cpp decides); `--allow-requantize` because the source is already Q4_1.
# llama-quantize is $LLAMA_QUANTIZE, else one on PATH, else deploy/oracle/requantize.c, which makes the same
# call of llama.cpp's C API, against libllama built once (about 2 minutes on 2 cores, needs cmake, g++ and
# cc) from the llama.cpp sources vendored in the PyPI sdist of llama-cpp-python, the project's oracle, into
# $ENCLAVE_CACHE_DIR (default cache/). Four files then take about 1.5 minutes.
# Idempotent: when every file is present and matches its pin, it does nothing and uses no network.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=test-models.env
. deploy/test-models.env
# shellcheck source=default-model.env
. deploy/default-model.env

sha_of() { sha256sum "$1" | cut -d' ' -f1; }
pin_of() { local name="QUANT_SHA256_$1"; echo "${!name}"; }
target_of() { echo "models/${MODEL_FILE%.Q4_1.gguf}.$1.gguf"; }

todo=()
for type in $QUANT_TYPES; do
    target=$(target_of "$type")
    if [ -f "$target" ] && [ "$(sha_of "$target")" = "$(pin_of "$type")" ]; then continue; fi
    todo+=("$type")
done
if [ ${#todo[@]} -eq 0 ]; then
    echo "quant models: all present, SHA-256 matches the pins ($QUANT_TYPES)"
    exit 0
fi
[ -f "models/$MODEL_FILE" ] || { echo "quant models: models/$MODEL_FILE is missing: run deploy/fetch-model.sh" >&2; exit 1; }

# The quantizer: $LLAMA_QUANTIZE or llama-quantize on PATH, called as llama-quantize is; else
# deploy/oracle/requantize.c (the same call of llama.cpp's C API, the same bytes) against libllama built once.
quantizer=${LLAMA_QUANTIZE:-$(command -v llama-quantize || true)}
quantize() {  # quantize TYPE INPUT OUTPUT
    if [ -n "$quantizer" ]; then
        "$quantizer" --allow-requantize --pure "$2" "$3" "$1" 2
    else
        "$requantize" "$2" "$3" "$1"
    fi
}
if [ -z "$quantizer" ]; then
    cache="$(realpath -m "${ENCLAVE_CACHE_DIR:-cache}")/llama.cpp"
    src="$cache/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION/vendor/llama.cpp"
    requantize="$cache/requantize-$LLAMA_CPP_PYTHON_VERSION"
    if [ ! -x "$requantize" ]; then
        for tool in cmake g++ cc; do
            command -v "$tool" >/dev/null || { echo "quant models: $tool is missing: run deploy/install-deps.sh with ENCLAVE_TEST_DEPS=1" >&2; exit 1; }
        done
        mkdir -p "$cache"
        sdist="$cache/llama_cpp_python-$LLAMA_CPP_PYTHON_VERSION.tar.gz"
        if [ ! -f "$sdist" ]; then
            echo "quant models: downloading the llama-cpp-python $LLAMA_CPP_PYTHON_VERSION sdist from PyPI"
            python3 -m pip download --quiet --no-deps --no-binary llama-cpp-python \
                "llama-cpp-python==$LLAMA_CPP_PYTHON_VERSION" --dest "$cache"
        fi
        [ -d "$src" ] || tar xzf "$sdist" -C "$cache"
        echo "quant models: building libllama (once; about 2 minutes on 2 cores)"
        cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF -DLLAMA_CURL=OFF \
            -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF >/dev/null
        cmake --build "$src/build" -j"$(nproc)" --target llama >/dev/null
        lib="$src/build/bin"
        cc -O2 -o "$requantize.partial.$$" deploy/oracle/requantize.c -I"$src/include" -I"$src/ggml/include" \
            -L"$lib" -lllama -Wl,-rpath,"$lib"
        mv "$requantize.partial.$$" "$requantize"
    fi
fi

for type in "${todo[@]}"; do
    target=$(target_of "$type")
    partial="$target.partial.$$"
    trap 'rm -f "$partial"' EXIT
    echo "quant models: $target"
    quantize "$type" "models/$MODEL_FILE" "$partial" >/dev/null 2>&1 || {
        echo "quant models: quantizing to $type failed" >&2; exit 1; }
    actual=$(sha_of "$partial")
    if [ "$actual" != "$(pin_of "$type")" ]; then
        echo "quant models: $type: SHA-256 $actual, pinned $(pin_of "$type"): this llama.cpp quantizes" >&2
        echo "quant models: differently; re-record the goldens (deploy/oracle/quant_perplexity.py) and the pin." >&2
        exit 1
    fi
    chmod 0644 "$partial"
    mv "$partial" "$target"
done
echo "quant models: made ${todo[*]}, SHA-256 verified"
