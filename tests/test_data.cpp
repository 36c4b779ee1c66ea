#include "test_data.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>

namespace lumen::testing {

std::filesystem::path data_dir() { return LUMEN_TEST_DATA_DIR; }
std::filesystem::path fixtures_dir() { return data_dir() / "fixtures"; }
std::filesystem::path images_dir() { return data_dir() / "images"; }
std::filesystem::path bundled_model_dir() { return std::filesystem::path(LUMEN_SOURCE_DIR) / "models" / "imp-shapes"; }
std::filesystem::path cli_path() { return LUMEN_CLI_PATH; }

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read test file " + path.string());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

bool sanitizer_pass() {
  const char* value = std::getenv("LUMEN_SKIP_SLOW_E2E");
  return value != nullptr && std::string_view(value) == "1";
}

}  // namespace lumen::testing
