#!/usr/bin/env bash
# Builds and runs Enclave's libFuzzer targets (with AddressSanitizer) over our parsers of untrusted
# input. Not part of `make test`: fuzzing is open-ended. Usage:
#   deploy/fuzz.sh TARGET [libFuzzer flags...]      e.g. deploy/fuzz.sh gguf -runs=1000000
# Targets compile the named Sources/ directories together with one entry file from Tests/Fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${1:?usage: deploy/fuzz.sh gguf [libFuzzer flags]}"
shift
case "$target" in
    gguf) sources=(Sources/GGUF/*.swift); entry=Tests/Fuzz/GGUFFuzz.swift ;;
    *) echo "unknown fuzz target: $target" >&2; exit 2 ;;
esac

out=".build/fuzz/$target"
mkdir -p "$out/corpus"
swiftc -O -parse-as-library -sanitize=fuzzer,address -module-name "Fuzz_$target" \
    -enable-upcoming-feature ExistentialAny -enable-upcoming-feature MemberImportVisibility \
    "${sources[@]}" "$entry" -o "$out/fuzz"
# Seed the GGUF corpus with the head of any installed model, so mutations start from a real header.
if [ "$target" = gguf ]; then
    for model in models/*.gguf; do
        [ -f "$model" ] && head -c 65536 "$model" > "$out/corpus/seed-$(basename "$model").head"
    done
fi
exec "$out/fuzz" "$out/corpus" "$@"
