#!/usr/bin/env bash
# Runs the cross-compiled Arm64 test binary under qemu-aarch64 once per Arm CPU level, each
# on a qemu CPU model that has what the level needs (and, for neon, lacks what the next one
# adds, so a stray dotprod or fp16 instruction there is an illegal instruction):
#   generic  cortex-a53 (ARMv8.0) with LUMEN_CPU_LEVEL=generic: the portable C++ kernels
#   neon     cortex-a53, detected: Advanced SIMD only
#   dotprod  cortex-a76 (ARMv8.2: dotprod and fp16) with LUMEN_CPU_LEVEL=dotprod
#   fp16     max, detected: every extension qemu emulates
# Every run checks that the kernels use its level (tests/arm64/cpu_level_check.cpp) and runs
# the fixture tests; the kernel tests parameterised by level run there at that level only.
# Usage: tests/arm64/run.sh BUILD_DIR
set -euo pipefail

build="$1"
bin="$build/lumen_arm64_tests"
qemu=$(command -v qemu-aarch64-static || command -v qemu-aarch64 || true)
if [ -z "$qemu" ]; then
  echo "test-arm64: no qemu-aarch64 (scripts/install-deps.sh installs qemu-user-static)" >&2
  exit 1
fi

# One level's run; its output goes to $1/arm64-LEVEL.log, the exit status says whether it passed.
run_level() {
  local level=$1 cpu=$2 others start=$SECONDS status=0
  others=$(for l in generic neon dotprod fp16; do [ "$l" = "$level" ] || printf ':*_%s_*:*/%s' "$l" "$l"; done)
  {
    echo "== arm64 level $level: qemu-aarch64 -cpu $cpu, LUMEN_CPU_LEVEL=$level =="
    LUMEN_CPU_LEVEL="$level" LUMEN_EXPECT_CPU_LEVEL="$level" "$qemu" -cpu "$cpu" "$bin" --gtest_brief=1 \
      --gtest_filter="-${others#:}" || status=1
    if [ $status -eq 0 ]; then
      echo "== arm64 level $level: passed ($((SECONDS - start)) s) =="
    else
      echo "== arm64 level $level: FAILED ($((SECONDS - start)) s) =="
    fi
  } >"$build/arm64-$level.log" 2>&1
  return $status
}

# Much of each emulated run is single-threaded (references, fixture loading), so JOBS levels
# run side by side; their logs are printed in order afterwards.
jobs_max=${JOBS:-$(nproc)}
declare -A pid_of
levels=()
for run in "generic cortex-a53" "neon cortex-a53" "dotprod cortex-a76" "fp16 max"; do
  read -r level cpu <<<"$run"
  while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n || true; done
  run_level "$level" "$cpu" &
  pid_of[$level]=$!
  levels+=("$level")
done
failed=()
for level in "${levels[@]}"; do
  wait "${pid_of[$level]}" || failed+=("$level")
  cat "$build/arm64-$level.log"
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "test-arm64: failed at level(s): ${failed[*]}"
  exit 1
fi
echo "test-arm64: all Arm levels passed (generic, neon, dotprod, fp16)"
