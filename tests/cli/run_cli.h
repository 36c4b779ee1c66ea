// Runs the built `lumen` binary in a child process and captures its output, for end-to-end
// CLI tests.
#pragma once

#include <string>
#include <vector>

namespace lumen::testing {

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// args are passed verbatim (no shell); `stdin_text` is fed to the child's standard input.
CliResult run_cli(const std::vector<std::string>& args, const std::string& stdin_text = "");

// Number of lines in text (a final line without '\n' counts).
size_t count_lines(const std::string& text);

}  // namespace lumen::testing
