#!/usr/bin/env bash
# Runs a browser test or script against a built `lumen` binary: run_node.sh LUMEN_BIN FILE [ARGS...]
# (CTest passes the binary; npm_install.sh has installed playwright-core).
set -euo pipefail
bin="$(realpath "$1")"
file="$2"
shift 2
cd "$(dirname "$0")"
export LUMEN_BIN="$bin"
case "$file" in
  *_test.mjs) exec node --test-reporter=spec "$file" "$@" ;;
  *) exec node "$file" "$@" ;;
esac
