// GET /v1/models (and /v1/models/{id}), /health, /ready, /metrics.
//
// /health is liveness: 200 while the process serves at all. /ready is readiness, what a load
// balancer's health check asks: 200 when this replica should get new work, 503 while it is
// draining (Server::begin_drain) or more than --ready-max-queue sequences wait for a slot.
// The port only opens once the model is loaded, so a replica still loading refuses the
// connection, which a balancer counts as not ready too.
#include <algorithm>
#include <optional>

#include "lumen/server/http_util.h"
#include "lumen/server/routes.h"

namespace lumen::server {

namespace {

nlohmann::json model_json(const ServerContext& ctx) {
  return {{"id", ctx.model_id}, {"object", "model"}, {"created", ctx.started}, {"owned_by", "lumen"}};
}

// Why this replica should get no new work, or nullopt when it should.
std::optional<ApiError> not_ready(const ServerContext& ctx) {
  if (ctx.draining) {
    return ApiError(503, "draining: finishing the requests already accepted, then stopping", std::nullopt,
                    "draining");
  }
  const size_t queued = ctx.scheduler.queued();
  if (queued > static_cast<size_t>(std::max(0, ctx.options.ready_max_queue))) {
    return ApiError(503,
                    std::to_string(queued) + " sequences wait for a decode slot (over --ready-max-queue " +
                        std::to_string(ctx.options.ready_max_queue) + ")",
                    std::nullopt, "queue_over_ready_limit");
  }
  return std::nullopt;
}

std::vector<Gauge> gauges(const ServerContext& ctx) {
  const auto& prefix = ctx.scheduler.prefix_cache();
  return {
      {"lumen_ready", "1 while GET /ready answers 200 (not draining, queue within --ready-max-queue).",
       not_ready(ctx) ? 0.0 : 1.0},
      {"lumen_draining", "1 once a drain (SIGTERM) has begun.", ctx.draining ? 1.0 : 0.0},
      {"lumen_queue_depth", "Sequences waiting for a slot in the decode batch.",
       static_cast<double>(ctx.scheduler.queued())},
      {"lumen_running_sequences", "Sequences being prefilled or decoded.", static_cast<double>(ctx.scheduler.running())},
      {"lumen_running_kv_cache_bytes", "KV-cache bytes reserved by running sequences.",
       static_cast<double>(ctx.scheduler.running_kv_bytes())},
      {"lumen_image_encode_queue_depth", "Images waiting for the vision tower.",
       static_cast<double>(ctx.image_encoder.pending())},
      {"lumen_image_cache_entries", "Images held in the embedding cache.", static_cast<double>(ctx.image_cache.entries())},
      {"lumen_image_cache_bytes", "Bytes held by the image embedding cache.", static_cast<double>(ctx.image_cache.bytes())},
      {"lumen_image_cache_capacity_bytes", "The image embedding cache's byte budget.",
       static_cast<double>(ctx.image_cache.max_bytes())},
      {"lumen_prefix_cache_entries", "Finished sequences' KV caches held for follow-up turns.",
       static_cast<double>(prefix.entries())},
      {"lumen_prefix_cache_bytes", "Bytes held by those KV caches.", static_cast<double>(prefix.bytes())},
  };
}

}  // namespace

void register_info_routes(httplib::Server& http, ServerContext& context) {
  http.Get("/v1/models", api_handler(context, "/v1/models", [&context](const httplib::Request&, httplib::Response& res) {
             send_json(res, 200, {{"object", "list"}, {"data", nlohmann::json::array({model_json(context)})}});
           }));
  http.Get(R"(/v1/models/(.+))",
           api_handler(context, "/v1/models/{id}", [&context](const httplib::Request& req, httplib::Response& res) {
             if (req.matches[1].str() != context.model_id) {
               throw ApiError(404, "the model '" + req.matches[1].str() + "' does not exist", "model",
                              "model_not_found");
             }
             send_json(res, 200, model_json(context));
           }));
  http.Get("/health", api_handler(context, "/health", [&context](const httplib::Request&, httplib::Response& res) {
             send_json(res, 200,
                       {{"status", "ok"},
                        {"model", context.model_id},
                        {"running_sequences", context.scheduler.running()},
                        {"queued_sequences", context.scheduler.queued()},
                        {"ready", !not_ready(context).has_value()},
                        {"draining", context.draining.load()}});
           }));
  // Not through api_handler: a 503 here is an answer, not a rejected request.
  http.Get("/ready", [&context](const httplib::Request&, httplib::Response& res) {
    if (auto reason = not_ready(context)) {
      send_error(res, *reason);
    } else {
      send_json(res, 200, {{"status", "ready"}, {"model", context.model_id}});
    }
    context.metrics.count_request("/ready", res.status);
  });
  http.Get("/metrics", api_handler(context, "/metrics", [&context](const httplib::Request&, httplib::Response& res) {
             res.status = 200;
             res.set_content(context.metrics.render(gauges(context)), "text/plain; version=0.0.4; charset=utf-8");
           }));
}

}  // namespace lumen::server
