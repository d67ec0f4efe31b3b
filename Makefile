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
# BruteForceTests compare login timings (other suites would compete for the CPU). Two end-to-end
# suites then run alone, one after the other, each driving an `enclave serve` process hard: the leak
# test (thousands of messages) and the load test (100 clients x 5 messages to the real model, whose
# time-to-first-token figures would mean nothing beside other work; ENCLAVE_LOAD_TESTS enables it).
ISOLATED_SUITES = AbuseTests|BruteForceTests
LEAK_SUITE = EnclaveCLITests.LeakTests
LOAD_SUITE = ChatConcurrencyTests
test: setup build-tests
	$(SWIFT) test $(BUILD_FLAGS) --skip-build --skip "$(ISOLATED_SUITES)|$(LEAK_SUITE)|$(LOAD_SUITE)"
	$(SWIFT) test $(BUILD_FLAGS) --skip-build --filter "$(ISOLATED_SUITES)"
	$(SWIFT) test $(BUILD_FLAGS) --skip-build --filter "$(LEAK_SUITE)"
	ENCLAVE_LOAD_TESTS=1 $(SWIFT) test $(BUILD_FLAGS) --skip-build --filter "$(LOAD_SUITE)"

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
