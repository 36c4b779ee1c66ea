#!/usr/bin/env bash
# Installs everything Lumen needs to build and test, from Debian 12 packages only.
# Safe to run again: it skips apt when every package is already present.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  libjpeg62-turbo-dev libpng-dev nlohmann-json3-dev
  libgtest-dev
  libsentencepiece-dev libhnswlib-dev
  libicu-dev  # NFC for Qwen2's tokenizer (text/unicode_nfc.cpp)
  libcpp-httplib-dev curl  # lumen serve (HTTP server and image downloads), server tests
  chromium  # the web app's browser tests (tests/web, driven by playwright-core)
  slurm-wlm munge  # batch jobs on Slurm: deploy/slurm, tests/deploy/slurm_test.sh
  haproxy iproute2  # replicas behind HAProxy: deploy/haproxy, tests/deploy/haproxy_test.sh (ip netns)
  # the Python package (python/, setup.py) and its tests: Debian's python3 builds and runs it
  python3-dev python3-venv python3-setuptools python3-wheel pybind11-dev python3-pybind11
  python3-numpy python3-pytest python3-pil
  clang-14 libclang-rt-14-dev llvm-14  # sanitizer build, libFuzzer targets, symbolized reports
  # make test-arm64 (tests/arm64): Debian's aarch64 cross compiler, qemu-user to run its test
  # binary, and the arm64 libraries it links, from Debian's multiarch arm64 packages
  g++-aarch64-linux-gnu qemu-user-static
  libgtest-dev:arm64 libjpeg62-turbo-dev:arm64 libpng-dev:arm64
)

# Node.js and npm run the server's client tests (the official `openai` npm package); the
# machine image ships Node 20, a bare Debian gets its own.
command -v npm >/dev/null 2>&1 || PACKAGES+=(nodejs npm)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# The :arm64 packages need arm64 among dpkg's architectures (and apt's lists) first.
if [[ " ${missing[*]}" == *":arm64"* ]] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  $SUDO dpkg --add-architecture arm64
fi
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
