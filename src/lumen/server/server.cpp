#include "lumen/server/server.h"

#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "lumen/core/content_hash.h"
#include "lumen/server/http_util.h"
#include "lumen/server/routes.h"
#include "lumen/server/web_assets.h"

namespace lumen::server {

namespace {

// Every endpoint group, registered in this order (see routes.h).
constexpr RouteGroup kRouteGroups[] = {
    register_info_routes,
    register_chat_routes,
    register_retrieval_routes,
    register_web_routes,
};

// Default error bodies for the statuses httplib produces itself (no route, body too large,
// unreadable request), so every error a client sees has the OpenAI shape.
ApiError default_error(int status) {
  switch (status) {
    case 404: return ApiError(404, "no such endpoint", std::nullopt, "unknown_url");
    case 405: return ApiError(405, "method not allowed", std::nullopt, "method_not_allowed", "invalid_request_error");
    case 413: return ApiError(413, "the request body is too large", std::nullopt, "request_too_large");
    case 414: return ApiError(414, "the request URI is too long", std::nullopt, "uri_too_long");
    default: return ApiError(status, "the request could not be processed (HTTP " + std::to_string(status) + ")");
  }
}

std::string model_id_for(const Engine& engine, const ServerOptions& options) {
  if (!options.model_id.empty()) return options.model_id;
  std::string name = std::filesystem::weakly_canonical(engine.dir()).filename().string();
  return name.empty() ? "lumen" : name;
}

}  // namespace

std::string host_name_of(const std::string& host_header) {
  // "[::1]:8080" -> "[::1]", "localhost:8080" -> "localhost", "127.0.0.1" -> "127.0.0.1".
  if (!host_header.empty() && host_header.front() == '[') {
    const size_t close = host_header.find(']');
    return close == std::string::npos ? host_header : host_header.substr(0, close + 1);
  }
  return host_header.substr(0, host_header.find(':'));
}

bool is_loopback_host(const std::string& host) {
  if (host == "localhost" || host == "::1" || host == "[::1]") return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return false;
}

Server::Server(const Engine& engine, ServerOptions options) : engine_(engine), options_(std::move(options)) {
  if (options_.api_key.empty() && !options_.insecure_no_auth && !is_loopback_host(options_.host)) {
    fail("refusing to serve on ", options_.host,
         " without an API key: anyone who can reach it could use the model. Give --api-key KEY (or set "
         "LUMEN_API_KEY), bind 127.0.0.1, or pass --insecure-no-auth");
  }
  for (auto& dir : options_.images.allow_dirs) {
    std::error_code ec;
    auto canonical = std::filesystem::canonical(dir, ec);
    if (ec || !std::filesystem::is_directory(canonical)) fail("--allow-dir ", dir.string(), " is not a directory");
    dir = canonical;
  }
  if (options_.scheduler.max_sequences < 1) fail("max_sequences must be at least 1");
  if (options_.scheduler.max_queued < 0) fail("max_queued must be at least 0");

  metrics_ = std::make_unique<ServerMetrics>();
  image_cache_ = std::make_unique<ImageEmbeddingCache>(options_.image_cache_bytes);
  image_encoder_ = std::make_unique<BatchedImageEncoder>(engine_, *image_cache_, *metrics_, options_.max_image_batch,
                                                         options_.max_pending_images);
  scheduler_ = std::make_unique<BatchScheduler>(engine_, options_.scheduler, *metrics_);
  context_ = std::unique_ptr<ServerContext>(new ServerContext{engine_, options_, model_id_for(engine_, options_),
                                                              std::time(nullptr), engine_.chat_template(),
                                                              *metrics_, *image_cache_, *image_encoder_, *scheduler_,
                                                              draining_});

  http_ = std::make_unique<httplib::Server>();
  // One thread per connection being served: every running and queued sequence can hold one,
  // with headroom so a request beyond the queue still gets its 429 instead of waiting.
  const size_t threads = options_.http_threads > 0
                             ? static_cast<size_t>(options_.http_threads)
                             : static_cast<size_t>(options_.scheduler.max_sequences + options_.scheduler.max_queued + 16);
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_->set_payload_max_length(options_.max_body_bytes);
  // httplib's own options for the listening socket, and its descriptor kept for begin_drain().
  http_->set_socket_options([this](socket_t sock) {
    httplib::default_socket_options(sock);
    listen_fd_ = sock;
  });
  http_->set_keep_alive_max_count(1000);
  http_->set_read_timeout(30, 0);
  http_->set_write_timeout(30, 0);

  ServerContext& context = *context_;
  // Without a key the server is bound to a loopback address (the constructor refuses anything
  // else unless --insecure-no-auth), and only this machine can connect. A web page elsewhere
  // could still reach it through the user's browser by pointing its own name at 127.0.0.1
  // (DNS rebinding): such requests carry that name in Host, so only loopback names pass.
  const bool loopback_names_only = options_.api_key.empty() && is_loopback_host(options_.host);
  http_->set_pre_routing_handler([&context, loopback_names_only](const httplib::Request& req, httplib::Response& res) {
    if (loopback_names_only && req.has_header("Host") && !is_loopback_host(host_name_of(req.get_header_value("Host")))) {
      send_error(res, ApiError(403,
                               "the Host header names '" + req.get_header_value("Host") +
                                   "', not this machine: a server without --api-key answers only loopback names",
                               std::nullopt, "forbidden_host"));
      context.metrics.count_request(req.path, 403);
      return httplib::Server::HandlerResponse::Handled;
    }
    if (context.options.api_key.empty() || req.path == "/health" || req.path == "/ready" ||
        is_web_asset_request(req.method, req.path)) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    const std::string header = req.get_header_value("Authorization");
    const std::string prefix = "Bearer ";
    const bool ok = header.size() > prefix.size() && header.compare(0, prefix.size(), prefix) == 0 &&
                    constant_time_equal(std::string_view(header).substr(prefix.size()), context.options.api_key);
    if (ok) return httplib::Server::HandlerResponse::Unhandled;
    send_error(res, ApiError(401,
                             header.empty() ? "missing API key: send 'Authorization: Bearer KEY'" : "invalid API key",
                             std::nullopt, "invalid_api_key"));
    context.metrics.count_request(req.path, 401);
    return httplib::Server::HandlerResponse::Handled;
  });
  http_->set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty() || res.is_chunked_content_provider_) return httplib::Server::HandlerResponse::Unhandled;
        send_error(res, default_error(res.status));
        return httplib::Server::HandlerResponse::Handled;
      }));
  // While draining, tell each client to close its connection after this response, so the
  // balancer opens its next one to a replica that still accepts.
  http_->set_post_routing_handler([this](const httplib::Request&, httplib::Response& res) {
    if (draining_ && !res.has_header("Connection")) res.set_header("Connection", "close");
  });
  http_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    send_error(res, ApiError(500, "internal error"));
  });
  for (RouteGroup group : kRouteGroups) group(*http_, context);
}

