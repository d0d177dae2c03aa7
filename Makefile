# crunch: `make run` builds and starts the server; `make test` runs every test.
# Needs Go and a C compiler; `make test` installs CMake with apt-get when it
# can (root), and otherwise skips only the CMake package test, loudly.

GO      ?= go
CC      ?= gcc
BIN     := bin/crunch
ARGS    ?=
# make run also serves a Unix socket, over which clients on this machine
# pass arrays through shared memory.
UNIX_SOCK ?= /tmp/crunch.sock
BUILD   := build
CFLAGS_TEST := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Iinclude -Inative
SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
C_SRC   := $(wildcard native/*.c)
C_TESTS := $(wildcard native/test/test_*.c)
FUZZTIME ?= 400000x

.PHONY: all build run test test-go test-c test-cmake test-race test-sanitize fuzz vet fmt \
        bench bench-deps ensure-cmake clean native-sum

all: build

build: $(BIN)

# Go tracks its own dependencies, except the C that package cgo includes
# from native/ and include/: native-sum records their digest in a file Go
# does see (cgo/native_sum.go), so that a change to them rebuilds it.
$(BIN): native-sum FORCE
	$(GO) build -o $(BIN) ./cmd/crunch
FORCE:

native-sum:
	@cd cgo && $(GO) generate .

## run: build and start the server on 127.0.0.1:8080 and the Unix socket $(UNIX_SOCK)
## (extra flags: make run ARGS="--addr :9000"; no Unix socket: make run UNIX_SOCK=)
run: build
	./$(BIN) serve $(if $(UNIX_SOCK),--unix $(UNIX_SOCK)) $(ARGS)

## test: everything — vet, Go tests, C tests, the CMake package and its consumers
test: vet test-go test-c test-cmake

vet: native-sum
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

test-go: native-sum
	$(GO) test -count=1 ./...

## test-c: the C tests, built straight with $(CC) (no CMake needed), on every SIMD path.
## The library's sources are compiled once to objects (in parallel) and linked into each test.
C_NJOBS := $(shell nproc 2>/dev/null || echo 2)
C_OBJ     := $(patsubst native/%.c,$(BUILD)/obj/%.o,$(C_SRC))
C_OBJ_SAN := $(patsubst native/%.c,$(BUILD)/obj-san/%.o,$(C_SRC))
C_BINS     := $(patsubst native/test/%.c,$(BUILD)/ctest/%,$(C_TESTS))
C_BINS_SAN := $(patsubst native/test/%.c,$(BUILD)/ctest-san/%,$(C_TESTS))

$(BUILD)/obj/%.o: native/%.c
	@mkdir -p $(@D)
	@echo "  CC      $@"; $(CC) $(CFLAGS_TEST) -MMD -MP -c $< -o $@
$(BUILD)/obj-san/%.o: native/%.c
	@mkdir -p $(@D)
	@echo "  CC+SAN  $@"; $(CC) $(CFLAGS_TEST) $(SAN) -MMD -MP -c $< -o $@
$(BUILD)/ctest/%: native/test/%.c $(C_OBJ)
	@echo "  LINK    $@"; $(CC) $(CFLAGS_TEST) -MMD -MP $< $(C_OBJ) -lpthread -lm -o $@
$(BUILD)/ctest-san/%: native/test/%.c $(C_OBJ_SAN)
	@echo "  LINK    $@"; $(CC) $(CFLAGS_TEST) $(SAN) -MMD -MP $< $(C_OBJ_SAN) -lpthread -lm -o $@
# Keep the objects between runs (make would delete them as intermediates).
.SECONDARY: $(C_OBJ) $(C_OBJ_SAN)
-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/obj-san/*.d $(BUILD)/ctest/*.d $(BUILD)/ctest-san/*.d)

# The tests run in parallel, one job a binary (its three SIMD paths in turn), the
# longest first so that the short ones fill the other CPUs around them.
C_SLOW_FIRST := test_fft test_parallel test_fft_real test_cancel
C_RUN_ORDER  := $(C_SLOW_FIRST) $(filter-out $(C_SLOW_FIRST),$(patsubst native/test/%.c,%,$(C_TESTS)))

test-c:
	@mkdir -p $(BUILD)/ctest
	@$(MAKE) --no-print-directory -j$(C_NJOBS) $(C_BINS)
	@$(MAKE) --no-print-directory -j$(C_NJOBS) $(patsubst %,$(BUILD)/ctest/%.run,$(C_RUN_ORDER))

# Runs one C test on every SIMD path; the target is never a file, so it always runs.
$(BUILD)/ctest/%.run: $(BUILD)/ctest/%
	@set -e; ./$<; \
	  CRUNCH_DISABLE=avx512 ./$< >/dev/null; \
	  CRUNCH_DISABLE=avx512,avx2 ./$< >/dev/null

## test-sanitize: the C tests under AddressSanitizer and UndefinedBehaviorSanitizer, in parallel,
## and the Go binding's shadow threads under ThreadSanitizer
test-sanitize:
	@mkdir -p $(BUILD)/ctest-san
	@$(MAKE) --no-print-directory -j$(C_NJOBS) $(C_BINS_SAN)
	@$(MAKE) --no-print-directory -j$(C_NJOBS) $(patsubst %,$(BUILD)/ctest-san/%.run,$(C_RUN_ORDER))
	@$(CC) $(CFLAGS_TEST) -O1 -fsanitize=thread -Icgo cgo/shadow.c cgo/testdata/shadow_tsan.c \
	  -o $(BUILD)/ctest-san/shadow_tsan -lpthread
	@./$(BUILD)/ctest-san/shadow_tsan

$(BUILD)/ctest-san/%.run: $(BUILD)/ctest-san/%
	@./$<

## test-cmake: libcrunch through CMake: ctest, install, find_package and pkg-config consumers
test-cmake: ensure-cmake
	@if command -v cmake >/dev/null; then \
	  cmake -S . -B $(BUILD)/cmake -DCRUNCH_WERROR=ON >/dev/null && \
	  cmake --build $(BUILD)/cmake -j2 >/dev/null && \
	  ctest --test-dir $(BUILD)/cmake -j$(C_NJOBS) --output-on-failure; \
	else \
	  echo "**********************************************************************"; \
	  echo "** SKIPPED: the CMake package test (cmake missing, and not root to  **"; \
	  echo "** install it: apt-get install -y cmake). Everything else ran.      **"; \
	  echo "**********************************************************************"; \
	fi

ensure-cmake:
	@command -v cmake >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  { echo "installing cmake (apt-get)"; (apt-get install -y cmake >/dev/null 2>&1 || \
	    (apt-get update >/dev/null 2>&1 && apt-get install -y cmake >/dev/null 2>&1)) || true; }; } || true

## test-race: every Go test under the race detector. Tests whose server is a process of its
## own (the clients', the command line's) skip there: the detector does not reach that process.
test-race: native-sum
	$(GO) test -race -count=1 ./...

## fuzz: a short run of the wire decoder's fuzz target. FUZZTIME counts executions (Nx):
## with a duration, Go 1.26's fuzz coordinator can fail a clean run with "context deadline
## exceeded" as the time runs out on a loaded machine (go.dev/issue/75804, fixed in Go 1.27).
fuzz: native-sum
	$(GO) test ./service/wire -run='^$$' -fuzz=FuzzDecodeRequest -fuzztime=$(FUZZTIME)

## bench: everything measured on this machine, by crunchbench: the Go micro-benchmarks
## (kernels per SIMD path against Go/gonum, and OpenBLAS and FFTW when installed; dispatch
## and transfer per executor), one request per op on 1 thread and on all (beside OpenBLAS's
## gemm and FFTW's fft on as many, when installed), the exec profile (profile.json, for
## crunch serve --profile), end-to-end load per executor, and ping round trips under full
## load per compute priority.
## Writes HOST-DATE.{md,json}, the raw go test output, SVG plots and profile.json into
## $(BENCH_OUT) (bench/out, which git ignores); SAVE=1 writes them into bench/results
## instead, the report the repository keeps. BENCH=quick takes about two minutes,
## BENCH=full longer.
BENCH ?= default
BENCH_OUT ?= bench/out
BENCH_DIR := $(if $(filter 1 yes true,$(SAVE)),bench/results,$(BENCH_OUT))
BENCH_FLAGS_quick   := -quick -priorities idle
BENCH_FLAGS_default := -reps 5 -duration 1s -warmup 500ms -priorities normal,idle \
	-e2e-budget 3m30s -e2e-max-run 5s
BENCH_FLAGS_full    := -full -reps 5 -duration 5s -kernels-count 10
HAVE_OPENBLAS := $(shell printf '\043include <cblas.h>\nint main(void){return 0;}\n' | \
	$(CC) -x c - -lopenblas -o /dev/null 2>/dev/null && echo yes)
HAVE_FFTW := $(shell printf '\043include <fftw3.h>\nint main(void){return 0;}\n' | \
	$(CC) -x c - -lfftw3_threads -lfftw3 -lfftw3f -lpthread -o /dev/null 2>/dev/null && echo yes)
empty :=
comma := ,
BENCH_TAGS := $(subst $(empty) $(empty),$(comma),$(strip $(if $(HAVE_OPENBLAS),openblas) $(if $(HAVE_FFTW),fftw)))
bench: native-sum
	@test -n "$(BENCH_FLAGS_$(BENCH))" || { echo "BENCH must be quick, default or full"; exit 2; }
	@echo "OpenBLAS for comparison: $(if $(HAVE_OPENBLAS),yes,no (make bench-deps installs it))"
	@echo "FFTW for comparison: $(if $(HAVE_FFTW),yes,no (make bench-deps installs it))"
	$(GO) run ./bench/cmd/crunchbench $(BENCH_FLAGS_$(BENCH)) -kernels-tags '$(BENCH_TAGS)' -results $(BENCH_DIR)
	@echo "results in $(BENCH_DIR)/$(if $(filter bench/results,$(BENCH_DIR)),, (make bench SAVE=1 writes them into bench/results))"

## bench-deps: what the comparisons need, from Debian's packages (root)
bench-deps:
	apt-get install -y libopenblas-dev libfftw3-dev python3-fastapi python3-uvicorn python3-websockets python3-numpy python3-threadpoolctl

fmt:
	gofmt -w $$(git ls-files '*.go')

clean:
	rm -rf $(BUILD) bin
