# Enclave's developer entry points. The README's quick start is `make run` and `make test`.
SWIFT ?= swift
BUILD_FLAGS ?=

.PHONY: run test setup deps model build build-tests doctor format lint clean

## run: set up what is missing, build, and start the server on 127.0.0.1:7878 (first run creates ./data
## and an admin account whose one-time password is printed once).
run: setup build
	$(SWIFT) run $(BUILD_FLAGS) enclave serve

## test: set up what is missing, then build and run every test.
# AbuseTests bound the process's RSS while hostile clients attack the server, so they run alone:
# with other suites loading models in the same process, RSS would measure those too.
test: setup build-tests
	$(SWIFT) test $(BUILD_FLAGS) --skip-build --skip AbuseTests
	$(SWIFT) test $(BUILD_FLAGS) --skip-build --filter AbuseTests

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
