#!/usr/bin/env bash
# Installs the Debian packages Enclave builds against, and only those that are missing.
# As root it runs apt-get; otherwise it uses sudo when that needs no password; otherwise it
# prints the exact command for an administrator and fails.
set -euo pipefail

# netcat-openbsd gives newcomers `nc`, the simplest client of the line protocol; the openssl command
# makes the TLS test's certificate and plays the TLS 1.1 client the server must refuse.
required=(pkg-config libsqlite3-dev libssl-dev libopenblas-dev python3 python3-pip unzip netcat-openbsd openssl)
# For the tests only (`make test` sets ENCLAVE_TEST_DEPS=1): headless Chromium opens the eval HTML report.
if [ "${ENCLAVE_TEST_DEPS:-0}" = 1 ]; then required+=(chromium); fi
# For the tests only: systemd-analyze checks deploy/enclave.service; python3-venv makes the test venv below.
if [ "${ENCLAVE_TEST_DEPS:-0}" = 1 ]; then required+=(systemd python3-venv); fi
if [ "${ENCLAVE_TEST_DEPS:-0}" = 1 ]; then required+=(cmake g++); fi  # llama-quantize (make-quant-models.sh)
missing=()
for package in "${required[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
        # python3 and pip may come from elsewhere (pyenv, a venv); accept a working command.
        case "$package" in
            python3) command -v python3 >/dev/null && continue ;;
            python3-pip) python3 -m pip --version >/dev/null 2>&1 && continue ;;
            unzip) command -v unzip >/dev/null && continue ;;
            netcat-openbsd) command -v nc >/dev/null && continue ;;
            systemd) command -v systemd-analyze >/dev/null && continue ;;
            python3-venv) python3 -c 'import ensurepip, venv' 2>/dev/null && continue ;;
        esac
        missing+=("$package")
    fi
done

# For the tests only: a virtual environment (cache/test-venv) with PyPI packages the tests drive — the
# reference Prometheus text parser that reads /metrics (HealthEndpointTests), and the `gguf` package (numpy
# pinned with it: the files must come out byte for byte) that writes the tiny random-weight models of
# deploy/tiny_models.py (TinyArchitectureTests). Made after the apt step.
test_venv() {
    [ "${ENCLAVE_TEST_DEPS:-0}" = 1 ] || return 0
    local venv
    cd "$(dirname "$0")/.."
    venv="${ENCLAVE_CACHE_DIR:-cache}/test-venv"
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import prometheus_client, gguf' 2>/dev/null; then
        echo "deps: test venv present ($venv)"
        return 0
    fi
    echo "deps: making the test venv $venv (prometheus-client, gguf and numpy from PyPI)"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "prometheus-client==0.26.0" \
        "gguf==0.19.0" "numpy==2.4.6"
}

if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all present (${required[*]})"
    test_venv
    exit 0
fi

command_line="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
    echo "deps: installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive sh -c "$command_line"
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    echo "deps: installing ${missing[*]} through sudo"
    sudo DEBIAN_FRONTEND=noninteractive sh -c "$command_line"
else
    echo "deps: missing ${missing[*]}. Ask an administrator to run:" >&2
    echo "    sudo sh -c '$command_line'" >&2
    exit 1
fi
test_venv
