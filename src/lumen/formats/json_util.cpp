#include "lumen/formats/json_util.h"

#include "lumen/core/error.h"

namespace lumen::json_util {

nlohmann::json parse(const std::string& text, const std::string& label) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail(label, ": invalid JSON: ", e.what());
  }
}

namespace {
const nlohmann::json* first_present(const nlohmann::json& obj, std::initializer_list<const char*> keys,
                                    const char** found) {
  if (!obj.is_object()) return nullptr;
  for (const char* key : keys) {
    auto it = obj.find(key);
    if (it != obj.end() && !it->is_null()) {
      *found = key;
      return &*it;
    }
  }
  return nullptr;
}
}  // namespace

std::optional<int64_t> get_int(const nlohmann::json& obj, std::initializer_list<const char*> keys,
                               const std::string& label, int64_t min, int64_t max) {
  const char* key = nullptr;
  const nlohmann::json* value = first_present(obj, keys, &key);
  if (value == nullptr) return std::nullopt;
  int64_t result;
  // Unsigned first: nlohmann's is_number_integer() is also true for values above INT64_MAX,
  // which get<int64_t>() would turn negative (2^64 - 1 was reported as "-1").
  if (value->is_number_unsigned()) {
    uint64_t u = value->get<uint64_t>();
    if (u > static_cast<uint64_t>(max)) fail(label, ": '", key, "' = ", u, " is out of range [", min, ", ", max, "]");
    result = static_cast<int64_t>(u);
  } else if (value->is_number_integer()) {
    result = value->get<int64_t>();
  } else {
    fail(label, ": '", key, "' must be an integer");
  }
  if (result < min || result > max) fail(label, ": '", key, "' = ", result, " is out of range [", min, ", ", max, "]");
  return result;
}

std::optional<double> get_number(const nlohmann::json& obj, std::initializer_list<const char*> keys,
                                 const std::string& label) {
  const char* key = nullptr;
  const nlohmann::json* value = first_present(obj, keys, &key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_number()) fail(label, ": '", key, "' must be a number");
  return value->get<double>();
}

std::optional<std::string> get_string(const nlohmann::json& obj, std::initializer_list<const char*> keys,
                                      const std::string& label) {
  const char* key = nullptr;
  const nlohmann::json* value = first_present(obj, keys, &key);
  if (value == nullptr) return std::nullopt;
  if (!value->is_string()) fail(label, ": '", key, "' must be a string");
  return value->get<std::string>();
}

}  // namespace lumen::json_util
