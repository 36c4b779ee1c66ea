#!/usr/bin/env bash
# Lumen as a library: `cmake --install` of a build directory into a temporary prefix, then
#   (a) tests/install/ask.c, a C89 program, built with `cc $(pkg-config --cflags --libs lumen)`,
#   (b) tests/install/ask.cpp, a C++ program, built by tests/install/consumer/CMakeLists.txt with
#       find_package(Lumen) and CMAKE_PREFIX_PATH=PREFIX,
#   (c) the installed `lumen` CLI,
# each answer "Describe the image." about examples/shapes.png with the default (bundled,
# installed) model, and each must print byte for byte what BUILD/lumen ask prints. Both
# programs are installed into PREFIX/bin, where a program finds PREFIX/share/lumen/models: the
# test checks that the default model directory they and the CLI use is under the prefix, that
# the installed package files name neither the source nor the build tree, and that the public
# headers include nothing but the standard library.
#
#   tests/install/install_test.sh BUILD_DIR LIBDIR SANITIZE    (CTest runs it as install_library)
#
# LIBDIR is CMAKE_INSTALL_LIBDIR (lib, or lib/x86_64-linux-gnu for /usr). Exit 77 (CTest:
# skipped, with the reason printed) under the sanitizer build (SANITIZE = 1): its libraries
# need the sanitizer runtimes in every program that links them.
set -euo pipefail

build="$(realpath "$1")"
libdir="$2"
if [ "${3:-0}" = 1 ] || [ "${LUMEN_SKIP_SLOW_E2E:-}" = 1 ]; then
  echo "install test: skipped under the sanitizer build: programs linking its libraries would need -fsanitize too (build/ runs this test)"
  exit 77
fi
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
for tool in cc c++ pkg-config cmake cmp diff; do
  command -v "$tool" >/dev/null || { echo "install test: '$tool' is missing: run scripts/install-deps.sh" >&2; exit 1; }
done
work="$(mktemp -d /tmp/lumen-install-test.XXXXXX)"
trap 'rm -rf "$work"' EXIT
prefix="$work/prefix"
image="$root/examples/shapes.png"
question="Describe the image."
unset LUMEN_MODEL_DIR
failures=0
fail() {
  echo "install test: FAILED: $*" >&2
  failures=$((failures + 1))
}
step() {
  echo "install test: $* ($SECONDS s)"
}

step "cmake --install $build --prefix $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log"

for file in bin/lumen include/lumen/lumen.h include/lumen/lumen.hpp "$libdir/liblumen_core.a" \
    "$libdir/liblumen_retrieval.a" "$libdir/liblumen_server.a" "$libdir/pkgconfig/lumen.pc" \
    "$libdir/cmake/Lumen/LumenConfig.cmake" "$libdir/cmake/Lumen/LumenConfigVersion.cmake" \
    "$libdir/cmake/Lumen/LumenTargets.cmake"; do
  [ -e "$prefix/$file" ] || fail "$file was not installed"
done
diff -r "$root/models/imp-shapes" "$prefix/share/lumen/models/imp-shapes" || fail "the installed model differs from models/imp-shapes"
# Relocatable package files: nothing in them points back at the trees they were made from.
if grep -rlF -e "$root" -e "$build" "$prefix/$libdir/pkgconfig" "$prefix/$libdir/cmake" "$prefix/include"; then
  fail "installed package files (above) name the source or build tree"
fi
# The public headers include only the standard library (lumen.hpp) or nothing (lumen.h).
if grep -hE '^\s*#\s*include' "$prefix/include/lumen/lumen.hpp" | grep -vE '^#include <[a-z_]+>$'; then
  fail "a public header includes something other than the standard library (above)"
fi
if grep -qE '^\s*#\s*include' "$prefix/include/lumen/lumen.h"; then fail "lumen.h includes a header"; fi
printf '#include <lumen/lumen.h>\nint main(void) { return 0; }\n' >"$work/c89.c"
cc -std=c89 -pedantic-errors -Wall -Wextra -Werror -I"$prefix/include" -c "$work/c89.c" -o "$work/c89.o" ||
  fail "lumen.h is not C89"

