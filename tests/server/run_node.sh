#!/usr/bin/env bash
# Runs one Node test file against a built `lumen` binary: run_node.sh LUMEN_BIN FILE [ARGS...]
# (CTest passes the binary; npm_install.sh has installed the openai package).
set -euo pipefail
bin="$(realpath "$1")"
file="$2"
shift 2
cd "$(dirname "$0")"
export LUMEN_BIN="$bin"
case "$file" in
  *.test.mjs) exec node --test --test-reporter=spec "$file" "$@" ;;
  *) exec node "$file" "$@" ;;
esac
