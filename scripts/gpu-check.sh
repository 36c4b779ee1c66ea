#!/usr/bin/env bash
# One go on a GPU machine: build Lumen with its CUDA backend, run the GPU tests (CUDA ops against
# the CPU backend, the Imp fixtures on --device cuda), a CLI smoke test on the bundled model,
# and the GPU benchmark. Logs go to OUT_DIR; a summary table is printed last.
#
#   scripts/gpu-check.sh [OUT_DIR]     (default: $OUT, else ./gpu-check-out)
#
# Builds in $LUMEN_GPU_BUILD_DIR (default build-gpu). If the machine lacks dependencies of the
# full project (server, retrieval, gtest), it builds the slim GPU-check project instead
# (scripts/gpu-check/CMakeLists.txt), with googletest from build-gpu-carry/ when the machine has
# none (`scripts/gpu-check.sh --pack` makes it; carry build-gpu-carry).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH=/usr/local/cuda/bin:$PATH

if [ "${1:-}" = "--pack" ]; then
  # Here (a machine with Debian's libgtest-dev): pack googletest's sources for GPU images without
  # gtest; carry build-gpu-carry with the call.
  mkdir -p build-gpu-carry && tar -C /usr/src -cJf build-gpu-carry/googletest.tar.xz googletest
  du -sh build-gpu-carry
  exit 0
fi

OUT_DIR=${1:-${OUT:-$ROOT/gpu-check-out}}
mkdir -p "$OUT_DIR"
BUILD=${LUMEN_GPU_BUILD_DIR:-build-gpu}
JOBS=$(nproc)
SUMMARY=()
note() { echo "== $*"; SUMMARY+=("$*"); }

{
  date
  nvidia-smi || true
  nvcc --version || true
  cmake --version | head -1 || true
} >"$OUT_DIR/machine.txt" 2>&1
head -20 "$OUT_DIR/machine.txt"

# ---- build: the full project if this machine has every dependency, else the slim GPU-check
# build (scripts/gpu-check/CMakeLists.txt: no server/retrieval, googletest from build-gpu-carry)
LUMEN=""
TESTS=""
GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
t0=$(date +%s)
if cmake -S . -B "$BUILD" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release >"$OUT_DIR/configure.log" 2>&1 &&
   grep -q "CUDA backend ON" "$OUT_DIR/configure.log" &&
   cmake --build "$BUILD" -j "$JOBS" --target lumen_cli lumen_tests >"$OUT_DIR/build.log" 2>&1; then
  LUMEN="$BUILD/lumen"
  TESTS="$BUILD/tests/lumen_tests"
  note "build: full project with CUDA in $(( $(date +%s) - t0 )) s"
else
  note "build: full project not buildable here ($(grep -m1 -iE 'error' "$OUT_DIR/configure.log" "$OUT_DIR/build.log" 2>/dev/null | cut -c1-120)); slim build"
  GTEST_ARGS=()
  if [ -f build-gpu-carry/googletest.tar.xz ]; then
    mkdir -p build-gpu-carry/src && tar -C build-gpu-carry/src -xJf build-gpu-carry/googletest.tar.xz
    GTEST_ARGS=(-DLUMEN_GTEST_SOURCE="$ROOT/build-gpu-carry/src/googletest")
  fi
  t0=$(date +%s)
  if cmake -S scripts/gpu-check -B "$BUILD-slim" "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release "${GTEST_ARGS[@]}" \
       >"$OUT_DIR/configure-slim.log" 2>&1 &&
     cmake --build "$BUILD-slim" -j "$JOBS" >"$OUT_DIR/build-slim.log" 2>&1; then
    LUMEN="$BUILD-slim/lumen"
    TESTS="$BUILD-slim/lumen_gpu_tests"
    note "build: slim GPU-check build in $(( $(date +%s) - t0 )) s"
  else
    note "build: FAILED (configure-slim.log, build-slim.log)"
    tail -25 "$OUT_DIR/configure-slim.log" "$OUT_DIR/build-slim.log" 2>/dev/null | grep -v "^--"
  fi
fi

# ---- GPU tests: CUDA ops vs CPU, the fixtures on the device model, the engine on --device cuda
if [ -n "$TESTS" ]; then
  timeout 150 "$TESTS" --gtest_filter='CudaOps.*:CudaAvailability.*:*DeviceModel*:DeviceEngine*' \
    --gtest_brief=1 >"$OUT_DIR/gpu-tests.log" 2>&1
  rc=$?
  grep -E "^\[  (PASSED|FAILED|SKIPPED) |FAILED|Failure|error" "$OUT_DIR/gpu-tests.log" | head -60
  passed=$(grep -oE "\[  PASSED  \] [0-9]+" "$OUT_DIR/gpu-tests.log" | grep -oE "[0-9]+$" || echo 0)
  failed=$(grep -cE "^\[  FAILED  \] .*\." "$OUT_DIR/gpu-tests.log" || true)
  skipped=$(grep -oE "\[  SKIPPED \] [0-9]+ test" "$OUT_DIR/gpu-tests.log" | grep -oE "[0-9]+" || echo 0)
  note "gpu tests: exit $rc, passed ${passed:-0}, failed ${failed:-0}, skipped ${skipped:-0}"
fi

# ---- CLI smoke test: the bundled model answers the same on CPU and GPU (F32 activations)
if [ -n "$LUMEN" ]; then
  q=(ask -i examples/shapes.png "What is in the image?" -n 24)
  cpu_answer=$(timeout 30 "$LUMEN" "${q[@]}" 2>&1)
  gpu_answer=$(timeout 30 "$LUMEN" "${q[@]}" --device cuda --device-dtype f32 2>&1)
  gpu_f16=$(timeout 30 "$LUMEN" "${q[@]}" --device cuda 2>&1)
  printf 'cpu: %s\ngpu f32: %s\ngpu f16: %s\n' "$cpu_answer" "$gpu_answer" "$gpu_f16" | tee "$OUT_DIR/cli.log"
  [ "$cpu_answer" = "$gpu_answer" ] && note "cli: --device cuda answer equals CPU" || note "cli: answers DIFFER (cli.log)"
  timeout 30 "$LUMEN" ask --device cuda:7 -i examples/shapes.png "x" >>"$OUT_DIR/cli.log" 2>&1
  note "cli: --device cuda:7 -> $(tail -1 "$OUT_DIR/cli.log")"
fi

# ---- benchmark (Imp-v1-3B shapes, random weights)
if [ -n "$LUMEN" ]; then
  for quant in bf16 f16; do
    timeout 150 "$LUMEN" bench --device cuda --quant "$quant" --repeats 10 2>&1 | tee "$OUT_DIR/bench-$quant.txt"
    note "bench $quant: $(grep -E "^$quant " "$OUT_DIR/bench-$quant.txt" | tr -s ' ')"
  done
fi

echo
echo "================ summary ================"
printf '%s\n' "${SUMMARY[@]}" | tee "$OUT_DIR/summary.txt"
