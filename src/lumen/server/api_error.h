// Errors as the OpenAI API reports them: an HTTP status and a JSON body
//   {"error": {"message": "...", "type": "invalid_request_error", "param": "messages", "code": null}}
// Route handlers throw ApiError (or let lumen::Error escape, which to_api_error maps by kind),
// and the server writes it; clients such as the official `openai` package read these fields.
#pragma once

#include <exception>
#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "lumen/core/error.h"

namespace lumen::server {

class ApiError : public std::runtime_error {
 public:
  // status 400 -> "invalid_request_error", 401 -> "authentication_error", 404 -> "not_found_error",
  // 413 -> "invalid_request_error", 429 -> "rate_limit_error", 5xx -> "server_error" unless
  // `type` is given.
  ApiError(int status, std::string message, std::optional<std::string> param = std::nullopt,
           std::optional<std::string> code = std::nullopt, std::string type = "");

  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::optional<std::string>& param() const { return param_; }
  const std::optional<std::string>& code() const { return code_; }

  nlohmann::json to_json() const;

 private:
  int status_;
  std::string type_;
  std::optional<std::string> param_, code_;
};

// The one place an ErrorKind becomes an HTTP status: 400 for invalid input, exceeded limits and
// missing files, 429 "server_busy" for kBusy, 503 for kUnavailable, 499 for kCancelled, 500
// for the rest.
ApiError to_api_error(const Error& error, std::optional<std::string> param = std::nullopt);
// The same for an exception carried from another thread (a failed SequenceStream): an ApiError
// as it is, an Error by its kind, any other exception 500 with its message.
ApiError to_api_error(const std::exception_ptr& error);

// Shorthands for the common 400.
[[noreturn]] void bad_request(const std::string& message, std::optional<std::string> param = std::nullopt,
                              std::optional<std::string> code = std::nullopt);

}  // namespace lumen::server
