#include "lumen/server/chat_request.h"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "lumen/server/api_error.h"

namespace lumen::server {

using nlohmann::json;

namespace {

const char* type_name(const json& value) {
  switch (value.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::array: return "an array";
    case json::value_t::object: return "an object";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "an integer";
    case json::value_t::number_float: return "a number";
    default: return "an unsupported value";
  }
}

[[noreturn]] void wrong_type(const std::string& param, const char* expected, const json& value) {
  bad_request("'" + param + "' must be " + expected + ", got " + type_name(value), param, "invalid_type");
}

// The field if present and not null.
const json* field(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

std::string string_field(const json& value, const std::string& param) {
  if (!value.is_string()) wrong_type(param, "a string", value);
  return value.get<std::string>();
}

double number_field(const json& value, const std::string& param, double min, double max) {
  if (!value.is_number()) wrong_type(param, "a number", value);
  const double v = value.get<double>();
  if (!std::isfinite(v) || v < min || v > max) {
    bad_request("'" + param + "' must be between " + json(min).dump() + " and " + json(max).dump() + ", got " +
                    value.dump(),
                param, "invalid_value");
  }
  return v;
}

int64_t integer_field(const json& value, const std::string& param, int64_t min, int64_t max) {
  if (!value.is_number_integer() && !value.is_number_unsigned()) wrong_type(param, "an integer", value);
  if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(max)) {
    bad_request("'" + param + "' must be at most " + std::to_string(max), param, "invalid_value");
  }
  const int64_t v = value.get<int64_t>();
  if (v < min || v > max) {
    bad_request("'" + param + "' must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
                    std::to_string(v),
                param, "invalid_value");
  }
  return v;
}

bool bool_field(const json& value, const std::string& param) {
  if (!value.is_boolean()) wrong_type(param, "a boolean", value);
  return value.get<bool>();
}

// A message's text and images. Text parts are joined with newlines.
void read_content(const json& content, const std::string& param, bool images_allowed, std::string& text,
                  std::vector<ChatImage>& images) {
  if (content.is_string()) {
    text = content.get<std::string>();
    return;
  }
  if (!content.is_array()) wrong_type(param, "a string or an array of content parts", content);
  for (size_t i = 0; i < content.size(); ++i) {
    const json& part = content[i];
    const std::string part_param = param + "[" + std::to_string(i) + "]";
    if (!part.is_object()) wrong_type(part_param, "an object", part);
    const json* type = field(part, "type");
    if (type == nullptr) bad_request("'" + part_param + ".type' is required", part_param + ".type", "missing_field");
    const std::string kind = string_field(*type, part_param + ".type");
    if (kind == "text") {
      const json* value = field(part, "text");
      if (value == nullptr) bad_request("'" + part_param + ".text' is required", part_param + ".text", "missing_field");
      if (!text.empty()) text += "\n";
      text += string_field(*value, part_param + ".text");
    } else if (kind == "image_url") {
      if (!images_allowed) {
        bad_request("'" + part_param + "': only user messages can contain images", part_param, "invalid_value");
      }
      const json* image = field(part, "image_url");
      if (image == nullptr) {
        bad_request("'" + part_param + ".image_url' is required", part_param + ".image_url", "missing_field");
      }
      std::string url;
      if (image->is_string()) {
        url = image->get<std::string>();
      } else if (image->is_object()) {
        const json* u = field(*image, "url");
        if (u == nullptr) {
          bad_request("'" + part_param + ".image_url.url' is required", part_param + ".image_url.url", "missing_field");
        }
        url = string_field(*u, part_param + ".image_url.url");
      } else {
        wrong_type(part_param + ".image_url", "an object with a url", *image);
      }
      images.push_back({std::move(url), part_param + ".image_url"});
    } else {
      bad_request("'" + part_param + ".type' \"" + kind + "\" is not supported (use \"text\" or \"image_url\")",
                  part_param + ".type", "invalid_value");
    }
  }
}

// Fields that would silently change the answer if ignored.
void refuse_unsupported(const json& body) {
  for (const char* name : {"tools", "functions"}) {
    const json* value = field(body, name);
    if (value != nullptr && !(value->is_array() && value->empty())) {
      bad_request(std::string("'") + name + "' is not supported by this server", name, "unsupported_parameter");
    }
  }
  if (const json* v = field(body, "logprobs"); v != nullptr && !(v->is_boolean() && !v->get<bool>())) {
    bad_request("'logprobs' is not supported by this server", "logprobs", "unsupported_parameter");
  }
  for (const char* name : {"presence_penalty", "frequency_penalty"}) {
    if (const json* v = field(body, name)) {
      if (number_field(*v, name, -2.0, 2.0) != 0.0) {
        bad_request(std::string("'") + name + "' is not supported by this server (use repetition_penalty)", name,
                    "unsupported_parameter");
      }
    }
  }
  if (const json* v = field(body, "response_format")) {
    if (!v->is_object()) wrong_type("response_format", "an object", *v);
    const json* type = field(*v, "type");
    if (type == nullptr || string_field(*type, "response_format.type") != "text") {
      bad_request("only response_format {\"type\": \"text\"} is supported", "response_format",
                  "unsupported_parameter");
    }
  }
}

}  // namespace

ChatRequest parse_chat_request(std::string_view body, const ChatRequestLimits& limits) {
  // A depth limit keeps hostile nesting from costing more than its bytes.
  json::parser_callback_t depth_check = [&](int depth, json::parse_event_t, json&) {
    if (static_cast<size_t>(depth) > limits.max_json_depth) {
      throw ApiError(400, "the request body is nested more than " + std::to_string(limits.max_json_depth) +
                              " levels deep",
                     std::nullopt, "invalid_json");
    }
    return true;
  };
  json root;
  try {
    root = json::parse(body, depth_check, /*allow_exceptions=*/true);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for a number past double
    throw ApiError(400, std::string("the request body is not valid JSON: ") + e.what(), std::nullopt,
                   "invalid_json");
  }
  if (!root.is_object()) bad_request("the request body must be a JSON object", std::nullopt, "invalid_json");

  ChatRequest request;
  const json* model = field(root, "model");
  if (model == nullptr) bad_request("'model' is required", "model", "missing_field");
  request.model = string_field(*model, "model");

  const json* messages = field(root, "messages");
  if (messages == nullptr) bad_request("'messages' is required", "messages", "missing_field");
  if (!messages->is_array()) wrong_type("messages", "an array", *messages);
  if (messages->empty()) bad_request("'messages' must contain at least one message", "messages", "invalid_value");
  for (size_t i = 0; i < messages->size(); ++i) {
    const json& message = (*messages)[i];
    const std::string param = "messages[" + std::to_string(i) + "]";
    if (!message.is_object()) wrong_type(param, "an object", message);
    const json* role_value = field(message, "role");
    if (role_value == nullptr) bad_request("'" + param + ".role' is required", param + ".role", "missing_field");
    const std::string role = string_field(*role_value, param + ".role");
    const json* content = field(message, "content");
    if (content == nullptr) bad_request("'" + param + ".content' is required", param + ".content", "missing_field");
    std::string text;
    std::vector<ChatImage> images;
    if (role == "system" || role == "developer") {
      if (!request.turns.empty()) {
        bad_request("'" + param + "': system messages must come before the conversation", param + ".role",
                    "invalid_value");
      }
      read_content(*content, param + ".content", false, text, images);
      request.system = request.system ? *request.system + "\n" + text : text;
    } else if (role == "user" || role == "assistant") {
      const bool user = role == "user";
      read_content(*content, param + ".content", user, text, images);
      const bool expect_user = request.turns.size() % 2 == 0;
      if (user != expect_user) {
        bad_request("'" + param + "': messages must alternate user, assistant, user, ... after any system message",
                    param + ".role", "invalid_value");
      }
      ChatTurn turn;
      turn.role = user ? ChatTurn::Role::kUser : ChatTurn::Role::kAssistant;
      turn.text = std::move(text);
      turn.images = static_cast<int>(images.size());
      request.turns.push_back(std::move(turn));
      for (auto& image : images) request.images.push_back(std::move(image));
      if (request.images.size() > limits.max_images) {
        bad_request("too many images: at most " + std::to_string(limits.max_images) + " per request", param,
                    "too_many_images");
      }
    } else {
      bad_request("'" + param + ".role' \"" + role + "\" is not supported (use system, user or assistant)",
                  param + ".role", "invalid_value");
    }
  }
  if (request.turns.empty() || request.turns.back().role != ChatTurn::Role::kUser) {
    bad_request("the last message must be the user's", "messages", "invalid_value");
  }

  refuse_unsupported(root);
  for (const char* name : {"max_tokens", "max_completion_tokens"}) {
    if (const json* v = field(root, name)) request.max_tokens = integer_field(*v, name, 1, 1 << 30);
  }
  if (const json* v = field(root, "n"); v != nullptr && integer_field(*v, "n", 1, 128) != 1) {
    bad_request("only n = 1 is supported", "n", "unsupported_parameter");
  }
  if (const json* v = field(root, "temperature")) request.sampling.temperature = static_cast<float>(number_field(*v, "temperature", 0, 2));
  if (const json* v = field(root, "top_p")) {
    request.sampling.top_p = static_cast<float>(number_field(*v, "top_p", 0, 1));
    if (request.sampling.top_p <= 0.0f) bad_request("'top_p' must be greater than 0", "top_p", "invalid_value");
  }
  if (const json* v = field(root, "seed")) {
    request.sampling.seed = static_cast<uint64_t>(
        integer_field(*v, "seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max()));
  }
  if (const json* v = field(root, "top_k")) request.sampling.top_k = static_cast<int32_t>(integer_field(*v, "top_k", 0, 1 << 30));
  if (const json* v = field(root, "repetition_penalty")) {
    request.sampling.repetition_penalty = static_cast<float>(number_field(*v, "repetition_penalty", 0.01, 100));
  }
  if (const json* v = field(root, "ignore_eos")) request.ignore_eos = bool_field(*v, "ignore_eos");
  if (const json* v = field(root, "lumen_alpha")) {
    try {
      request.alpha = parse_alpha_mode(string_field(*v, "lumen_alpha"), "lumen_alpha");
    } catch (const Error&) {
      bad_request("'lumen_alpha' must be \"drop\" or \"white\"", "lumen_alpha", "invalid_value");
    }
  }
  if (const json* v = field(root, "stop")) {
    if (v->is_string()) {
      request.stop.push_back(v->get<std::string>());
    } else if (v->is_array()) {
      for (size_t i = 0; i < v->size(); ++i) request.stop.push_back(string_field((*v)[i], "stop[" + std::to_string(i) + "]"));
    } else {
      wrong_type("stop", "a string or an array of strings", *v);
    }
    if (request.stop.size() > limits.max_stop_strings) {
      bad_request("'stop' may hold at most " + std::to_string(limits.max_stop_strings) + " strings", "stop",
                  "invalid_value");
    }
    for (const auto& s : request.stop) {
      if (s.empty()) bad_request("'stop' strings must not be empty", "stop", "invalid_value");
    }
  }
  if (const json* v = field(root, "stream")) request.stream = bool_field(*v, "stream");
  if (const json* v = field(root, "stream_options")) {
    if (!v->is_object()) wrong_type("stream_options", "an object", *v);
    if (!request.stream) bad_request("'stream_options' is only allowed with stream: true", "stream_options", "invalid_value");
    if (const json* u = field(*v, "include_usage")) request.include_usage = bool_field(*u, "stream_options.include_usage");
  }
  return request;
}

}  // namespace lumen::server
