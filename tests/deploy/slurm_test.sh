#!/usr/bin/env bash
# Issue 18, batch half: deploy/slurm/caption-array.sbatch and index-array.sbatch on a real
# single-node Slurm (munged, slurmctld and slurmd from Debian's slurm-wlm and munge, started here
# in a temporary state directory with free ports), over the 500 eval scenes with N = 4 shards.
#
#   usage: slurm_test.sh LUMEN_BIN
#
# Checks, printing counts and timings and exiting non-zero on any shortfall:
#   1. captions: while the caption array runs, one task is cancelled (scancel) mid-shard. The
#      merge job then fails naming the missing shard, the cancelled shard's .tmp holds a partial
#      file and no shard file. Submitting again skips the three finished shards, redoes the
#      cancelled one, and the merged captions.txt has 500 lines, no duplicate images, and equals
#      a single `lumen caption` run over the folder (sorted and in order).
#   2. index: the index array's merged index has 500 items and gives the same search results
#      (ids, and scores within 1e-6) as a single-process `lumen index build` for several text
#      queries and an image query.
# Slurm and munge are stopped and the state directory removed on exit, pass or fail. Skips
# (exit 77, saying why) under the sanitizer build (LUMEN_SKIP_SLOW_E2E=1) and when not root
# (slurmd must run as root to start jobs).
set -euo pipefail

