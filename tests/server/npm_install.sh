#!/usr/bin/env bash
# Installs the Node test clients (the official `openai` package, pinned in package-lock.json)
# into tests/server/node_modules, git-ignored. CTest runs this once before the Node tests.
set -euo pipefail
cd "$(dirname "$0")"
command -v npm >/dev/null || { echo "npm is missing: run scripts/install-deps.sh" >&2; exit 1; }
if [ -f node_modules/openai/package.json ] && cmp -s package-lock.json node_modules/.package-lock.json.installed; then
  echo "npm_install: openai already installed"
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json node_modules/.package-lock.json.installed
echo "npm_install: installed openai $(node -p "require('./node_modules/openai/package.json').version")"
