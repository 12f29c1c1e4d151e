# The two commands: `make run` (set up, build, start a standalone node) and `make test` (set up,
# build, run every test). Both install missing Debian packages first.
#   make test SANITIZE=1   the same suite on an ASan+UBSan build (build-asan/)
#   make build             just build (build/bin/)
#   make fuzz              libFuzzer harnesses (clang, build-fuzz/), FUZZ_SECONDS per target,
#                          FUZZ_JOBS at once
#   make soak              the kill -9 soak at length (SOAK_KILLS, SOAK_SECONDS, SOAK_SEED)

MAKEFLAGS += --no-print-directory
SANITIZE ?= 0
BUILD_DIR := $(if $(filter 1,$(SANITIZE)),build-asan,build)
CMAKE_FLAGS := -DCAIRN_SANITIZE=$(if $(filter 1,$(SANITIZE)),ON,OFF)
JOBS ?= $(shell nproc)
RUN_ARGS ?=

.PHONY: all deps test-deps build build-tests run test clean

all: build

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

# Configure runs every time (a no-op when nothing changed), so an interrupted or failed configure
# never leaves a half-made build directory that a later command trusts. `build` and `run` need no
# test packages (the suite is off unless `make test` turned it on in this directory before).
build: deps
	@scripts/configure.sh $(BUILD_DIR) $(CMAKE_FLAGS)
	cmake --build $(BUILD_DIR) -j $(JOBS)

build-tests: test-deps
	@scripts/configure.sh $(BUILD_DIR) $(CMAKE_FLAGS) -DCAIRN_TESTS=ON
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/bin/cairn run $(RUN_ARGS)

test: build-tests
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600

clean:
	rm -rf build build-asan build-fuzz

# `make fuzz` builds the libFuzzer harnesses of tests/fuzz/ with clang (ASan + UBSan) in
# build-fuzz/ and runs each for FUZZ_SECONDS over its seed corpus, FUZZ_JOBS of them at once
# (default: one per CPU); FUZZ_TARGETS="ack config" runs some. It fails on any finding (saved
# under build-fuzz/fuzz-findings/).
FUZZ_SECONDS ?= 60
FUZZ_JOBS ?= $(shell nproc)
FUZZ_TARGETS ?=
.PHONY: fuzz
fuzz:
	@scripts/install-deps.sh fuzz
	@scripts/configure.sh build-fuzz -DCMAKE_C_COMPILER=clang -DCAIRN_FUZZ=ON
	cmake --build build-fuzz -j $(JOBS) --target fuzz_all
	FUZZ_JOBS=$(FUZZ_JOBS) scripts/fuzz.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# `make bench` measures Cairn against baselines run side by side (docs/performance.md) and writes
# the results into docs/; `make bench QUICK=1` is the short run (under 3 minutes), table only.
QUICK ?= 0
.PHONY: bench
bench:
	@scripts/install-deps.sh bench
	@scripts/configure.sh build-bench -DCAIRN_TESTS=OFF -DCAIRN_BENCH=ON
	cmake --build build-bench -j $(JOBS)
	bench/run.sh --build-dir build-bench $(if $(filter 1,$(QUICK)),--quick,--write-docs)

# `make soak`: the kill -9 soak of tests/integration/test_soak.c at length (`make test` runs 10
# kills): SOAK_KILLS kills within SOAK_SECONDS, SOAK_CONNECTIONS keep-alive connections of load;
# SOAK_SEED (printed by every run) replays a run's kill order and choices. SANITIZE=1 works too.
# Then tests/integration/test_cluster_soak.c: CLUSTER_SOAK_KILLS whole-node kills of a
# three-node cluster (`make test` runs 3; at most 16).
SOAK_KILLS ?= 100
SOAK_SECONDS ?= 1800
SOAK_CONNECTIONS ?=
SOAK_SEED ?=
CLUSTER_SOAK_KILLS ?= 16
.PHONY: soak
soak: build-tests
	SOAK_KILLS=$(SOAK_KILLS) SOAK_SECONDS=$(SOAK_SECONDS) SOAK_CONNECTIONS=$(SOAK_CONNECTIONS) \
	SOAK_SEED=$(SOAK_SEED) $(BUILD_DIR)/bin/integration_test_soak --verbose
	CLUSTER_SOAK_KILLS=$(CLUSTER_SOAK_KILLS) SOAK_SEED=$(SOAK_SEED) \
	$(BUILD_DIR)/bin/integration_test_cluster_soak --verbose

# `make cluster`: a local 3-node development cluster on 127.0.0.1, 127.0.0.2 and 127.0.0.3 with a
# generated secret and data in a private temp dir (CLUSTER_DIR to choose it); Ctrl-C stops all.
# CLUSTER_ADMIN_PORT: the first of each node's role admin ports (+0..+4, +10).
CLUSTER_PORT ?= 8848
CLUSTER_DIR ?=
CLUSTER_ADMIN_PORT ?= 9150
.PHONY: cluster
cluster: build
	scripts/dev-cluster.sh $(BUILD_DIR) $(CLUSTER_PORT) "$(CLUSTER_DIR)" $(CLUSTER_ADMIN_PORT)
