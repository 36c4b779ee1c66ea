// An in-process `lumen serve` on a free loopback port for HTTP-level tests, plus helpers to
// build requests and read responses. Header-only so it needs no CMake change.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "lumen/runtime/engine.h"
#include "lumen/server/base64.h"
#include "lumen/server/server.h"
#include "test_data.h"

namespace lumen::testing {

// The bundled model, loaded once for every server test.
inline const Engine& shapes_engine() {
  static std::unique_ptr<Engine> engine = Engine::load(bundled_model_dir());
  return *engine;
}

class TestServer {
 public:
  explicit TestServer(server::ServerOptions options = {}, const Engine& engine = shapes_engine())
      : server_(engine, with_free_port(std::move(options))) {
    port_ = server_.bind();
    thread_ = std::thread([this] { server_.run(); });
    // run() listens asynchronously: wait until it answers.
    for (int i = 0; i < 500; ++i) {
      if (auto r = client().Get("/health"); r && r->status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ADD_FAILURE() << "the test server did not start";
  }
  ~TestServer() {
    server_.stop();
    thread_.join();
  }

  int port() const { return port_; }
  server::Server& server() { return server_; }
  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(120, 0);
    return c;
  }

  // POST /v1/chat/completions with a JSON body.
  httplib::Result chat(const nlohmann::json& body) const { return client().Post("/v1/chat/completions", body.dump(), "application/json"); }

  // A Prometheus sample's value, -1 if absent.
  double metric(const std::string& name) const {
    auto r = client().Get("/metrics");
    if (!r) return -1;
    std::smatch m;
    if (!std::regex_search(r->body, m, std::regex("(^|\n)" + name + " ([^\n]+)\n"))) return -1;
    return std::stod(m[2].str());
  }

 private:
  static server::ServerOptions with_free_port(server::ServerOptions options) {
    options.port = 0;
    return options;
  }
  server::Server server_;
  int port_ = 0;
  std::thread thread_;
};

inline std::string data_url(const std::filesystem::path& path) {
  const std::string bytes = read_file(path);
  const char* mime = path.extension() == ".jpg" ? "image/jpeg" : "image/png";
  return std::string("data:") + mime + ";base64," +
         server::encode_base64(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

inline nlohmann::json image_part(const std::string& url) {
  return {{"type", "image_url"}, {"image_url", {{"url", url}}}};
}

// {"model", "messages": [{"role": "user", "content": [images..., text]}]} plus `extra` fields.
inline nlohmann::json user_request(const std::string& text, const std::vector<std::string>& image_urls = {},
                                   const nlohmann::json& extra = nlohmann::json::object()) {
  nlohmann::json content = nlohmann::json::array();
  for (const auto& url : image_urls) content.push_back(image_part(url));
  content.push_back({{"type", "text"}, {"text", text}});
  nlohmann::json body = {{"model", "imp-shapes"}, {"messages", {{{"role", "user"}, {"content", content}}}}};
  body.update(extra);
  return body;
}

// The eval set's first question of `type` with its recorded greedy answer.
struct EvalQuestion {
  std::filesystem::path image;
  std::string question, reference_output;
};
inline std::vector<EvalQuestion> eval_questions(size_t limit) {
  std::vector<EvalQuestion> out;
  std::istringstream lines(read_file(data_dir() / "eval" / "shapes" / "questions.jsonl"));
  std::string line;
  while (out.size() < limit && std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    out.push_back({data_dir() / "eval" / "shapes" / j["image"].get<std::string>(), j["question"], j["reference_output"]});
  }
  return out;
}

// The "data: ..." payloads of a server-sent-events body, in order.
inline std::vector<std::string> sse_data(const std::string& body) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < body.size()) {
    size_t end = body.find("\n\n", start);
    if (end == std::string::npos) {
      ADD_FAILURE() << "unterminated event: " << body.substr(start);
      break;
    }
    std::string event = body.substr(start, end - start);
    EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
    out.push_back(event.substr(6));
    start = end + 2;
  }
  return out;
}

}  // namespace lumen::testing
