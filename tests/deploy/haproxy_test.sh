#!/usr/bin/env bash
# Replicas behind HAProxy (issue 18), on one machine: three hosts in network namespaces, each
# running one `lumen serve` on the bundled model, and HAProxy with deploy/haproxy/lumen.cfg in
# a fourth that joins them on a bridge. The addresses (10.77.18.0/24) exist only inside these
# namespaces; nothing is sent anywhere else. haproxy_driver.mjs (run in HAProxy's namespace)
# starts the replicas, sends the load through the official openai client, kills and drains
# replicas midway, and checks the answers; see there.
#
#   tests/deploy/haproxy_test.sh LUMEN_BIN     (as root; CTest runs it as deploy_haproxy)
#
# Exit 77 (CTest: skipped, with the reason printed) under the sanitizer build, or where
# network namespaces cannot be made (not root). Whatever happens, the EXIT trap kills every
# process in the namespaces and deletes them.
set -euo pipefail

if [ "${LUMEN_SKIP_SLOW_E2E:-}" = 1 ]; then
  echo "haproxy test: skipped under the sanitizer build (LUMEN_SKIP_SLOW_E2E=1): three servers and HAProxy under ASan say nothing the plain build does not"
  exit 77
fi
bin="$(realpath "$1")"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
for tool in ip haproxy node; do
  command -v "$tool" >/dev/null || { echo "haproxy test: '$tool' is missing: run scripts/install-deps.sh" >&2; exit 1; }
done
if [ "$(id -u)" -ne 0 ]; then
  echo "haproxy test: skipped: network namespaces (ip netns) need root"
  exit 77
fi

subnet=10.77.18
tag=$$
lb="lumen-lb-$tag"
hosts=("lumen-h1-$tag" "lumen-h2-$tag" "lumen-h3-$tag")
work="$(mktemp -d /tmp/lumen-haproxy-test.XXXXXX)"
created=()

# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
  local rc=$?
  trap - EXIT
  # Every process this test started lives in one of its namespaces (the driver, HAProxy, the
  # replicas): kill them by id, wait until they are gone, then delete the namespaces.
  local pids=() ns p
  for ns in "${created[@]}"; do
    while read -r p; do [ -n "$p" ] && pids+=("$p"); done < <(ip netns pids "$ns" 2>/dev/null || true)
  done
  if [ ${#pids[@]} -gt 0 ]; then
    kill -9 "${pids[@]}" 2>/dev/null || true
    for _ in $(seq 100); do
      local alive=0
      for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
      [ "$alive" = 0 ] && break
      sleep 0.1
    done
  fi
  for ns in "${created[@]}"; do ip netns del "$ns" 2>/dev/null || echo "haproxy test: could not delete namespace $ns" >&2; done
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
    if [ -n "${LUMEN_TEST_KEEP_LOGS:-}" ]; then mkdir -p "$LUMEN_TEST_KEEP_LOGS" && cp "$work"/*.log "$LUMEN_TEST_KEEP_LOGS"/; fi
    for f in "$work"/*.log; do
      [ -f "$f" ] || continue
      echo "--- $(basename "$f") (last 30 lines)"
      tail -n 30 "$f"
    done
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SECONDS=0
if ! ip netns add "$lb" 2>"$work/netns.err"; then
  echo "haproxy test: skipped: cannot create a network namespace here: $(cat "$work/netns.err")"
  exit 77
fi
created+=("$lb")
for ns in "${hosts[@]}"; do ip netns add "$ns"; created+=("$ns"); done

# The load balancer's namespace holds a bridge (10.77.18.1) with one veth port per host;
# host i is 10.77.18.1i. Both ends of each veth pair are created inside the namespaces.
ip -n "$lb" link set lo up
ip -n "$lb" link add br0 type bridge
ip -n "$lb" addr add "$subnet.1/24" dev br0
ip -n "$lb" link set br0 up
replicas=""
for i in 1 2 3; do
  ns="${hosts[$((i - 1))]}"
  ip -n "$ns" link set lo up
  ip link add eth0 netns "$ns" type veth peer name "port$i" netns "$lb"
  ip -n "$lb" link set "port$i" master br0 up
  ip -n "$ns" addr add "$subnet.1$i/24" dev eth0
  ip -n "$ns" link set eth0 up
  replicas+="${replicas:+,}lumen$i=$ns:$subnet.1$i"
done

# HAProxy runs deploy/haproxy/lumen.cfg from `defaults` on (routing, retries, timeouts and
# health checks as shipped) with the replicas' addresses put in, under a global section of
# the test's own: foreground, a stats socket in the work directory, logs to a file.
sed -E "s/^(\s*server\s+lumen([1-3])\s+)10\.0\.0\.1[1-3]:8080/\1$subnet.1\2:8080/" "$root/deploy/haproxy/lumen.cfg" |
  awk 'BEGIN { keep = 0 } /^defaults/ { keep = 1 } keep' >"$work/body.cfg"
rewritten=$(grep -cE "^\s*server\s+lumen[1-3]\s+$subnet\.1[1-3]:8080" "$work/body.cfg" || true)
if [ "$rewritten" -ne 6 ]; then
  echo "haproxy test: expected 6 server lines (3 replicas x 2 backends) in deploy/haproxy/lumen.cfg, rewrote $rewritten" >&2
  exit 1
fi
{
  echo "global"
  echo "    stats socket $work/haproxy.sock mode 600 level admin"
  echo "    log stdout format short local0"
  echo "    maxconn 4096"
  cat "$work/body.cfg"
} >"$work/haproxy.cfg"
haproxy -c -q -f "$work/haproxy.cfg"
ip netns exec "$lb" haproxy -db -f "$work/haproxy.cfg" >"$work/haproxy.log" 2>&1 &
disown  # the EXIT trap kills it; no job-control notice then
for _ in $(seq 100); do [ -S "$work/haproxy.sock" ] && break; sleep 0.05; done
[ -S "$work/haproxy.sock" ] || { echo "haproxy test: HAProxy did not start" >&2; exit 1; }

key="sk-lumen-test-$tag-$RANDOM$RANDOM"
# In the background so that a signal to this script interrupts the wait and runs the trap.
LUMEN_BIN="$bin" LUMEN_API_KEY="$key" LB_URL="http://$subnet.1:8080" HAPROXY_SOCKET="$work/haproxy.sock" \
  LOG_DIR="$work" REPLICAS="$replicas" \
  ip netns exec "$lb" timeout 170 node "$here/haproxy_driver.mjs" &
rc=0
wait $! || rc=$?
echo "haproxy test: ${SECONDS} s in all (namespaces, HAProxy, replicas, baseline, load)"
exit "$rc"
