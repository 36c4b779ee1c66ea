// Where the test suite finds its data: tests/data holds byte-for-byte copies of the shared
// fixtures, the bundled eval set and the test photographs, so a clone anywhere can run it.
#pragma once

#include <filesystem>
#include <string>

namespace lumen::testing {

std::filesystem::path data_dir();              // tests/data
std::filesystem::path fixtures_dir();          // tests/data/fixtures
std::filesystem::path images_dir();            // tests/data/images
std::filesystem::path bundled_model_dir();     // models/imp-shapes
std::filesystem::path cli_path();              // the built `lumen` binary
std::string read_file(const std::filesystem::path& path);

// The sanitizer pass of `make test` (LUMEN_SKIP_SLOW_E2E=1) runs the same suite ten times
// slower. End-to-end evaluations over the whole eval set then run on its first
// kSanitizerQuestions questions instead, and say so; the Release pass runs them in full.
bool sanitizer_pass();
constexpr int kSanitizerQuestions = 300;

}  // namespace lumen::testing
