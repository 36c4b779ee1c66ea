// Readiness and graceful shutdown (in process): GET /ready answers 200 when a load balancer
// should send work here and 503 while the queue is over --ready-max-queue or the server
// drains; a drain refuses new connections, answers the requests already accepted in full,
// and fails what is left with 503 once its grace period is over.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>

#include "lumen/runtime/scheduler.h"
#include "test_server.h"

namespace lumen::testing {
namespace {

using nlohmann::json;

template <typename F>
bool eventually(F done, double seconds = 20) {
  for (int i = 0; i < seconds * 100; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// GET /ready's status and, for a 503, the error code.
std::pair<int, std::string> readiness(httplib::Client& c) {
  auto r = c.Get("/ready");
  if (!r) return {-1, httplib::to_string(r.error())};
  if (r->status == 200) {
    EXPECT_EQ(json::parse(r->body)["status"], "ready");
    return {200, ""};
  }
  return {r->status, json::parse(r->body)["error"]["code"].get<std::string>()};
}

// A generation long enough to still be running while the test acts (greedy, so its text is
// known from a run alone).
json long_request(int max_tokens = 300) {
  return user_request("Count the shapes", {}, {{"max_tokens", max_tokens}, {"ignore_eos", true}, {"temperature", 0}});
}

// Opens a streamed generation on a raw socket and returns once its first content chunk has
// arrived, so it holds a decode slot until the socket is closed.
int open_stream(int port, int max_tokens = 460) {
  const std::string body =
      user_request("Count", {}, {{"max_tokens", max_tokens}, {"ignore_eos", true}, {"temperature", 1.0}, {"stream", true}})
          .dump();
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  const std::string request = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  EXPECT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  // The role chunk comes first, maybe before the sequence is scheduled; then the first token.
  std::string received;
  char buffer[4096];
  auto events = [&] {
    size_t n = 0;
    for (size_t at = received.find("data: "); at != std::string::npos; at = received.find("data: ", at + 1)) ++n;
    return n;
  };
  while (events() < 2) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) {
      ADD_FAILURE() << "the stream ended early: " << received;
      break;
    }
    received.append(buffer, static_cast<size_t>(n));
  }
  return fd;
}

TEST(ServerReady, ReadyWhileServingAndNotWhileTheQueueIsOverTheLimit) {
  server::ServerOptions options;
  options.scheduler.max_sequences = 1;
  options.ready_max_queue = 0;  // any waiting sequence makes the replica not ready
  TestServer server(options);
  auto c = server.client();
  EXPECT_EQ(readiness(c), std::make_pair(200, std::string()));
  EXPECT_EQ(server.metric("lumen_ready"), 1);
  auto health = json::parse(c.Get("/health")->body);
  EXPECT_EQ(health["ready"], true);
  EXPECT_EQ(health["draining"], false);

  // One stream holds the only decode slot; a second request has to wait in the queue.
  const int stream = open_stream(server.port());
  ASSERT_EQ(server.server().scheduler().running(), 1u);
  auto queued = std::async(std::launch::async, [&] { return server.chat(user_request("hi", {}, {{"max_tokens", 2}})); });
  ASSERT_TRUE(eventually([&] { return server.server().scheduler().queued() == 1; }));
  EXPECT_EQ(readiness(c), std::make_pair(503, std::string("queue_over_ready_limit")));
  EXPECT_EQ(server.metric("lumen_ready"), 0);
  EXPECT_EQ(json::parse(c.Get("/health")->body)["ready"], false);  // /health itself stays 200

  close(stream);  // the slot frees at the next step, and the queued request runs
  auto r = queued.get();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(eventually([&] { return readiness(c).first == 200; }));
  // A 503 from /ready is an answer, not a rejected request.
  EXPECT_EQ(server.metric("lumen_requests_rejected_total"), 0);
}

TEST(ServerReady, NeedsNoApiKey) {
  server::ServerOptions options;
  options.api_key = "sk-ready";
  TestServer server(options);
  auto c = server.client();
  EXPECT_EQ(readiness(c), std::make_pair(200, std::string()));
  EXPECT_EQ(c.Get("/v1/models")->status, 401);
}

TEST(ServerDrain, AcceptedRequestsFinishAndNewConnectionsAreRefused) {
  TestServer server;
  const std::string expected = json::parse(server.chat(long_request())->body)["choices"][0]["message"]["content"];

  auto open = server.client();  // a keep-alive connection opened before the drain
  open.set_keep_alive(true);
  EXPECT_EQ(readiness(open), std::make_pair(200, std::string()));

  // (The scheduler counts a finished sequence as running until its next step.)
  ASSERT_TRUE(eventually([&] { return server.server().scheduler().running() == 0; }));
  auto in_flight = std::async(std::launch::async, [&] { return server.chat(long_request()); });
  ASSERT_TRUE(eventually([&] { return server.server().scheduler().running() == 1; }));
  server.server().begin_drain();
  EXPECT_TRUE(server.server().draining());

  // The connection that was already open is still served: not ready, and told to close.
  auto r = open.Get("/ready");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "draining");
  EXPECT_EQ(r->get_header_value("Connection"), "close");
  // A new connection is refused: the listening socket is closed.
  auto fresh = server.client();
  fresh.set_connection_timeout(2, 0);
  auto refused = fresh.Get("/health");
  EXPECT_FALSE(refused);

  // The accepted request is answered in full, with the text it gets undisturbed.
  auto answered = in_flight.get();
  ASSERT_TRUE(answered) << httplib::to_string(answered.error());
  EXPECT_EQ(answered->status, 200) << answered->body;
  EXPECT_EQ(json::parse(answered->body)["choices"][0]["message"]["content"], expected);
  EXPECT_TRUE(server.server().wait_drained(std::chrono::seconds(30)));
}

TEST(ServerDrain, AStreamBeingWrittenRunsToItsEnd) {
  TestServer server;
  const int fd = open_stream(server.port(), 120);  // its first token already read
  server.server().begin_drain();
  std::string rest;
  char buffer[4096];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    rest.append(buffer, static_cast<size_t>(n));
    if (rest.find("data: [DONE]") != std::string::npos && rest.find("0\r\n\r\n") != std::string::npos) break;
  }
  close(fd);
  EXPECT_NE(rest.find("\"finish_reason\":\"length\""), std::string::npos) << rest.substr(0, 400);
  EXPECT_NE(rest.find("data: [DONE]"), std::string::npos) << "the stream was cut short";
  EXPECT_TRUE(server.server().wait_drained(std::chrono::seconds(30)));
}

TEST(ServerDrain, FailsWhatIsLeftAfterTheGracePeriod) {
  TestServer server;
  auto in_flight = std::async(std::launch::async, [&] { return server.chat(long_request(460)); });
  ASSERT_TRUE(eventually([&] { return server.server().scheduler().running() == 1; }));
  EXPECT_FALSE(server.server().drain(std::chrono::milliseconds(1)));
  auto r = in_flight.get();
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 503) << r->body;
}

TEST(ServerDrain, BeforeRunReturnsAtOnceAndRunDoesNotServe) {
  server::ServerOptions options;
  options.port = 0;
  server::Server server(shapes_engine(), options);
  server.bind();
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(server.drain(std::chrono::seconds(30)));
  server.run();  // a drained server does not start serving
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

}  // namespace
}  // namespace lumen::testing
