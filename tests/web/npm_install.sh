#!/usr/bin/env bash
# Installs playwright-core (pinned in package-lock.json) into tests/web/node_modules,
# git-ignored. CTest runs this once before the browser tests. playwright-core downloads no
# browser: the tests drive Debian's /usr/bin/chromium (scripts/install-deps.sh installs it).
set -euo pipefail
cd "$(dirname "$0")"
command -v npm >/dev/null || { echo "npm is missing: run scripts/install-deps.sh" >&2; exit 1; }
# playwright-core (package-lock.json) needs Node.js 20 or newer; Debian 12's own nodejs is 18.
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "npm_install: the browser tests need Node.js 20 or newer (playwright-core); this is $(node --version)" >&2
  exit 1
fi
if [ -f node_modules/playwright-core/package.json ] && cmp -s package-lock.json node_modules/.package-lock.json.installed; then
  echo "npm_install: playwright-core already installed"
  exit 0
fi
npm ci --no-audit --no-fund --loglevel=error
cp package-lock.json node_modules/.package-lock.json.installed
echo "npm_install: installed playwright-core $(node -p "require('./node_modules/playwright-core/package.json').version")"
