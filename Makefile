# The two commands (see README.md):
#   make demo   installs dependencies, builds, and answers a question about a bundled picture
#   make test   installs dependencies, builds, and runs every test
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
LUMEN := $(BUILD_DIR)/lumen

.PHONY: deps configure build demo test clean

deps:
	@bash scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release >/dev/null

build: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS)

demo: configure
	@cmake --build $(BUILD_DIR) -j $(JOBS) --target lumen_cli
	$(LUMEN) ask -i examples/shapes.png "Describe the image."

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)
	@$(MAKE) --no-print-directory test-sanitize
	@$(MAKE) --no-print-directory fuzz-ci
	@$(MAKE) --no-print-directory test-arm64

# The whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer (clang, in
# $(SAN_BUILD_DIR), which also holds the fuzzers). See docs/hardening.md.
SAN_BUILD_DIR ?= build-san
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
.PHONY: test-sanitize fuzz fuzz-ci
test-sanitize: deps
	@CC=clang-14 CXX=clang++-14 cmake -S . -B $(SAN_BUILD_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DLUMEN_SANITIZE=ON -DLUMEN_FUZZ=ON -DLUMEN_CUDA=OFF >/dev/null
	@cmake --build $(SAN_BUILD_DIR) -j $(JOBS) --target lumen_tests lumen_cli
	cd $(SAN_BUILD_DIR) && ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 LUMEN_SKIP_SLOW_E2E=1 ctest --output-on-failure -j $(JOBS)

# libFuzzer: every target for FUZZ_SECONDS each (make fuzz FUZZ_SECONDS=600 FUZZ_TARGETS="png jpeg").
fuzz: deps
	@FUZZ_BUILD_DIR=$(SAN_BUILD_DIR) JOBS=$(JOBS) bash scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# What CI runs: each target for 30 s.
fuzz-ci: deps
	@FUZZ_BUILD_DIR=$(SAN_BUILD_DIR) JOBS=$(JOBS) bash scripts/fuzz.sh 30

# Arm64: the kernel-vs-reference and Imp fixture tests cross-compiled for aarch64 (Debian's
# g++-aarch64-linux-gnu, cmake/aarch64-linux-gnu.cmake) into $(ARM64_BUILD_DIR), then run under
# qemu-aarch64 once per Arm CPU level (generic, neon, dotprod, fp16). See tests/arm64.
ARM64_BUILD_DIR ?= build-arm64
.PHONY: test-arm64
test-arm64: deps
	@cmake -S tests/arm64 -B $(ARM64_BUILD_DIR) -DCMAKE_BUILD_TYPE=Release \
	  -DCMAKE_TOOLCHAIN_FILE=$(CURDIR)/cmake/aarch64-linux-gnu.cmake >/dev/null
	@cmake --build $(ARM64_BUILD_DIR) -j $(JOBS) --target lumen_arm64_tests
	JOBS=$(JOBS) bash tests/arm64/run.sh $(ARM64_BUILD_DIR)

clean:
	rm -rf $(BUILD_DIR)