if [ $# -ne 1 ]; then echo "usage: slurm_test.sh LUMEN_BIN" >&2; exit 2; fi
LUMEN="$(realpath "$1")"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
IMAGES="$ROOT/tests/data/eval/shapes/images"
N=4

if [ "${LUMEN_SKIP_SLOW_E2E:-}" = 1 ]; then
  echo "slurm test: skipped under the sanitizer build (LUMEN_SKIP_SLOW_E2E=1): it runs 1,000 release-speed captions through a real scheduler"
  exit 77
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "slurm test: skipped: slurmd must run as root to start jobs (this is uid $(id -u))"
  exit 77
fi
for tool in munged munge slurmctld slurmd sbatch squeue scontrol scancel; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "slurm test: FAIL: $tool is not installed (scripts/install-deps.sh installs slurm-wlm and munge)" >&2
    exit 1
  fi
done

# Slurm's daemons listen on every address of their network namespace, so they run in one of
# their own (unshare --net; the mounts stay shared, which slurmd needs for /sys/fs/cgroup) that
# has only its loopback interface, given one more address (slurmctld resolves its listening
# address with AI_ADDRCONFIG, which finds nothing where 127.0.0.1 is the only IPv4 one). No other
# host, and no process outside, can reach them. The outer run starts this script again in
# there with a deadline below CTest's TIMEOUT (600 s; SIGTERM lets the inner run's EXIT trap
# stop Slurm); the namespace ends with its last process.
if [ -z "${LUMEN_SLURM_NETNS:-}" ]; then
  for tool in unshare ip timeout; do
    command -v "$tool" >/dev/null 2>&1 || { echo "slurm test: FAIL: $tool is not installed" >&2; exit 1; }
  done
  set +e
  timeout -k 15 540 unshare --net bash -c '
    set -e
    ip link set lo up
    ip addr add 10.255.77.1/32 dev lo
    exec env LUMEN_SLURM_NETNS=1 bash "$0" "$1"' "${BASH_SOURCE[0]}" "$LUMEN"
  rc=$?
  set -e
  [ "$rc" -eq 124 ] && echo "slurm test: FAIL: over its 540 s deadline" >&2
  exit "$rc"
fi

T0=$SECONDS
WORK="$(mktemp -d "${TMPDIR:-/tmp}/lumen-slurm.XXXXXX")"
chmod 700 "$WORK"
MARK="LUMEN_SLURM_TEST_STATE=$WORK"  # in the environment of every daemon and job we start
PIDS=()
failures=0

log() { echo "slurm test: $*"; }
fail() { echo "slurm test: FAIL: $*" >&2; failures=$((failures + 1)); }
die() {
  echo "slurm test: FAIL: $*" >&2
  for f in "$WORK"/log/*.log; do [ -f "$f" ] && { echo "--- tail of $f" >&2; tail -n 20 "$f" >&2; }; done
  exit 1
}

# Processes whose environment carries our mark: the daemons, slurmstepd and the job steps.
marked_pids() {
  local p
  for p in /proc/[0-9]*; do
    [ "${p#/proc/}" = "$$" ] && continue
    if { tr '\0' '\n' < "$p/environ"; } 2>/dev/null | grep -qxF "$MARK"; then echo "${p#/proc/}"; fi
  done
}

cleanup() {
  local rc=$? pid deadline
  set +e
  trap - EXIT
  if [ -n "${SLURM_CONF:-}" ] && [ -f "$SLURM_CONF" ]; then
    scancel --user="$(id -un)" >/dev/null 2>&1
    deadline=$((SECONDS + 15))
    while [ -n "$(squeue -h 2>/dev/null)" ] && [ $SECONDS -lt $deadline ]; do sleep 0.5; done
    scontrol shutdown >/dev/null 2>&1
  fi
  # slurmctld, slurmd and munged were started in the foreground (-D / -F) in the background of
  # this shell: wait for them, then make sure of it.
  deadline=$((SECONDS + 10))
  for pid in "${PIDS[@]}"; do
    [ "$pid" = "${MUNGED_PID:-}" ] && continue
    while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  done
  [ -n "${MUNGED_PID:-}" ] && kill -TERM "$MUNGED_PID" 2>/dev/null
  sleep 0.3
  for pid in $(marked_pids) "${PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  local left
  left="$(marked_pids)"
  [ -n "$left" ] && echo "slurm test: warning: processes left: $left" >&2
  rm -rf "$WORK"
  if [ "$rc" -eq 0 ]; then log "Slurm and munge stopped, state removed"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A TCP port nothing listens on (bash's /dev/tcp connects when something does).
free_port() {
  local port
  while :; do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
}

# --- munge: a fresh key and its own socket -------------------------------------------------
mkdir -p "$WORK"/{munge,state,spool,log,run,jobs}
chmod 700 "$WORK/munge"
dd if=/dev/urandom of="$WORK/munge/munge.key" bs=1024 count=1 status=none
chmod 400 "$WORK/munge/munge.key"
SOCKET="$WORK/munge/munge.socket"
env "$MARK" munged -F -f --key-file="$WORK/munge/munge.key" --socket="$SOCKET" \
  --pid-file="$WORK/munge/munged.pid" --log-file="$WORK/log/munged.log" --seed-file="$WORK/munge/munged.seed" 2>"$WORK/log/munged.out" &
MUNGED_PID=$!
PIDS+=("$MUNGED_PID")
for _ in $(seq 50); do [ -S "$SOCKET" ] && break; sleep 0.1; done
munge -S "$SOCKET" -n | unmunge -S "$SOCKET" >/dev/null || die "munged does not answer on $SOCKET"

# --- slurm.conf: one node, this host, everything under $WORK -------------------------------
HOST="$(hostname)"
CTLD_PORT="$(free_port)"
SLURMD_PORT="$(free_port)"
while [ "$SLURMD_PORT" = "$CTLD_PORT" ]; do SLURMD_PORT="$(free_port)"; done
export SLURM_CONF="$WORK/slurm.conf"
cat > "$SLURM_CONF" <<CONF
ClusterName=lumentest
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$SOCKET
StateSaveLocation=$WORK/state
SlurmdSpoolDir=$WORK/spool
SlurmctldPidFile=$WORK/run/slurmctld.pid
SlurmdPidFile=$WORK/run/slurmd.pid
SlurmctldLogFile=$WORK/log/slurmctld.log
SlurmdLogFile=$WORK/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
ReturnToService=2
MailProg=/bin/true
MinJobAge=600
KillWait=5
SlurmctldDebug=info
SlurmdDebug=info
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF
env "$MARK" slurmctld -D -i -f "$SLURM_CONF" >"$WORK/log/slurmctld.out" 2>&1 &
PIDS+=($!)
env "$MARK" slurmd -D -N "$HOST" -f "$SLURM_CONF" >"$WORK/log/slurmd.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
  state="$(sinfo -h -n "$HOST" -o %T 2>/dev/null || true)"
  [ "$state" = "idle" ] && break
  sleep 0.2
done
[ "$state" = "idle" ] || die "the node did not come up idle (sinfo says '${state:-nothing}')"
log "Slurm up in $((SECONDS - T0)) s: $(sinfo -h -o '%P %a %D %T %N' | head -1), ports $CTLD_PORT/$SLURMD_PORT"

# Waits until none of the given jobs is pending or running (at most $2 seconds).
wait_jobs() {
  local jobs="$1" limit="$2" deadline=$((SECONDS + $2))
  while [ -n "$(squeue -h -j "$jobs" 2>/dev/null)" ]; do
    [ $SECONDS -lt $deadline ] || die "jobs $jobs still queued or running after $limit s: $(squeue -h -j "$jobs")"
    sleep 0.5
  done
}
job_state() { scontrol -o show job "$1" | grep -o 'JobState=[A-Z_]*' | head -1 | cut -d= -f2; }

# --- the single-process references (run beside the jobs; the CPUs are shared anyway) --------
CATALOG="$WORK/jobs/scenes.jsonl"
for f in "$IMAGES"/scene_*.png; do
  id="$(basename "$f" .png)"
  echo "{\"id\": \"$id\", \"image\": \"$f\"}"
done > "$CATALOG"
[ "$(wc -l < "$CATALOG")" -eq 500 ] || die "expected 500 scenes in $IMAGES"
(
  export LUMEN_SLURM_TEST_STATE="$WORK"  # $MARK, so cleanup finds these too if the test stops early
  t=$SECONDS
  "$LUMEN" caption "$IMAGES" -t 1 > "$WORK/jobs/ref-captions.txt" 2> "$WORK/log/ref-caption.err"
  "$LUMEN" index build "$CATALOG" -o "$WORK/jobs/ref.idx" -t 1 2> "$WORK/log/ref-index.err"
  echo "$((SECONDS - t))" > "$WORK/jobs/ref.seconds"
) &
REF_PID=$!

export LUMEN
unset LUMEN_ARGS LUMEN_MERGE_ARGS LUMEN_SBATCH_ARGS
CAP="$WORK/jobs/captions"

# --- 1. caption array, one task cancelled mid-shard, then submitted again --------------------
t=$SECONDS
read -r _ ARRAY1 _ MERGE1 < <(env "$MARK" bash "$ROOT/deploy/slurm/caption-array.sbatch" submit "$N" "$CAP" "$IMAGES")
if [ -z "${ARRAY1:-}" ] || [ -z "${MERGE1:-}" ]; then die "submitting failed"; fi
log "caption array $ARRAY1 + merge $MERGE1 submitted"
victim=""
deadline=$((SECONDS + 120))
while [ -z "$victim" ]; do
  [ $SECONDS -lt $deadline ] || die "no caption shard was seen mid-run within 120 s"
  for ((k = 0; k < N; k++)); do
    tmp="$CAP/shards/shard-$k-of-$N.txt.tmp"
    if [ -f "$tmp" ] && [ ! -f "$CAP/shards/shard-$k-of-$N.txt" ] && [ "$(wc -l < "$tmp" 2>/dev/null)" -ge 3 ] 2>/dev/null; then
      victim=$k
      break
    fi
  done
  [ -n "$victim" ] || sleep 0.05
done
scancel "${ARRAY1}_$victim"
log "cancelled task ${ARRAY1}_$victim with $(wc -l < "$CAP/shards/shard-$victim-of-$N.txt.tmp") of its 125 captions written"
wait_jobs "$ARRAY1,$MERGE1" 240
victim_tmp="$CAP/shards/shard-$victim-of-$N.txt.tmp"
[ "$(job_state "${ARRAY1}_$victim")" = CANCELLED ] || fail "task ${ARRAY1}_$victim is $(job_state "${ARRAY1}_$victim"), not CANCELLED"
[ ! -e "$CAP/shards/shard-$victim-of-$N.txt" ] || fail "the cancelled shard has a complete-looking shard-$victim-of-$N.txt"
if [ -f "$victim_tmp" ]; then
  partial=$(wc -l < "$victim_tmp")
  [ "$partial" -lt 125 ] || fail "the cancelled shard's .tmp has all $partial lines"
else
  fail "the cancelled shard left no $victim_tmp (was it cancelled mid-run?)"
fi
[ "$(job_state "$MERGE1")" = FAILED ] || fail "merge job $MERGE1 is $(job_state "$MERGE1") with a shard missing, not FAILED"
[ ! -e "$CAP/captions.txt" ] || fail "captions.txt was written with a shard missing"
grep -q "shards $victim of $N are not complete" "$CAP"/logs/caption-merge-"$MERGE1".out ||
  fail "the merge log does not name the missing shard: $(cat "$CAP"/logs/caption-merge-"$MERGE1".out)"
first_run=$((SECONDS - t))

t=$SECONDS
read -r _ ARRAY2 _ MERGE2 < <(env "$MARK" bash "$ROOT/deploy/slurm/caption-array.sbatch" submit "$N" "$CAP" "$IMAGES")
if [ -z "${ARRAY2:-}" ] || [ -z "${MERGE2:-}" ]; then die "submitting failed"; fi
log "submitted again: caption array $ARRAY2 + merge $MERGE2"
wait_jobs "$ARRAY2,$MERGE2" 240
[ "$(job_state "$MERGE2")" = COMPLETED ] || die "merge job $MERGE2 is $(job_state "$MERGE2"): $(cat "$CAP"/logs/caption-merge-"$MERGE2".out)"
skipped=0 redone=0
for ((k = 0; k < N; k++)); do
  out="$CAP/logs/caption-${ARRAY2}_$k.out"
  if grep -q "shard $k/$N is complete" "$out"; then
    skipped=$((skipped + 1))
  elif grep -q "shard $k/$N: images" "$out"; then
    redone=$((redone + 1))
    [ "$k" = "$victim" ] || fail "the second run redid shard $k, which had finished"
  else
    fail "task ${ARRAY2}_$k did neither: $(cat "$out")"
  fi
done
if [ "$skipped" -ne $((N - 1)) ] || [ "$redone" -ne 1 ]; then fail "second run: $skipped shards skipped, $redone redone (expected $((N - 1)) and 1)"; fi
[ -z "$(find "$CAP" -name '*.tmp')" ] || fail "temporary files left: $(find "$CAP" -name '*.tmp')"
second_run=$((SECONDS - t))

wait "$REF_PID" || die "the single-process reference failed: $(cat "$WORK"/log/ref-*.err)"
lines=$(wc -l < "$CAP/captions.txt")
unique=$(cut -f1 "$CAP/captions.txt" | sort -u | wc -l)
[ "$lines" -eq 500 ] || fail "captions.txt has $lines lines, expected 500"
[ "$unique" -eq 500 ] || fail "captions.txt has $unique distinct images in $lines lines (duplicates or gaps)"
if ! diff <(sort "$WORK/jobs/ref-captions.txt") <(sort "$CAP/captions.txt") > "$WORK/jobs/captions.diff"; then
  fail "merged captions differ from the single run ($(grep -c '^[<>]' "$WORK/jobs/captions.diff") lines): $(head -4 "$WORK/jobs/captions.diff")"
fi
cmp -s "$WORK/jobs/ref-captions.txt" "$CAP/captions.txt" || fail "merged captions are not in the single run's order"
log "captions: $lines lines, $unique distinct images, equal to the single run; first run ${first_run} s (task $victim cancelled), second ${second_run} s ($skipped shards skipped, $redone redone)"

# --- 2. index array, merged, against the single-process index --------------------------------
t=$SECONDS
IDX="$WORK/jobs/index"
read -r _ ARRAY3 _ MERGE3 < <(env "$MARK" bash "$ROOT/deploy/slurm/index-array.sbatch" submit "$N" "$IDX" "$CATALOG")
if [ -z "${ARRAY3:-}" ] || [ -z "${MERGE3:-}" ]; then die "submitting failed"; fi
log "index array $ARRAY3 + merge $MERGE3 submitted"
wait_jobs "$ARRAY3,$MERGE3" 240
[ "$(job_state "$MERGE3")" = COMPLETED ] || die "index merge job $MERGE3 is $(job_state "$MERGE3"): $(cat "$IDX"/logs/index-merge-*.out)"
items=$("$LUMEN" index info "$IDX/index" | grep -o '"items":[0-9]*' | cut -d: -f2)
[ "$items" = 500 ] || fail "the merged index has ${items:-no} items, expected 500"

# "id score" lines of a search result, best first.
hits() { "$LUMEN" search "$@" | grep -o '"id":"[^"]*"\|"score":[-0-9.e+]*' | paste -d' ' - - | sed 's/"id":"\([^"]*\)" "score":/\1 /'; }
queries=("a red circle" "a blue square" "a large green triangle" "a small yellow circle" "purple")
compared=0
for q in "${queries[@]}" IMAGE; do
  if [ "$q" = IMAGE ]; then args=(--image "$IMAGES/scene_0007.png"); else args=(--text "$q"); fi
  hits "$IDX/index" "${args[@]}" -k 10 -t 1 > "$WORK/jobs/merged.hits"
  hits "$WORK/jobs/ref.idx" "${args[@]}" -k 10 -t 1 > "$WORK/jobs/ref.hits"
  [ "$(wc -l < "$WORK/jobs/ref.hits")" -eq 10 ] || fail "query '$q': the reference returned $(wc -l < "$WORK/jobs/ref.hits") results"
  if ! awk 'NR == FNR { id[FNR] = $1; s[FNR] = $2; n = FNR; next }
            { if ($1 != id[FNR] || ($2 - s[FNR]) > 1e-6 || (s[FNR] - $2) > 1e-6) bad = 1; m = FNR }
            END { exit (bad || m != n) }' "$WORK/jobs/ref.hits" "$WORK/jobs/merged.hits"; then
    fail "query '$q': merged index gives $(tr '\n' ' ' < "$WORK/jobs/merged.hits"), single gives $(tr '\n' ' ' < "$WORK/jobs/ref.hits")"
  fi
  compared=$((compared + 1))
done
log "index: $items items merged from $N shards in $((SECONDS - t)) s; $compared queries give the same top 10 (ids, scores within 1e-6) as the single-process index"
log "single-process reference (captions + index) took $(cat "$WORK/jobs/ref.seconds") s; whole test $((SECONDS - T0)) s"

if [ "$failures" -gt 0 ]; then
  echo "slurm test: $failures check(s) failed" >&2
  exit 1
fi
log "PASS"
