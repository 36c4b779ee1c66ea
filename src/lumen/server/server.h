// lumen::server::Server: an OpenAI-compatible HTTP server around one loaded Engine.
//
//   Engine ──> BatchedImageEncoder (vision tower, batched) ──> ImageEmbeddingCache (LRU, bytes)
//          └─> BatchScheduler (continuous batching, PrefixKvCache) <── HTTP threads (routes)
//
// HTTP threads parse and validate a request, resolve its images (cache, else decode and queue
// for the encoder), submit the sequence to the scheduler and relay its text, whole or as
// server-sent events. Endpoints are registered in groups (routes.h explains how to add one).
// Authentication is a pre-routing check: with an API key set every endpoint but /health needs
// "Authorization: Bearer KEY", compared in constant time.
#pragma once

#include <memory>

#include "lumen/runtime/engine.h"
#include "lumen/server/server_options.h"

namespace httplib {
class Server;
}

namespace lumen::server {

struct ServerContext;
class ServerMetrics;
class ImageEmbeddingCache;
class BatchedImageEncoder;
class BatchScheduler;

class Server {
 public:
  // Throws Error (kInvalidInput) when options are unsafe or inconsistent: a non-loopback host
  // without an API key (unless insecure_no_auth), an --allow-dir that is not a directory.
  Server(const Engine& engine, ServerOptions options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port and returns the port (the chosen one when options.port is 0). Throws
  // Error (kIo) if the address cannot be bound.
  int bind();
  // Serves until stop(); call after bind().
  void run();
  // Stops accepting, fails queued and running sequences with 503, and returns run(). Safe
  // from any thread, more than once.
  void stop();

  const ServerOptions& options() const { return options_; }
  ServerMetrics& metrics();
  const ImageEmbeddingCache& image_cache() const;
  const BatchScheduler& scheduler() const;

 private:
  const Engine& engine_;
  ServerOptions options_;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<ImageEmbeddingCache> image_cache_;
  std::unique_ptr<BatchedImageEncoder> image_encoder_;
  std::unique_ptr<BatchScheduler> scheduler_;
  std::unique_ptr<ServerContext> context_;
  std::unique_ptr<httplib::Server> http_;
};

}  // namespace lumen::server
