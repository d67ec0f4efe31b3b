# Enclave's developer entry points. The README's quick start is `make run` and `make test`.
SWIFT ?= swift
BUILD_FLAGS ?=

.PHONY: run test setup deps model build build-tests doctor format lint clean

## run: set up what is missing, build, and start the server on 127.0.0.1:7878 (first run creates ./data
## and an admin account whose one-time password is printed once).
run: setup build
	$(SWIFT) run $(BUILD_FLAGS) enclave serve

## test: set up what is missing, then build and run every test.
# Two suites measure the process itself, so they run after the rest, on their own: AbuseTests bound
# the RSS while hostile clients attack the server (other suites load models in the same process), and
# BruteForceTests compare login timings (other suites would compete for the CPU). The end-to-end leak
# test drives a server process with thousands of messages; alone, it cannot starve the others' timeouts.
ISOLATED_SUITES = AbuseTests|BruteForceTests
HEAVY_SUITES = EnclaveCLITests.LeakTests
test: setup build-tests
	$(SWIFT) test $(BUILD_FLAGS) --skip-build --skip "$(ISOLATED_SUITES)|$(HEAVY_SUITES)"
	$(SWIFT) test $(BUILD_FLAGS) --skip-build --filter "$(ISOLATED_SUITES)"
	$(SWIFT) test $(BUILD_FLAGS) --skip-build --filter "$(HEAVY_SUITES)"

## setup: install missing apt packages and the pinned default model; idempotent.
setup: deps model

deps:
	@deploy/install-deps.sh

model:
	@deploy/fetch-model.sh

build:
	$(SWIFT) build $(BUILD_FLAGS)

build-tests:
	$(SWIFT) build $(BUILD_FLAGS) --build-tests

doctor: build
	$(SWIFT) run $(BUILD_FLAGS) enclave doctor

## format / lint: swift-format with the settings in .swift-format.
format:
	$(SWIFT) format format --in-place --recursive --parallel Package.swift Sources Tests

lint:
	$(SWIFT) format lint --strict --recursive --parallel Package.swift Sources Tests

clean:
	rm -rf .build
