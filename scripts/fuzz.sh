#!/usr/bin/env bash
# Builds Lumen's libFuzzer targets (clang + ASan + UBSan) and runs each one for a given time.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]      default: 60 s each, every target
#
# Targets: safetensors_header checkpoint_dir imp_config png jpeg tokenizer chat_template chat_request.
# Each run starts from its seed corpus (fuzz/make_seeds.cpp's generated seeds plus files from
# tests/data and models/imp-shapes) and keeps what it finds in $BUILD/fuzz/corpus/TARGET, so
# later runs continue from there. A crash leaves its input in $BUILD/fuzz/artifacts/ and makes
# the script fail; turn it into a regression test next to the code's other tests
# before fixing. Environment: FUZZ_BUILD_DIR (default build-san, shared with `make
# test-sanitize`), JOBS, CC/CXX (default clang-14/clang++-14).
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_EACH=${1:-60}
shift || true
ALL_TARGETS=(safetensors_header checkpoint_dir imp_config png jpeg tokenizer chat_template chat_request)
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${ALL_TARGETS[@]}")
BUILD=${FUZZ_BUILD_DIR:-build-san}
JOBS=${JOBS:-$(nproc)}
export CC=${CC:-clang-14} CXX=${CXX:-clang++-14}

step_start=$(date +%s)
if [ "${FUZZ_SKIP_BUILD:-0}" != 1 ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLUMEN_SANITIZE=ON -DLUMEN_FUZZ=ON -DLUMEN_CUDA=OFF >/dev/null
  cmake --build "$BUILD" -j "$JOBS" --target fuzzers
  echo "fuzz: build took $(( $(date +%s) - step_start )) s"
fi

seeds="$BUILD/fuzz/seeds"
rm -rf "$seeds"
"$BUILD/fuzz/fuzz_make_seeds" "$seeds" >/dev/null
data=tests/data
# Seed files taken as they are from the test data, per target.
extra_seeds() {
  case "$1" in
    imp_config) ls "$data"/fixtures/*/config.json "$data"/fixtures/imp-v1-3b.config.json models/imp-shapes/config.json ;;
    png) ls "$data"/images/*.png "$data"/fixtures/preprocess/*.png; ls "$data"/eval/shapes/images/*.png | head -20 ;;
    jpeg) ls "$data"/images/*.jpg ;;
    tokenizer) ls models/imp-shapes/MODEL_CARD.md "$data"/fixtures/imp-tiny-a/special_tokens_map.json ;;
    checkpoint_dir) ls "$data"/fixtures/imp-tiny-a/config.json ;;
  esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# One target's run: its log and a one-line summary go to $BUILD/fuzz/TARGET.{log,summary}; the
# exit status says whether it found something.
run_target() {
  local target=$1 corpus="$BUILD/fuzz/corpus/$1" artifacts="$BUILD/fuzz/artifacts" max_len=65536 start
  mkdir -p "$corpus" "$artifacts" "$seeds/$target" "$BUILD/fuzz/extra/$target"
  rm -f "$BUILD/fuzz/extra/$target"/*
  for f in $(extra_seeds "$target"); do cp "$f" "$BUILD/fuzz/extra/$target/$(echo "$f" | tr / _)"; done
  case "$target" in png|jpeg) max_len=1048576 ;; esac
  start=$(date +%s)
  local status=0
  "$BUILD/fuzz/fuzz_$target" -max_total_time="$SECONDS_EACH" -timeout=20 -rss_limit_mb=3072 \
    -max_len="$max_len" -print_final_stats=1 -artifact_prefix="$artifacts/$target-" \
    "$corpus" "$seeds/$target" "$BUILD/fuzz/extra/$target" >"$BUILD/fuzz/$target.log" 2>&1 || status=1
  {
    printf 'fuzz: %s: ' "$target"
    grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$BUILD/fuzz/$target.log" | tr '\n' ' ' || true
    echo "($(( $(date +%s) - start )) s, corpus $(ls "$corpus" | wc -l) files)"
  } >"$BUILD/fuzz/$target.summary"
  return $status
}

# Each fuzzer is one process on one core, so JOBS of them run side by side.
echo "fuzz: ${#TARGETS[@]} targets for $SECONDS_EACH s each, $JOBS at a time"
declare -A pid_of
failed=()
for target in "${TARGETS[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
  run_target "$target" &
  pid_of[$target]=$!
done
for target in "${TARGETS[@]}"; do
  if ! wait "${pid_of[$target]}"; then
    failed+=("$target")
    tail -n 60 "$BUILD/fuzz/$target.log"
  fi
  cat "$BUILD/fuzz/$target.summary"
done

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (inputs in $BUILD/fuzz/artifacts/, logs in $BUILD/fuzz/)" >&2
  exit 1
fi
echo "fuzz: all ${#TARGETS[@]} targets ran ${SECONDS_EACH} s each without a finding"
