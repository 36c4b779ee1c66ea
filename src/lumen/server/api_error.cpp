#include "lumen/server/api_error.h"

namespace lumen::server {

namespace {
std::string default_type(int status) {
  switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 429: return "rate_limit_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
  }
}
}  // namespace

ApiError::ApiError(int status, std::string message, std::optional<std::string> param, std::optional<std::string> code,
                   std::string type)
    : std::runtime_error(std::move(message)),
      status_(status),
      type_(type.empty() ? default_type(status) : std::move(type)),
      param_(std::move(param)),
      code_(std::move(code)) {}

nlohmann::json ApiError::to_json() const {
  nlohmann::json error = {{"message", what()}, {"type", type_}, {"param", nullptr}, {"code", nullptr}};
  if (param_) error["param"] = *param_;
  if (code_) error["code"] = *code_;
  return {{"error", error}};
}

ApiError to_api_error(const Error& error, std::optional<std::string> param) {
  switch (error.kind()) {
    case ErrorKind::kInvalidInput: return ApiError(400, error.what(), std::move(param), "invalid_value");
    case ErrorKind::kLimitExceeded: return ApiError(400, error.what(), std::move(param), "limit_exceeded");
    case ErrorKind::kNotFound: return ApiError(400, error.what(), std::move(param), "not_found");
    case ErrorKind::kIo: return ApiError(500, error.what(), std::move(param), "io_error");
    case ErrorKind::kBusy: return ApiError(429, error.what(), std::move(param), "server_busy");
    case ErrorKind::kUnavailable: return ApiError(503, error.what(), std::move(param));
    case ErrorKind::kCancelled: return ApiError(499, error.what(), std::move(param));
    case ErrorKind::kInternal: break;
  }
  return ApiError(500, error.what(), std::move(param), "internal_error");
}

ApiError to_api_error(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const ApiError& e) {
    return e;
  } catch (const Error& e) {
    return to_api_error(e);
  } catch (const std::exception& e) {
    return ApiError(500, e.what());
  } catch (...) {
    return ApiError(500, "internal error");
  }
}

void bad_request(const std::string& message, std::optional<std::string> param, std::optional<std::string> code) {
  throw ApiError(400, message, std::move(param), std::move(code));
}

}  // namespace lumen::server
