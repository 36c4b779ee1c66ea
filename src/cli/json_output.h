// JSON printing for CLI output: invalid UTF-8 in model text is replaced, never an exception.
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace lumen::cli {

inline std::string to_json_line(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

inline void print_json(const nlohmann::json& value) {
  std::string line = to_json_line(value);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
}

}  // namespace lumen::cli
