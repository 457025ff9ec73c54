# A thin wrapper around CMake (as neovim's is): the real build is
# CMakeLists.txt.  `make test` is what CI runs.
BUILD      ?= build
BUILD_SAN  ?= build-san
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
FUZZ_SECONDS ?= 10

.PHONY: all build deps test test-fast san run bench fuzz install clean

all: build

deps:
	@sh tests/deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -DRTCTL_WERROR=ON $(CMAKE_ARGS)

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# Every suite in the normal build, then again in a clang ASan+UBSan build
# that also runs each fuzz target on its corpus.  The last line printed is
# CTest's summary of the sanitizer run.
test: deps
	cmake -S . -B $(BUILD) -DRTCTL_WERROR=ON $(CMAKE_ARGS)
	cmake --build $(BUILD) -j $(JOBS)
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)
	$(MAKE) --no-print-directory san

test-fast: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

san:
	CC=clang cmake -S . -B $(BUILD_SAN) -DRTCTL_WERROR=ON -DRTCTL_ASAN=ON \
	    -DRTCTL_FUZZ=ON -DRTCTL_FUZZ_SECONDS=$(FUZZ_SECONDS) $(CMAKE_ARGS)
	cmake --build $(BUILD_SAN) -j $(JOBS)
	ctest --test-dir $(BUILD_SAN) --output-on-failure -j $(JOBS)

fuzz:
	CC=clang cmake -S . -B $(BUILD_SAN) -DRTCTL_ASAN=ON -DRTCTL_FUZZ=ON
	cmake --build $(BUILD_SAN) -j $(JOBS)
	ctest --test-dir $(BUILD_SAN) -L fuzz --output-on-failure

# The main job: the bundled server on 127.0.0.1:8080 until Ctrl-C.
run: build
	$(BUILD)/rtctl serve

bench: build
	@for b in $(BUILD)/tests/bench_*; do echo "== $$b"; $$b || exit 1; done
	@echo "== tests/bench/fanout.sh"
	@BUILD=$(BUILD) RTCTL=$(BUILD)/rtctl sh tests/bench/fanout.sh

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_SAN)
