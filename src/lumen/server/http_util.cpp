#include "lumen/server/http_util.h"

namespace lumen::server {

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, const ApiError& error) {
  send_json(res, error.status(), error.to_json());
  if (error.status() == 429 || error.status() == 503) res.set_header("Retry-After", "1");
}

httplib::Server::Handler api_handler(ServerContext& context, std::string endpoint, RouteHandler handler) {
  return [&context, endpoint = std::move(endpoint), handler = std::move(handler)](const httplib::Request& req,
                                                                                   httplib::Response& res) {
    try {
      handler(req, res);
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const Error& e) {
      send_error(res, to_api_error(e));
    } catch (const std::bad_alloc&) {
      send_error(res, ApiError(503, "out of memory; retry later", std::nullopt, "out_of_memory"));
    } catch (const std::exception& e) {
      send_error(res, ApiError(500, std::string("internal error: ") + e.what()));
    }
    if (res.status == -1) res.status = 200;  // a streamed response: httplib sends 200 when it starts
    if (res.status == 429 || res.status == 503) context.metrics.requests_rejected += 1;
    context.metrics.count_request(endpoint, res.status);
  };
}

}  // namespace lumen::server
