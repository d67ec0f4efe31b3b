#!/usr/bin/env bash
# Builds and runs Enclave's libFuzzer targets (with AddressSanitizer) over our parsers of untrusted
# input. Not part of `make test`: fuzzing is open-ended. Usage:
#   deploy/fuzz.sh TARGET [libFuzzer flags...]      e.g. deploy/fuzz.sh gguf -runs=1000000
#   targets: gguf (the GGUF reader), lines (telnet commands, line framing, command parser, /paste of the chat protocol)
# Targets compile the named Sources/ directories together with one entry file from Tests/Fuzz/.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${1:?usage: deploy/fuzz.sh gguf|lines [libFuzzer flags]}"
shift
module="Fuzz_$target"
case "$target" in
    gguf) sources=(Sources/GGUF/*.swift); entry=Tests/Fuzz/GGUFFuzz.swift ;;
    # The parser imports ChatCore, so the whole set is compiled as that module.
    lines)
        sources=(Sources/ChatCore/*.swift Sources/ChatServer/CommandParser.swift Sources/ChatServer/LineFramer.swift
            Sources/ChatServer/TelnetScanner.swift)
        entry=Tests/Fuzz/LineFuzz.swift
        module=ChatCore
        ;;
    *) echo "unknown fuzz target: $target" >&2; exit 2 ;;
esac

out=".build/fuzz/$target"
mkdir -p "$out/corpus"
swiftc -O -parse-as-library -sanitize=fuzzer,address -module-name "$module" \
    -enable-upcoming-feature ExistentialAny -enable-upcoming-feature MemberImportVisibility \
    "${sources[@]}" "$entry" -o "$out/fuzz"
# Seed the GGUF corpus with the head of any installed model, so mutations start from a real header.
if [ "$target" = gguf ]; then
    for model in models/*.gguf; do
        [ -f "$model" ] && head -c 65536 "$model" > "$out/corpus/seed-$(basename "$model").head"
    done
fi
# Seed the line corpus with a session's worth of protocol lines.
if [ "$target" = lines ]; then
    printf '\x07/login alice pw 1\r\nhello\n//x\n/paste\n..a\n.\n/history 3\n/feedback up ok\n/quit' \
        > "$out/corpus/seed-session"
fi
exec "$out/fuzz" "$out/corpus" "$@"
