#!/usr/bin/env bash
# The Python package's tests (issue 17), run by ctest (tests/CMakeLists.txt) the way the README
# installs the package: a virtual environment made by Debian's python3 with
# --system-site-packages (numpy, pytest, Pillow, setuptools, wheel and pybind11 come from Debian),
# then `pip install --no-build-isolation .` from the repository. LUMEN_CMAKE_BUILD_DIR points the
# build at BUILD_DIR, which CMake already configured, so only the extension module is built
# there (nothing of the library is compiled twice).
#
#   run_pytest.sh install BUILD_DIR PYTHON      fresh venv in BUILD_DIR/python-venv + pip install
#   run_pytest.sh test BUILD_DIR CLI [ARGS...]  pytest tests/python against the CLI binary
#   run_pytest.sh skip REASON                   prints why there is nothing to run; exit 77
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source_dir="$(cd "$here/../.." && pwd)"

case "${1:-}" in
  install)
    build_dir="$(cd "$2" && pwd)"
    python="$3"
    venv="$build_dir/python-venv"
    rm -rf "$venv"
    "$python" -m venv --system-site-packages "$venv"
    start=$(date +%s)
    # --no-index: every dependency must already be there (no package index is reachable).
    LUMEN_CMAKE_BUILD_DIR="$build_dir" LUMEN_BUILD_JOBS="${LUMEN_BUILD_JOBS:-2}" \
      "$venv/bin/python" -m pip install --no-build-isolation --no-index --disable-pip-version-check -q "$source_dir"
    echo "run_pytest.sh: installed lumen into $venv in $(( $(date +%s) - start )) s"
    "$venv/bin/python" -c 'import lumen; print("lumen", lumen.__version__, "from", lumen.__file__)'
    ;;
  test)
    build_dir="$(cd "$2" && pwd)"
    cli="$3"
    shift 3
    venv="$build_dir/python-venv"
    if [ ! -x "$venv/bin/python" ]; then
      echo "run_pytest.sh: no $venv; the python_install test makes it" >&2
      exit 1
    fi
    cd "$build_dir"
    # Byte code and pytest's cache stay in the build directory, out of the source tree.
    LUMEN_CLI="$cli" LUMEN_SOURCE_DIR="$source_dir" PYTHONPYCACHEPREFIX="$build_dir/python-pycache" \
      exec "$venv/bin/python" -m pytest -v -p no:cacheprovider --rootdir "$here" "$here" "$@"
    ;;
  skip)
    echo "skipped: $2"
    exit 77
    ;;
  *)
    echo "usage: run_pytest.sh install BUILD_DIR PYTHON | test BUILD_DIR CLI [ARGS...] | skip REASON" >&2
    exit 2
    ;;
esac
