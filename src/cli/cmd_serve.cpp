// lumen serve: an OpenAI-compatible HTTP server (POST /v1/chat/completions, GET /v1/models,
// /health, /ready, /metrics) with continuous batching; see src/lumen/server/server.h.
//
// SIGTERM or SIGINT drains: /ready turns 503, the listening socket closes, the requests
// already accepted finish (for at most --drain-seconds, then they are failed with 503), and
// the process exits 0. A second signal during the drain stops at once.
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <cstdlib>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "lumen/server/server.h"

namespace lumen::cli {

namespace {
constexpr int64_t kMiB = int64_t{1} << 20;
}

int run_serve(int argc, char** argv) {
  ModelOptions model;
  server::ServerOptions options;
  int64_t port = 8080;
  std::vector<std::string> allow_dirs;
  int64_t max_body_mb = static_cast<int64_t>(options.max_body_bytes / kMiB);
  int64_t max_image_mb = static_cast<int64_t>(options.images.max_image_bytes / kMiB);
  int64_t max_images = static_cast<int64_t>(options.request_limits.max_images);
  int64_t max_sequences = options.scheduler.max_sequences;
  int64_t max_queue = options.scheduler.max_queued;
  int64_t prefill_chunk = options.scheduler.prefill_chunk;
  int64_t max_kv_mb = static_cast<int64_t>(options.scheduler.max_kv_bytes / kMiB);
  int64_t prefix_cache_mb = static_cast<int64_t>(options.scheduler.prefix_cache_bytes / kMiB);
  int64_t image_cache_mb = static_cast<int64_t>(options.image_cache_bytes / kMiB);
  int64_t max_image_batch = options.max_image_batch;
  int64_t http_threads = 0;
  int64_t ready_max_queue = options.ready_max_queue;
  int64_t drain_seconds = 30;

  ArgParser parser("serve", "lumen serve [-m DIR] [--host 127.0.0.1] [--port 8080] [options]",
                   "Serve the model over HTTP with OpenAI's chat-completions API. Requests are decoded together\n"
                   "(continuous batching); images are cached by content. SIGTERM or Ctrl-C drains: no new\n"
                   "connections, the requests already accepted finish, then it exits (a second signal: at once).");
  model.add_to(parser);
  parser.option("--host", "", "ADDR", "address to listen on (default 127.0.0.1)", &options.host);
  parser.option("--port", "-p", "N", "port (default 8080; 0 picks a free one, printed at start)", &port, 0, 65535);
  parser.option("--api-key", "", "KEY",
                "require 'Authorization: Bearer KEY' (default: $LUMEN_API_KEY; none on loopback)", &options.api_key);
  parser.flag("--insecure-no-auth", "", "allow a non-loopback --host without an API key", &options.insecure_no_auth);
  parser.option("--model-name", "", "NAME", "model id in /v1/models and responses (default: the directory name)",
                &options.model_id);
  parser.repeated("--allow-dir", "", "DIR", "allow image_url file paths under DIR; repeatable (default: none)",
                  &allow_dirs);
  parser.flag("--allow-remote-images", "", "allow http(s) image URLs (off by default)", &options.images.allow_remote);
  parser.option("--max-body-mb", "", "N", "largest request body, MiB (default 64)", &max_body_mb, 1, 4096);
  parser.option("--max-image-mb", "", "N", "largest image file, MiB (default 20)", &max_image_mb, 1, 1024);
  parser.option("--max-images", "", "N", "most images in one request (default 8)", &max_images, 0, 1024);
  parser.option("--max-prompt-tokens", "", "N", "longest prompt, image tokens included (default: the context)",
                &options.max_prompt_tokens, 1, int64_t{1} << 30);
  parser.option("--max-sequences", "", "N", "sequences decoded together (default 32)", &max_sequences, 1, 4096);
  parser.option("--max-queue", "", "N", "requests waiting for a slot before 429 (default 64)", &max_queue, 0, 65536);
  parser.option("--prefill-chunk", "", "N", "prompt positions prefilled between decode steps (default 512)",
                &prefill_chunk, 1, int64_t{1} << 20);
  parser.option("--max-kv-mb", "", "N", "KV-cache memory of running sequences, MiB (default 4096)", &max_kv_mb, 1,
                int64_t{1} << 24);
  parser.option("--prefix-cache-mb", "", "N", "KV caches kept for follow-up turns, MiB (default 64)",
                &prefix_cache_mb, 0, int64_t{1} << 24);
  parser.option("--image-cache-mb", "", "N", "image embeddings kept, MiB, in the device's memory (default 128)", &image_cache_mb, 0,
                int64_t{1} << 24);
  parser.option("--max-image-batch", "", "N", "images per vision-tower call (default 8)", &max_image_batch, 1, 1024);
  parser.option("--http-threads", "", "N", "HTTP worker threads (default: max-sequences + max-queue + 16)",
                &http_threads, 0, 65536);
  parser.option("--ready-max-queue", "", "N", "GET /ready answers 503 while more than N requests wait (default 32)",
                &ready_max_queue, 0, 65536);
  parser.option("--drain-seconds", "", "N",
                "on SIGTERM, time the accepted requests get to finish before they are failed (default 30)",
                &drain_seconds, 0, 86400);
  parser.option("--index", "", "DIR", "a catalog index (lumen index build) for /v1/search and /v1/recommend",
                &options.retrieval_index);
  if (!parser.parse(argc, argv)) return 0;

  if (options.api_key.empty()) {
    if (const char* env = std::getenv("LUMEN_API_KEY"); env != nullptr) options.api_key = env;
  }
  options.port = static_cast<int>(port);
  for (const auto& dir : allow_dirs) options.images.allow_dirs.emplace_back(dir);
  options.max_body_bytes = static_cast<uint64_t>(max_body_mb * kMiB);
  options.images.max_image_bytes = static_cast<uint64_t>(max_image_mb * kMiB);
  options.request_limits.max_images = static_cast<size_t>(max_images);
  options.scheduler.max_sequences = static_cast<int>(max_sequences);
  options.scheduler.max_queued = static_cast<int>(max_queue);
  options.scheduler.prefill_chunk = prefill_chunk;
  options.scheduler.max_kv_bytes = static_cast<uint64_t>(max_kv_mb * kMiB);
  options.scheduler.prefix_cache_bytes = static_cast<uint64_t>(prefix_cache_mb * kMiB);
  options.image_cache_bytes = static_cast<uint64_t>(image_cache_mb * kMiB);
  options.max_image_batch = static_cast<int>(max_image_batch);
  options.http_threads = static_cast<int>(http_threads);
  options.ready_max_queue = static_cast<int>(ready_max_queue);

  // SIGINT/SIGTERM are taken by a dedicated thread (sigwait) that drains the server (see the
  // top of this file); blocked here, before any thread starts, so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);  // a client that hangs up must not kill the server

  auto engine = model.load();
  server::Server server(*engine, options);
  const int bound = server.bind();
  std::printf("lumen serve: listening on http://%s:%d (model %s)\n", options.host.c_str(), bound,
              model.resolved_dir().c_str());
  std::fflush(stdout);

  std::atomic<bool> run_returned{false};
  std::thread signal_thread([&server, &run_returned, signals, drain_seconds] {
    int received = 0;
    sigwait(&signals, &received);
    if (run_returned) {  // the wake-up below: nothing left to drain
      server.stop();
      return;
    }
    const auto started = std::chrono::steady_clock::now();
    const auto deadline = started + std::chrono::seconds(drain_seconds);
    std::fprintf(stderr, "lumen serve: %s: draining, %zu sequences running, %zu queued (up to %lld s)\n",
                 strsignal(received), server.scheduler().running(), server.scheduler().queued(),
                 static_cast<long long>(drain_seconds));
    server.begin_drain();
    bool drained = false;
    bool forced = false;
    while (!(drained = server.wait_drained(std::chrono::milliseconds(0)))) {
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) break;
      const auto wait = std::min<std::chrono::steady_clock::duration>(left, std::chrono::milliseconds(100));
      const timespec ts{0, static_cast<long>(std::chrono::duration_cast<std::chrono::nanoseconds>(wait).count())};
      if (sigtimedwait(&signals, nullptr, &ts) > 0) {
        forced = true;
        break;
      }
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (drained) {
      std::fprintf(stderr, "lumen serve: drained in %.2f s\n", seconds);
    } else {
      std::fprintf(stderr, "lumen serve: %s after %.2f s: failing %zu running and %zu queued sequences with 503\n",
                   forced ? "second signal" : "drain time is up", seconds, server.scheduler().running(),
                   server.scheduler().queued());
    }
    server.stop();
    // Each of those 503s ends its connection; a client that ignores "Connection: close" and
    // keeps sending could hold run() open, so give up on it after a while.
    if (!drained && !server.wait_drained(std::chrono::seconds(10))) {
      std::fprintf(stderr, "lumen serve: connections still open 10 s after the drain; exiting\n");
      std::_Exit(1);
    }
  });
  server.run();
  // run() returns when a drain has finished, or if the listening socket fails; then wake the
  // signal thread if it is still waiting for a first signal.
  run_returned = true;
  if (!server.draining()) kill(getpid(), SIGTERM);
  signal_thread.join();
  std::fprintf(stderr, "lumen serve: stopped\n");
  return 0;
}

}  // namespace lumen::cli
