// Helpers every route group uses: JSON responses, OpenAI-style errors, and a wrapper that
// turns any exception into the right error response and counts the request in /metrics.
#pragma once

#include <functional>
#include <string>

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "lumen/server/api_error.h"
#include "lumen/server/server_context.h"

namespace lumen::server {

void send_json(httplib::Response& res, int status, const nlohmann::json& body);
void send_error(httplib::Response& res, const ApiError& error);

using RouteHandler = std::function<void(const httplib::Request&, httplib::Response&)>;

// Runs `handler`; ApiError, lumen::Error, bad_alloc and any other exception become an
// OpenAI-style JSON error, and the request is counted under `endpoint` with its status.
httplib::Server::Handler api_handler(ServerContext& context, std::string endpoint, RouteHandler handler);

}  // namespace lumen::server
