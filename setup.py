"""Builds the `lumen` Python package: python/lumen, and the extension module lumen._lumen that
CMake compiles (target lumen_python, cmake/LumenPython.cmake) against the library.

    pip install --no-build-isolation .

configures a Release build of its own in build-python/cmake and builds only the module there.
With LUMEN_CMAKE_BUILD_DIR=DIR (a build directory already configured from this tree, such as
build/ after `make`), it builds the module in DIR instead, so nothing is compiled twice; the
directory must have been configured for this interpreter's version. LUMEN_BUILD_JOBS sets the
parallel jobs (default: one per core); LUMEN_CMAKE_ARGS adds options to the configure step of
its own build (for example "-DLUMEN_CUDA=OFF"). The bundled model (models/imp-shapes, 24 MB) is
installed with the package so lumen.Model() works from anywhere; LUMEN_PYTHON_BUNDLE_MODEL=0
leaves it out (lumen.Model() then finds it in this source tree).
"""

import os
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

ROOT = os.path.dirname(os.path.abspath(__file__))
REUSE_DIR = os.environ.get("LUMEN_CMAKE_BUILD_DIR", "")


def project_version():
    with open(os.path.join(ROOT, "CMakeLists.txt"), encoding="utf-8") as cmake:
        match = re.search(r"project\(lumen VERSION ([0-9.]+)", cmake.read())
    if not match:
        raise SystemExit("setup.py: no 'project(lumen VERSION ...)' in CMakeLists.txt")
    return match.group(1)


def absolute(path):
    return path if os.path.isabs(path) else os.path.join(ROOT, path)


# setuptools' own scratch (build/lib..., egg-info) must not land in CMake's build/.
BUILD_BASE = os.path.join(absolute(REUSE_DIR), "python-setuptools") if REUSE_DIR else os.path.join(ROOT, "build-python")


def run(command):
    print("setup.py: " + " ".join(command), flush=True)
    subprocess.check_call(command)


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    """Builds lumen._lumen with CMake and copies it where setuptools packs it."""

    def build_extension(self, ext):
        if shutil.which("cmake") is None:
            raise SystemExit("setup.py: cmake not found (Debian: apt-get install cmake; see scripts/install-deps.sh)")
        jobs = os.environ.get("LUMEN_BUILD_JOBS") or str(os.cpu_count() or 1)
        if REUSE_DIR:
            build_dir = absolute(REUSE_DIR)
            if not os.path.isfile(os.path.join(build_dir, "CMakeCache.txt")):
                raise SystemExit(f"setup.py: LUMEN_CMAKE_BUILD_DIR={REUSE_DIR} is not a configured CMake build "
                                 "directory (run `make` or `cmake -S . -B build` first, or unset it)")
        else:
            build_dir = os.path.join(BUILD_BASE, "cmake")
            run(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release", "-DLUMEN_BUILD_TESTS=OFF",
                 "-DLUMEN_PYTHON=ON", f"-DPython_EXECUTABLE={sys.executable}",
                 *shlex.split(os.environ.get("LUMEN_CMAKE_ARGS", ""))])
        run(["cmake", "--build", build_dir, "--target", "lumen_python", "-j", jobs])
        name = "_lumen" + sysconfig.get_config_var("EXT_SUFFIX")
        built = os.path.join(build_dir, "python", "lumen", name)
        if not os.path.isfile(built):
            found = sorted(os.listdir(os.path.dirname(built))) if os.path.isdir(os.path.dirname(built)) else []
            raise SystemExit(f"setup.py: {built} was not built. The build directory has {found or 'no module'}: "
                             f"it was configured for another Python than {sys.executable} "
                             f"({sys.version.split()[0]}), or without pybind11 (see its CMake output)")
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(built, target)


class BuildPyWithModel(build_py):
    """Also installs the bundled model as lumen/models/imp-shapes."""

    def run(self):
        super().run()
        if os.environ.get("LUMEN_PYTHON_BUNDLE_MODEL", "1") == "0":
            return
        source = os.path.join(ROOT, "models", "imp-shapes")
        target = os.path.join(self.build_lib, "lumen", "models", "imp-shapes")
        if os.path.isdir(target):
            shutil.rmtree(target)
        shutil.copytree(source, target)


os.makedirs(BUILD_BASE, exist_ok=True)
setup(
    version=project_version(),
    packages=["lumen"],
    package_dir={"": "python"},
    package_data={"lumen": ["py.typed", "*.pyi"]},
    ext_modules=[CMakeExtension("lumen._lumen")],
    cmdclass={"build_ext": CMakeBuild, "build_py": BuildPyWithModel},
    options={"build": {"build_base": BUILD_BASE}, "egg_info": {"egg_base": BUILD_BASE}},
    zip_safe=False,
)
