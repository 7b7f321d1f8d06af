# Thin wrappers over CMake. The two commands a fresh machine needs:
#   make demo   installs what is missing, builds, runs the main job end to end
#   make test   installs what is missing, builds, runs every test
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps build test test-sanitizers demo bench-build bench bench-instructions clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBATON_WERROR=ON $(CMAKE_FLAGS)
	cmake --build $(BUILD) -j$(JOBS)

test: build
	bash scripts/run-tests.sh $(BUILD)

# Only the sanitizer builds (build-asan, build-tsan), which `make test` runs too.
test-sanitizers: deps
	bash scripts/tests.d/sanitizers.sh

demo: build
	bash scripts/demo.sh $(BUILD)

bench-build: deps
	cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBATON_BUILD_BENCH=ON -DBATON_BUILD_TESTS=OFF
	cmake --build build-bench -j$(JOBS)

bench: bench-build
	bash scripts/bench.sh build-bench

# Instructions per event under callgrind (pusher, writer, reference): the
# figure to compare two builds by when timings are noisy.
bench-instructions: bench-build
	bash scripts/bench-instructions.sh build-bench normal

clean:
	rm -rf $(BUILD) build-*