Server::~Server() {
  stop();
  // A socket bound but never served: httplib closes it only from its listen loop.
  if (!ran_ && listen_fd_ >= 0) ::close(listen_fd_);
  // The HTTP threads are joined by http_'s listen loop ending; then the machinery goes.
  http_.reset();
  scheduler_.reset();
  image_encoder_.reset();
}

int Server::bind() {
  int port = options_.port;
  if (port == 0) {
    port = http_->bind_to_any_port(options_.host);
  } else if (!http_->bind_to_port(options_.host, port)) {
    port = -1;
  }
  if (port <= 0) {
    listen_fd_ = -1;  // httplib has closed it
    fail_kind(ErrorKind::kIo, "cannot listen on ", options_.host, ":", options_.port,
              " (address in use, or not an address of this machine)");
  }
  return port;
}

void Server::run() {
  {
    std::lock_guard<std::mutex> lock(run_mutex_);
    if (listener_closed_) return;  // stopped or drained before it ran
    running_ = true;
    ran_ = true;
  }
  // Returns once the listening socket is closed and every connection's thread has finished.
  http_->listen_after_bind();
  {
    std::lock_guard<std::mutex> lock(run_mutex_);
    running_ = false;
    listen_fd_ = -1;  // httplib closed it when its loop ended: the number may be reused now
  }
  run_done_.notify_all();
}

void Server::stop() {
  if (scheduler_) scheduler_->stop();
  if (!http_ || listener_closed_.exchange(true)) return;
  // httplib's stop() does nothing until its listen loop has started: a run() that has just
  // begun gets there within moments. (A run() not yet begun sees listener_closed_ and returns.)
  for (;;) {
    {
      std::lock_guard<std::mutex> lock(run_mutex_);
      if (!running_) break;
    }
    if (http_->is_running()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  http_->stop();
}

void Server::begin_drain() {
  draining_ = true;
  if (listener_closed_.exchange(true)) return;
  // Not httplib's stop(): that also cuts short every chunked (SSE) response being written and
  // every keep-alive connection. Shutting the listening socket down refuses new connections
  // (the kernel resets them, and those still in its backlog) and makes the blocked accept()
  // fail, which ends httplib's listen loop; httplib closes the socket itself. Connections
  // already accepted go on: each ends after the response that carries "Connection: close",
  // or when idle past the keep-alive timeout. (So stop() must not call httplib's stop() after
  // this: the socket's descriptor number is no longer ours.)
  std::lock_guard<std::mutex> lock(run_mutex_);  // run() forgets the descriptor under it
  if (const int fd = listen_fd_; fd >= 0 && running_) ::shutdown(fd, SHUT_RDWR);
}

bool Server::wait_drained(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(run_mutex_);
  return run_done_.wait_for(lock, timeout, [this] { return !running_; });
}

bool Server::drain(std::chrono::milliseconds grace) {
  begin_drain();
  const bool finished = wait_drained(grace);
  stop();
  return finished;
}

ServerMetrics& Server::metrics() { return *metrics_; }
const ImageEmbeddingCache& Server::image_cache() const { return *image_cache_; }
const BatchScheduler& Server::scheduler() const { return *scheduler_; }

}  // namespace lumen::server
