// Typed reads from untrusted JSON (config.json and friends) with errors that name the key.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace lumen::json_util {

// Parses text; throws Error "<label>: invalid JSON: ..." on failure.
nlohmann::json parse(const std::string& text, const std::string& label);

// The first present, non-null key among `keys`, read as the requested type. Throws Error
// "<label>: '<key>' must be ..." when present with the wrong type or out of [min, max].
std::optional<int64_t> get_int(const nlohmann::json& obj, std::initializer_list<const char*> keys,
                               const std::string& label, int64_t min, int64_t max);
std::optional<double> get_number(const nlohmann::json& obj, std::initializer_list<const char*> keys,
                                 const std::string& label);
std::optional<std::string> get_string(const nlohmann::json& obj, std::initializer_list<const char*> keys,
                                      const std::string& label);

}  // namespace lumen::json_util
