// Where the bundled model (models/imp-shapes) is when no directory is given: what
// Model::load(""), lumen_model_load(NULL) and the CLI without -m load.
//
// The libraries are static, so "relative to the installed library" means nothing at run time
// (its code is inside the program). An install may also be placed with
// `cmake --install BUILD --prefix DIR`, after compilation, so the configured prefix alone is
// not enough either. Hence, in order, the first that holds a model:
//   1. $LUMEN_MODEL_DIR (always, even if it does not exist: the load then says so);
//   2. PREFIX/share/lumen/models/imp-shapes beside the running program in PREFIX/bin: the
//      installed `lumen` CLI, and any program installed into the same prefix, wherever the
//      prefix was put or moved;
//   3. this source tree's models/imp-shapes (LUMEN_SOURCE_MODEL_DIR): in-tree builds, tests;
//   4. models/imp-shapes beside the program or one level up (a build directory copied with it);
//   5. the configured install location (LUMEN_INSTALL_MODEL_DIR, CMAKE_INSTALL_FULL_DATADIR):
//      a program anywhere on a machine where Lumen was installed where it was configured to go
//      once the source tree is gone;
// and "models/imp-shapes" (relative to the working directory) when none does.
// Both compile definitions are set on this file alone (CMakeLists.txt).
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <vector>

#include "lumen/api/model_impl.h"

namespace lumen::api {

namespace {

bool holds_model(const std::filesystem::path& dir) {
  std::error_code ec;
  return std::filesystem::is_regular_file(dir / "config.json", ec);
}

}  // namespace

std::string Model::default_dir() {
  if (const char* env = std::getenv("LUMEN_MODEL_DIR"); env != nullptr && *env != '\0') return env;
  std::vector<std::filesystem::path> candidates;
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::filesystem::path exe_dir = ec ? std::filesystem::path() : exe.parent_path();
  if (!exe_dir.empty()) candidates.push_back(exe_dir.parent_path() / "share" / "lumen" / "models" / "imp-shapes");
#ifdef LUMEN_SOURCE_MODEL_DIR
  candidates.emplace_back(LUMEN_SOURCE_MODEL_DIR);
#endif
  if (!exe_dir.empty()) {
    candidates.push_back(exe_dir / "models" / "imp-shapes");
    candidates.push_back(exe_dir.parent_path() / "models" / "imp-shapes");
  }
#ifdef LUMEN_INSTALL_MODEL_DIR
  candidates.emplace_back(LUMEN_INSTALL_MODEL_DIR);
#endif
  for (const auto& candidate : candidates) {
    if (holds_model(candidate)) return candidate.lexically_normal().string();
  }
  return "models/imp-shapes";
}

}  // namespace lumen::api
