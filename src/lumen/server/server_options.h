// Everything `lumen serve` can be configured with, and its defaults. The CLI fills this from
// flags (src/cli/cmd_serve.cpp); tests build it directly.
#pragma once

#include <cstdint>
#include <string>

#include "lumen/runtime/scheduler.h"
#include "lumen/server/chat_request.h"
#include "lumen/server/image_source.h"

namespace lumen::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                // 0: any free port (Server::bind returns it)
  std::string api_key;            // empty: no authentication (only allowed on loopback)
  bool insecure_no_auth = false;  // allow a non-loopback address without an API key
  std::string model_id;           // the name /v1/models lists; default: the model directory's name

  uint64_t max_body_bytes = 64ull << 20;  // a request body over this gets 413 before it is read
  ImageSourcePolicy images;               // --allow-dir, --allow-remote-images, image byte limit
  ChatRequestLimits request_limits;       // images per request, stop strings, JSON depth
  int64_t max_prompt_tokens = 0;          // prompt positions (images included); 0: the context

  SchedulerOptions scheduler;               // running/queued sequences, prefill chunk, KV budgets
  uint64_t image_cache_bytes = 128ull << 20;  // image embeddings held (LRU)
  int max_image_batch = 8;                  // images per vision-tower call
  size_t max_pending_images = 64;           // images waiting for the encoder; more -> 429

  int http_threads = 0;  // 0: every running and queued sequence plus headroom

  // GET /ready answers 503 while more than this many sequences wait for a decode slot, so a
  // load balancer sends new work elsewhere before this replica starts answering 429.
  int ready_max_queue = 32;

  std::string retrieval_index;  // --index DIR: the catalog index /v1/search and /v1/recommend use
};

// True for addresses only this machine can reach: localhost, 127.0.0.0/8, ::1.
bool is_loopback_host(const std::string& host);
// The host name of an HTTP Host header, without its port ("[::1]:8080" -> "[::1]").
std::string host_name_of(const std::string& host_header);

}  // namespace lumen::server
