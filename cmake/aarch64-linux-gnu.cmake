# Cross-compiling for 64-bit Arm Linux on a Debian x86-64 host: Debian's cross compiler
# (g++-aarch64-linux-gnu) and arm64 libraries from multiarch packages (libfoo-dev:arm64,
# under /usr/lib/aarch64-linux-gnu). scripts/install-deps.sh installs both; tests/arm64 uses
# this file (make test-arm64).
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
# Makes find_package/find_library look in /usr/lib/aarch64-linux-gnu (and its cmake/) and
# never in the host's /usr/lib/x86_64-linux-gnu.
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
# Arch-independent packages (nlohmann_json's headers and CMake config in /usr/share) stay
# visible; programs run on the host.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
# Test binaries run under qemu-user (qemu-user-static), e.g. for try_run or gtest discovery.
find_program(LUMEN_QEMU_AARCH64 NAMES qemu-aarch64-static qemu-aarch64)
if(LUMEN_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${LUMEN_QEMU_AARCH64})
endif()
