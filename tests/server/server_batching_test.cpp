// The serving machinery under concurrency (in process): continuous batching gives every
// request the answer it gets alone, a full server answers 429, a client that hangs up
// mid-stream frees its sequence, and a follow-up turn reuses the previous turn's KV cache.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>

#include "test_server.h"

namespace lumen::testing {
namespace {

using nlohmann::json;

std::string content_of(const httplib::Result& r) {
  if (!r || r->status != 200) {
    ADD_FAILURE() << (r ? r->body : "no response");
    return "";
  }
  return json::parse(r->body)["choices"][0]["message"]["content"];
}

// Waits up to `seconds` for `done()`.
template <typename F>
bool eventually(F done, double seconds = 20) {
  for (int i = 0; i < seconds * 100; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

// Starts a long streamed generation on a raw socket and reads until the role chunk and the
// first content chunk have arrived; returns the socket (the caller closes it to hang up).
int open_long_stream(const TestServer& server) {
  const std::string body =
      user_request("Count", {}, {{"max_tokens", 460}, {"ignore_eos", true}, {"temperature", 1.0}, {"stream", true}}).dump();
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(server.port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  const std::string request = "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                              "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  EXPECT_EQ(write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string received;
  char buffer[4096];
  auto events = [&] {
    size_t n = 0;
    for (size_t at = received.find("data: "); at != std::string::npos; at = received.find("data: ", at + 1)) ++n;
    return n;
  };
  while (events() < 2) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) {
      ADD_FAILURE() << "the stream ended early: " << received;
      break;
    }
    received.append(buffer, static_cast<size_t>(n));
  }
  EXPECT_NE(received.find("HTTP/1.1 200"), std::string::npos) << received;
  return fd;
}

TEST(ServerBatching, ConcurrentRequestsGetTheirAloneAnswers) {
  TestServer server;
  const auto questions = eval_questions(40);
  // 16 requests: image questions about several scenes, text prompts with different budgets.
  std::vector<json> requests;
  for (size_t i = 0; i < questions.size() && requests.size() < 12; i += 3) {
    requests.push_back(user_request(questions[i].question, {data_url(questions[i].image)}));
  }
  for (int i = 0; i < 4; ++i) {
    requests.push_back(user_request("Tell me about shape " + std::to_string(i), {}, {{"max_tokens", 10 + 7 * i}}));
  }
  std::vector<std::string> alone;
  for (const auto& r : requests) alone.push_back(content_of(server.chat(r)));

  const double steps_before = server.metric("lumen_decode_steps_total");
  const double sequences_before = server.metric("lumen_decode_step_sequences_total");
  std::vector<std::future<std::string>> together;
  for (const auto& r : requests) {
    together.push_back(std::async(std::launch::async, [&server, r] { return content_of(server.chat(r)); }));
  }
  for (size_t i = 0; i < requests.size(); ++i) EXPECT_EQ(together[i].get(), alone[i]) << requests[i].dump().substr(0, 200);
  const double steps = server.metric("lumen_decode_steps_total") - steps_before;
  const double sequences = server.metric("lumen_decode_step_sequences_total") - sequences_before;
  EXPECT_GT(sequences / steps, 1.5) << "decode steps were not shared";
}

TEST(ServerBatching, AFullServerAnswers429) {
  server::ServerOptions options;
  options.scheduler.max_sequences = 1;
  options.scheduler.max_queued = 0;
  TestServer server(options);
  const int fd = open_long_stream(server);  // holds the only slot
  ASSERT_EQ(server.metric("lumen_running_sequences"), 1);
  auto r = server.chat(user_request("hi", {}, {{"max_tokens", 2}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429) << r->body;
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  json e = json::parse(r->body)["error"];
  EXPECT_EQ(e["type"], "rate_limit_error");
  EXPECT_EQ(e["code"], "server_busy");
  EXPECT_EQ(server.metric("lumen_requests_rejected_total"), 1);
  close(fd);
  // Once the slot is free the server takes requests again.
  ASSERT_TRUE(eventually([&] { return server.metric("lumen_running_sequences") == 0; }));
  EXPECT_EQ(server.chat(user_request("hi", {}, {{"max_tokens", 2}}))->status, 200);
}

TEST(ServerBatching, AClientThatHangsUpMidStreamFreesItsSequence) {
  TestServer server;
  const int fd = open_long_stream(server);
  close(fd);
  EXPECT_TRUE(eventually([&] { return server.metric("lumen_sequences_cancelled_total") == 1; }))
      << "the sequence was not cancelled";
  EXPECT_TRUE(eventually([&] { return server.metric("lumen_running_sequences") == 0; }));
  EXPECT_EQ(server.metric("lumen_running_kv_cache_bytes"), 0);
  EXPECT_LT(server.metric("lumen_completion_tokens_total"), 460);  // it did not run to the end
}

TEST(ServerBatching, AFollowUpTurnReusesThePreviousKvCache) {
  const auto q = eval_questions(1)[0];
  const json first_request = user_request(q.question, {data_url(q.image)});
  auto follow_up = [&](const std::string& answer) {
    json r = first_request;
    r["messages"].push_back({{"role", "assistant"}, {"content", answer}});
    r["messages"].push_back({{"role", "user"}, {"content", "What color is the background?"}});
    return r;
  };
  std::string reused_answer, fresh_answer;
  {
    TestServer server;
    auto first = server.chat(first_request);
    ASSERT_EQ(first->status, 200);
    json body = json::parse(first->body);
    const std::string answer = body["choices"][0]["message"]["content"];
    auto second = server.chat(follow_up(answer));
    ASSERT_EQ(second->status, 200) << second->body;
    json usage = json::parse(second->body)["usage"];
    // The whole first turn (prompt and reply) was held, and the follow-up started from it.
    EXPECT_GE(usage["prompt_tokens_details"]["cached_tokens"].get<int>(), body["usage"]["prompt_tokens"].get<int>());
    EXPECT_LT(usage["prompt_tokens_details"]["cached_tokens"].get<int>(), usage["prompt_tokens"].get<int>());
    EXPECT_EQ(server.metric("lumen_prefix_cache_hits_total"), 1);
    reused_answer = content_of(second);
  }
  {
    server::ServerOptions options;
    options.scheduler.prefix_cache_bytes = 0;  // nothing held: the follow-up is prefilled in full
    TestServer server(options);
    const std::string answer = content_of(server.chat(first_request));
    auto second = server.chat(follow_up(answer));
    EXPECT_EQ(json::parse(second->body)["usage"]["prompt_tokens_details"]["cached_tokens"], 0);
    fresh_answer = content_of(second);
  }
  EXPECT_EQ(reused_answer, fresh_answer);
  EXPECT_FALSE(reused_answer.empty());
}

}  // namespace
}  // namespace lumen::testing