step "expected output: $build/lumen ask"
"$build/lumen" ask -i "$image" "$question" >"$work/expected.txt"
[ -s "$work/expected.txt" ] || fail "the build's CLI printed nothing"

# compare NAME FILE: FILE must equal expected.txt byte for byte.
compare() {
  if cmp -s "$work/expected.txt" "$2"; then
    echo "install test: $1 printed what lumen ask prints: $(cat "$2")"
  else
    fail "$1 printed something else than lumen ask:"
    diff "$work/expected.txt" "$2" >&2 || true
  fi
}
# model_dir NAME DIR: DIR must be the installed model.
model_dir() {
  if [ "$2" = "$prefix/share/lumen/models/imp-shapes" ]; then
    echo "install test: $1 uses the installed model ($2)"
  else
    fail "$1 uses the model in '$2', not the installed $prefix/share/lumen/models/imp-shapes"
  fi
}

step "(a) C program with pkg-config"
export PKG_CONFIG_PATH="$prefix/$libdir/pkgconfig"
pkg-config --exists --print-errors lumen || fail "pkg-config does not find lumen.pc"
echo "install test: pkg-config --cflags --libs lumen: $(pkg-config --cflags --libs lumen)"
# shellcheck disable=SC2046  # word splitting of pkg-config's flags is the point
cc -std=c89 -pedantic-errors -Wall -Wextra -Werror "$here/ask.c" -o "$prefix/bin/ask_c" $(pkg-config --cflags --libs lumen)
# shellcheck disable=SC2046
cc "$here/ask.c" -o "$work/ask_c_static_flags" $(pkg-config --cflags --libs --static lumen) ||
  fail "linking with pkg-config --libs --static lumen failed"
"$prefix/bin/ask_c" "$image" "$question" >"$work/c.txt" || fail "ask_c failed"
compare "the C program (lumen_ask)" "$work/c.txt"
model_dir "the C program (lumen_default_model_dir)" "$("$prefix/bin/ask_c" --model-dir)"
"$prefix/bin/ask_c" /nonexistent.png "$question" 2>"$work/c_error.txt" >/dev/null && fail "ask_c accepted a missing image"
grep -q 'nonexistent.png: no such file' "$work/c_error.txt" || fail "ask_c's error for a missing image: $(cat "$work/c_error.txt")"

step "(b) C++ program with find_package(Lumen)"
cmake -S "$here/consumer" -B "$work/consumer" -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_INSTALL_PREFIX="$prefix" >"$work/consumer_configure.log" || {
  cat "$work/consumer_configure.log" >&2
  fail "configuring the find_package(Lumen) consumer failed"
}
cmake --build "$work/consumer" -j 2 >"$work/consumer_build.log" || {
  cat "$work/consumer_build.log" >&2
  fail "building the find_package(Lumen) consumer failed"
}
cmake --install "$work/consumer" >/dev/null
"$prefix/bin/ask_cpp" "$image" "$question" >"$work/cpp.txt" || fail "ask_cpp failed"
compare "the C++ program (Model::stream, Model::ask)" "$work/cpp.txt"
model_dir "the C++ program (Model::default_dir)" "$("$prefix/bin/ask_cpp" --model-dir)"
"$prefix/bin/ask_cpp" --errors "$image" || fail "ask_cpp --errors: bad input did not throw lumen::api::Error as expected"

step "(c) the installed CLI"
"$prefix/bin/lumen" ask -i "$image" "$question" >"$work/cli.txt" || fail "the installed lumen failed"
compare "the installed lumen" "$work/cli.txt"
model_dir "the installed lumen (lumen info)" "$("$prefix/bin/lumen" info | sed -n 's/^model: *//p')"

if [ "$failures" -gt 0 ]; then
  echo "install test: $failures check(s) failed ($SECONDS s)" >&2
  exit 1
fi
step "passed"
