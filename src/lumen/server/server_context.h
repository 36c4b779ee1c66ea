// What a route group's handlers share: the engine, the options and the serving machinery
// (metrics, image cache, image encoder, scheduler). Owned by Server; outlives every handler.
#pragma once

#include <atomic>
#include <ctime>
#include <string>

#include "lumen/runtime/engine.h"
#include "lumen/runtime/image_cache.h"
#include "lumen/runtime/scheduler.h"
#include "lumen/server/image_encoder.h"
#include "lumen/server/metrics.h"
#include "lumen/server/server_options.h"
#include "lumen/text/chat_template.h"

namespace lumen::server {

struct ServerContext {
  const Engine& engine;
  const ServerOptions& options;
  std::string model_id;
  std::time_t started = 0;  // unix time, the "created" of /v1/models
  ChatTemplate chat_template;
  ServerMetrics& metrics;
  ImageEmbeddingCache& image_cache;
  BatchedImageEncoder& image_encoder;
  BatchScheduler& scheduler;
  const std::atomic<bool>& draining;  // Server::begin_drain() was called: /ready answers 503
};

}  // namespace lumen::server
