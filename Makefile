# The two commands: `make run` (set up, build, start a standalone node) and `make test` (set up,
# build, run every test). Both install missing Debian packages first.
#   make test SANITIZE=1   the same suite on an ASan+UBSan build (build-asan/)
#   make build             just build (build/bin/)

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
	rm -rf build build-asan

# `make bench` measures Cairn against baselines run side by side (docs/performance.md) and writes
# the results into docs/; `make bench QUICK=1` is the short run (under 3 minutes), table only.
QUICK ?= 0
.PHONY: bench
bench:
	@scripts/install-deps.sh bench
	@scripts/configure.sh build-bench -DCAIRN_TESTS=OFF -DCAIRN_BENCH=ON
	cmake --build build-bench -j $(JOBS)
	bench/run.sh --build-dir build-bench $(if $(filter 1,$(QUICK)),--quick,--write-docs)
