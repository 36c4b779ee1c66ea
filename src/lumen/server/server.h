// lumen::server::Server: an OpenAI-compatible HTTP server around one loaded Engine.
//
//   Engine ──> BatchedImageEncoder (vision tower, batched) ──> ImageEmbeddingCache (LRU, bytes)
//          └─> BatchScheduler (continuous batching, PrefixKvCache) <── HTTP threads (routes)
//
// The image cache, the scheduler, its prefix cache and its sequence streams are the runtime's
// (src/lumen/runtime/); the server owns them, counts what they report and maps their errors
// (lumen::Error kinds) to HTTP statuses (api_error.h).
//
// HTTP threads parse and validate a request, resolve its images (cache, else decode and queue
// for the encoder), submit the sequence to the scheduler and relay its text, whole or as
// server-sent events. Endpoints are registered in groups (routes.h explains how to add one).
// Authentication is a pre-routing check: with an API key set every endpoint but /health,
// /ready and the web app's files needs "Authorization: Bearer KEY", compared in constant time.
// Without a key (loopback only), requests whose Host names another machine are refused.
//
// Shutting down behind a load balancer (drain): begin_drain() turns /ready to 503, closes the
// listening socket (new connections are refused, so the balancer retries them on another
// replica) and lets every request already accepted run to completion; wait_drained() tells
// when the last connection has closed. The library never exits or handles signals: `lumen
// serve` calls these on SIGTERM (src/cli/cmd_serve.cpp).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>

#include "lumen/runtime/engine.h"
#include "lumen/server/server_options.h"

namespace httplib {
class Server;
}

namespace lumen::server {

struct ServerContext;
class ServerMetrics;
class BatchedImageEncoder;

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
  // Serves until stop(), or until a drain has finished; call after bind().
  void run();
  // Stops accepting, fails queued and running sequences with 503, and returns run(). Safe
  // from any thread, more than once. After begin_drain() it only fails the sequences.
  void stop();

  // Graceful shutdown, step 1: /ready answers 503, the listening socket closes (new
  // connections are refused), responses carry "Connection: close". Requests already accepted,
  // streamed ones included, and ones that arrive on a connection that was open before, are
  // served as usual. Returns at once; safe from any thread, more than once.
  void begin_drain();
  // Step 2: waits up to `timeout` for run() to return, i.e. for every accepted request to be
  // answered and its connection closed (an idle keep-alive connection closes after httplib's
  // 5 s keep-alive timeout). True when it has, or when run() is not running.
  bool wait_drained(std::chrono::milliseconds timeout);
  // All three steps: begin_drain(), wait_drained(grace), then stop(), which fails whatever is
  // still running with 503 (each such response ends its connection, so run() then returns
  // unless a client ignores "Connection: close" and keeps sending). Returns whether everything
  // finished within `grace`.
  bool drain(std::chrono::milliseconds grace);
  bool draining() const { return draining_; }

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

  std::atomic<int> listen_fd_{-1};  // the listening socket bind() made (httplib closes it)
  std::atomic<bool> draining_{false};
  std::atomic<bool> listener_closed_{false};  // by stop() or begin_drain(), whichever came first
  std::mutex run_mutex_;
  std::condition_variable run_done_;
  bool running_ = false;  // run() is inside httplib's listen loop (guarded by run_mutex_)
  bool ran_ = false;      // run() got that far once (guarded by run_mutex_)
};

}  // namespace lumen::server
