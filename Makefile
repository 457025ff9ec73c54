# A thin wrapper around CMake (as neovim's is): the real build is
# CMakeLists.txt.  `make test` is what CI runs.
BUILD      ?= build
BUILD_SAN  ?= build-san
JOBS       ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_ARGS ?=
FUZZ_SECONDS ?= 10
# One clang for the sanitizer build, the fuzzers and the format check;
# tests/deps.sh installs this version (it reads CLANG_VERSION from here).
CLANG_VERSION ?= 14
CLANG ?= clang-$(CLANG_VERSION)

.PHONY: all build deps test test-fast san run bench fuzz install clean

all: build

deps:
	@CLANG_VERSION=$(CLANG_VERSION) sh tests/deps.sh

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
	CC=$(CLANG) cmake -S . -B $(BUILD_SAN) -DRTCTL_WERROR=ON -DRTCTL_ASAN=ON \
	    -DRTCTL_FUZZ=ON -DRTCTL_FUZZ_SECONDS=$(FUZZ_SECONDS) $(CMAKE_ARGS)
	cmake --build $(BUILD_SAN) -j $(JOBS)
	ctest --test-dir $(BUILD_SAN) --output-on-failure -j $(JOBS)

fuzz:
	CC=$(CLANG) cmake -S . -B $(BUILD_SAN) -DRTCTL_ASAN=ON -DRTCTL_FUZZ=ON
	cmake --build $(BUILD_SAN) -j $(JOBS)
	ctest --test-dir $(BUILD_SAN) -L fuzz --output-on-failure

# The main job: the bundled server in the background (on a free port, or
# RUN_PORT), its output in $(BUILD)/serve.log, and `rtctl chat general`
# against it in the foreground.  Leaving the chat (/quit, Ctrl-D, Ctrl-C)
# stops the server.  The port is read from the server's first line,
# `listening on http://HOST:PORT`, once that line is complete.
RUN_PORT ?= 0
run: build
	@out=$(BUILD)/serve.out; log=$(BUILD)/serve.log; : >"$$out"; \
	$(BUILD)/rtctl serve --port $(RUN_PORT) >"$$out" 2>"$$log" & pid=$$!; \
	trap 'kill $$pid 2>/dev/null; wait $$pid 2>/dev/null' EXIT; \
	trap 'exit 130' INT TERM; \
	n=0; while [ "$$(wc -l <"$$out")" -lt 1 ]; do \
	    if ! kill -0 $$pid 2>/dev/null || [ $$n -ge 400 ]; then \
	        echo "make run: rtctl serve did not start:" >&2; \
	        cat "$$log" >&2; exit 1; \
	    fi; \
	    n=$$((n + 1)); sleep 0.05; \
	done; \
	url=$$(sed -n '1s/^listening on //p' "$$out"); \
	echo "rtctl serve: $$url (log: $$log)"; \
	echo "from another terminal: $(BUILD)/rtctl chat --url $$url general"; \
	$(BUILD)/rtctl chat --url "$$url" general

bench: build
	@for b in $(BUILD)/tests/bench_*; do echo "== $$b"; $$b || exit 1; done
	@echo "== tests/bench/fanout.sh"
	@BUILD=$(BUILD) RTCTL=$(BUILD)/rtctl sh tests/bench/fanout.sh
	@echo "== tests/bench/redis_fanout.sh"
	@RTCTL=$(BUILD)/rtctl sh tests/bench/redis_fanout.sh
	@echo "== tests/bench/loadgen.sh"
	@BUILD=$(BUILD) RTCTL=$(BUILD)/rtctl sh tests/bench/loadgen.sh

install: build
	cmake --install $(BUILD)

clean:
	rm -rf $(BUILD) $(BUILD_SAN)
