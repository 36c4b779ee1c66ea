// `lumen serve` at the HTTP level (in process, on a free loopback port): the OpenAI response
// and streaming shapes, answers equal to the checkpoint's recorded greedy outputs, and one
// test per error the issue lists (status, OpenAI error body, parameter, code).
#include <gtest/gtest.h>

#include "lumen/core/error.h"
#include "lumen/server/metrics.h"
#include "test_server.h"

namespace lumen::testing {
namespace {

using nlohmann::json;

// Status and parsed OpenAI error of a response; fails the test unless it is one.
json expect_error(const httplib::Result& r, int status, const std::string& code) {
  if (!r) {
    ADD_FAILURE() << "no response: " << httplib::to_string(r.error());
    return {};
  }
  EXPECT_EQ(r->status, status) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << r->body;
  json body = json::parse(r->body, nullptr, false);
  EXPECT_TRUE(body.is_object() && body.contains("error")) << r->body;
  if (!body.is_object() || !body.contains("error")) return {};
  const json& e = body["error"];
  EXPECT_TRUE(e["message"].is_string() && e["message"].get<std::string>().size() > 5) << r->body;
  EXPECT_TRUE(e["type"].is_string()) << r->body;
  EXPECT_TRUE(e.contains("param") && e.contains("code")) << r->body;
  EXPECT_EQ(e["code"], code) << r->body;
  return e;
}

TEST(ServerHttp, HealthModelsAndUnknownRoutes) {
  TestServer server;
  auto c = server.client();
  auto health = c.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(json::parse(health->body)["status"], "ok");

  auto models = c.Get("/v1/models");
  ASSERT_TRUE(models);
  json list = json::parse(models->body);
  EXPECT_EQ(list["object"], "list");
  ASSERT_EQ(list["data"].size(), 1u);
  EXPECT_EQ(list["data"][0]["id"], "imp-shapes");
  EXPECT_EQ(list["data"][0]["object"], "model");
  EXPECT_EQ(json::parse(c.Get("/v1/models/imp-shapes")->body)["id"], "imp-shapes");
  expect_error(c.Get("/v1/models/gpt-4o"), 404, "model_not_found");
  expect_error(c.Get("/v1/nothing"), 404, "unknown_url");
  expect_error(c.Get("/v1/chat/completions"), 404, "unknown_url");

  auto metrics = c.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_NE(metrics->body.find("lumen_http_requests_total{endpoint=\"/v1/models\",status=\"200\"} 1"), std::string::npos);
  EXPECT_NE(metrics->body.find("# TYPE lumen_queue_depth gauge"), std::string::npos);
}

TEST(ServerHttp, AnswersAsTheCheckpointDoesAndCachesTheImage) {
  TestServer server;
  const auto questions = eval_questions(4);
  for (const auto& q : questions) {
    auto r = server.chat(user_request(q.question, {data_url(q.image)}, {{"max_tokens", 64}}));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    json body = json::parse(r->body);
    EXPECT_EQ(body["object"], "chat.completion");
    EXPECT_EQ(body["model"], "imp-shapes");
    EXPECT_TRUE(body["id"].get<std::string>().starts_with("chatcmpl-"));
    EXPECT_TRUE(body["created"].is_number_integer());
    ASSERT_EQ(body["choices"].size(), 1u);
    EXPECT_EQ(body["choices"][0]["index"], 0);
    EXPECT_EQ(body["choices"][0]["message"]["role"], "assistant");
    EXPECT_EQ(body["choices"][0]["message"]["content"], q.reference_output) << q.question;
    EXPECT_EQ(body["choices"][0]["finish_reason"], "stop");
    const json& usage = body["usage"];
    EXPECT_GT(usage["prompt_tokens"].get<int>(), 64);  // 64 image tokens + the template
    EXPECT_GT(usage["completion_tokens"].get<int>(), 2);
    EXPECT_EQ(usage["total_tokens"], usage["prompt_tokens"].get<int>() + usage["completion_tokens"].get<int>());
  }
  // The four questions are about one scene: one encode, three cache hits.
  ASSERT_EQ(questions[0].image, questions[3].image);
  EXPECT_EQ(server.metric("lumen_images_encoded_total"), 1);
  EXPECT_EQ(server.metric("lumen_image_cache_hits_total"), 3);
  EXPECT_EQ(server.metric("lumen_image_cache_misses_total"), 1);
  EXPECT_EQ(server.metric("lumen_image_cache_entries"), 1);
}

TEST(ServerHttp, StreamsServerSentEventsEndingWithDone) {
  TestServer server;
  const auto q = eval_questions(1)[0];
  auto r = server.chat(user_request(q.question, {data_url(q.image)},
                                    {{"stream", true}, {"stream_options", {{"include_usage", true}}}}));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/event-stream");
  auto events = sse_data(r->body);
  ASSERT_GE(events.size(), 5u);
  EXPECT_EQ(events.back(), "[DONE]");
  std::string text, id;
  for (size_t i = 0; i + 1 < events.size(); ++i) {
    json chunk = json::parse(events[i]);
    EXPECT_EQ(chunk["object"], "chat.completion.chunk");
    if (id.empty()) id = chunk["id"];
    EXPECT_EQ(chunk["id"], id);  // one id for the whole stream
    if (i == 0) {
      EXPECT_EQ(chunk["choices"][0]["delta"]["role"], "assistant");
    }
    if (i + 2 == events.size()) {  // usage chunk: no choices
      EXPECT_TRUE(chunk["choices"].empty());
      EXPECT_GT(chunk["usage"]["completion_tokens"].get<int>(), 2);
      continue;
    }
    const json& choice = chunk["choices"][0];
    if (i + 3 == events.size()) {
      EXPECT_EQ(choice["finish_reason"], "stop");
      EXPECT_TRUE(choice["delta"].empty());
    } else {
      EXPECT_TRUE(choice["finish_reason"].is_null());
    }
    text += choice["delta"].value("content", "");
  }
  EXPECT_EQ(text, q.reference_output);
}

TEST(ServerHttp, StopStringsAndTokenBudget) {
  TestServer server;
  const auto q = eval_questions(1)[0];  // a caption: "A small purple circle at the bottom and ..."
  auto r = server.chat(user_request(q.question, {data_url(q.image)}, {{"stop", "circle"}}));
  ASSERT_TRUE(r);
  json body = json::parse(r->body);
  EXPECT_EQ(body["choices"][0]["message"]["content"], q.reference_output.substr(0, q.reference_output.find("circle")));
  EXPECT_EQ(body["choices"][0]["finish_reason"], "stop");
  r = server.chat(user_request(q.question, {data_url(q.image)}, {{"max_tokens", 3}}));
  body = json::parse(r->body);
  EXPECT_EQ(body["choices"][0]["finish_reason"], "length");
  EXPECT_EQ(body["usage"]["completion_tokens"], 3);
}

TEST(ServerHttp, MalformedRequestsGet400) {
  server::ServerOptions options;
  options.request_limits.max_images = 2;
  TestServer server(options);
  const std::string image = data_url(eval_questions(1)[0].image);
  auto post = [&](const std::string& body) { return server.client().Post("/v1/chat/completions", body, "application/json"); };

  expect_error(post("{\"model\": \"imp-shapes\", \"messages\": ["), 400, "invalid_json");
  expect_error(post(""), 400, "invalid_json");
  EXPECT_EQ(expect_error(post(R"({"messages": [{"role": "user", "content": "hi"}]})"), 400, "missing_field")["param"],
            "model");
  EXPECT_EQ(expect_error(post(R"({"model": "imp-shapes"})"), 400, "missing_field")["param"], "messages");
  EXPECT_EQ(expect_error(post(R"({"model": "imp-shapes", "messages": [{"role": "user", "content": 7}]})"), 400,
                         "invalid_type")["param"],
            "messages[0].content");
  EXPECT_EQ(expect_error(server.chat(user_request("hi", {}, {{"max_tokens", "many"}})), 400, "invalid_type")["param"],
            "max_tokens");
  json e = expect_error(server.chat(user_request("hi", {"data:image/png;base64,iVBORw0K!!!"})), 400, "invalid_base64");
  EXPECT_EQ(e["param"], "messages[0].content[0].image_url");
  expect_error(server.chat(user_request("hi", {"data:image/gif;base64,R0lGODlhAQABAAAAACw="})), 400,
               "unsupported_image_type");
  expect_error(server.chat(user_request("hi", {"data:image/png,rawbytes"})), 400, "invalid_image_url");
  expect_error(server.chat(user_request("hi", {"ftp://host/x.png"})), 400, "invalid_image_url");
  // A PNG header on bytes that are not a PNG, and a JPEG cut short.
  expect_error(server.chat(user_request("hi", {"data:image/png;base64,iVBORw0KGgoAAAAAAAAAAAAA"})), 400, "invalid_image");
  e = expect_error(server.chat(user_request("hi", {data_url(images_dir() / "truncated.jpg")})), 400, "invalid_image");
  EXPECT_EQ(e["param"], "messages[0].content[0].image_url");
  e = expect_error(server.chat(user_request("hi", {image, image, image})), 400, "too_many_images");
  // Nothing failed silently: every one of those was counted as a 400.
  EXPECT_EQ(server.server().metrics().requests("/v1/chat/completions", 400), 13u);
}

TEST(ServerHttp, SizeLimitsAreCheckedBeforeDecoding) {
  const auto q = eval_questions(1)[0];  // a scene PNG of a few KB
  {
    server::ServerOptions options;
    options.max_body_bytes = 4096;
    TestServer server(options);
    expect_error(server.chat(user_request(std::string(5000, 'x'))), 413, "request_too_large");
    EXPECT_EQ(server.chat(user_request("hi", {}, {{"max_tokens", 2}}))->status, 200);
  }
  {
    server::ServerOptions options;
    options.images.max_image_bytes = 100;
    TestServer server(options);
    expect_error(server.chat(user_request("hi", {data_url(q.image)})), 400, "image_too_large");
  }
  {
    EngineOptions small;
    small.image_limits.max_pixels = 1000;
    auto engine = Engine::load(bundled_model_dir(), small);
    TestServer server({}, *engine);
    json e = expect_error(server.chat(user_request("hi", {data_url(q.image)})), 400, "image_too_large");
    EXPECT_NE(e["message"].get<std::string>().find("pixels"), std::string::npos) << e;
  }
  {
    server::ServerOptions options;
    options.max_prompt_tokens = 80;  // the image alone is 64 tokens, the template ~40 more
    TestServer server(options);
    expect_error(server.chat(user_request("hi", {data_url(q.image)})), 400, "context_length_exceeded");
    expect_error(server.chat(user_request(std::string(3000, 'x'))), 400, "context_length_exceeded");
  }
  {
    TestServer server;  // more images than the 512-position context holds
    std::vector<std::string> many(8, data_url(q.image));
    expect_error(server.chat(user_request("hi", many)), 400, "context_length_exceeded");
  }
}

TEST(ServerHttp, ImageSourcesFollowThePolicy) {
  const auto q = eval_questions(1)[0];
  const auto eval_dir = q.image.parent_path();
  {
    TestServer server;  // defaults: no local paths, no remote URLs
    expect_error(server.chat(user_request("hi", {q.image.string()})), 400, "image_source_refused");
    expect_error(server.chat(user_request("hi", {"file://" + q.image.string()})), 400, "image_source_refused");
    expect_error(server.chat(user_request("hi", {"http://127.0.0.1:9/x.png"})), 400, "image_source_refused");
  }
  {
    server::ServerOptions options;
    options.images.allow_dirs = {eval_dir};
    TestServer server(options);
    auto r = server.chat(user_request(q.question, {"file://" + q.image.string()}));
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(json::parse(r->body)["choices"][0]["message"]["content"], q.reference_output);
    // Outside the directory, also through "..".
    expect_error(server.chat(user_request("hi", {(images_dir() / "coffee.png").string()})), 400,
                 "image_source_refused");
    expect_error(server.chat(user_request("hi", {(eval_dir / ".." / ".." / ".." / "images" / "coffee.png").string()})), 400,
                 "image_source_refused");
    expect_error(server.chat(user_request("hi", {(eval_dir / "missing.png").string()})), 400, "image_not_found");
  }
  {
    // A local HTTP server stands in for a remote image host.
    httplib::Server host;
    const std::string png = read_file(q.image);
    host.Get("/scene.png", [&](const httplib::Request&, httplib::Response& res) { res.set_content(png, "image/png"); });
    const int host_port = host.bind_to_any_port("127.0.0.1");
    std::thread host_thread([&] { host.listen_after_bind(); });
    server::ServerOptions options;
    options.images.allow_remote = true;
    {
      TestServer server(options);
      const std::string base = "http://127.0.0.1:" + std::to_string(host_port);
      auto r = server.chat(user_request(q.question, {base + "/scene.png"}));
      ASSERT_EQ(r->status, 200) << r->body;
      EXPECT_EQ(json::parse(r->body)["choices"][0]["message"]["content"], q.reference_output);
      expect_error(server.chat(user_request("hi", {base + "/missing.png"})), 400, "image_download_failed");
    }
    host.stop();
    host_thread.join();
  }
}

TEST(ServerHttp, ApiKeyIsRequiredAndCompared) {
  server::ServerOptions options;
  options.api_key = "sk-lumen-test";
  TestServer server(options);
  auto c = server.client();
  expect_error(c.Get("/v1/models"), 401, "invalid_api_key");
  expect_error(c.Get("/metrics"), 401, "invalid_api_key");
  httplib::Headers wrong = {{"Authorization", "Bearer sk-lumen-tesT"}};
  expect_error(c.Get("/v1/models", wrong), 401, "invalid_api_key");
  httplib::Headers basic = {{"Authorization", "Basic sk-lumen-test"}};
  expect_error(c.Get("/v1/models", basic), 401, "invalid_api_key");
  httplib::Headers right = {{"Authorization", "Bearer sk-lumen-test"}};
  EXPECT_EQ(c.Get("/v1/models", right)->status, 200);
  EXPECT_EQ(c.Post("/v1/chat/completions", right, user_request("hi", {}, {{"max_tokens", 2}}).dump(), "application/json")->status,
            200);
  EXPECT_EQ(c.Get("/health")->status, 200);  // health checks need no key
}

// A keyless server on loopback answers only loopback Host names, so a page elsewhere cannot
// reach it by pointing its own name at 127.0.0.1 (DNS rebinding). With a key, the key decides.
TEST(ServerHttp, KeylessLoopbackServerRefusesOtherHostNames) {
  TestServer server;
  auto c = server.client();
  const std::string port = ":" + std::to_string(server.port());
  for (const std::string& host : {"127.0.0.1" + port, "localhost" + port, "[::1]" + port, std::string("127.0.0.1")}) {
    EXPECT_EQ(c.Get("/v1/models", {{"Host", host}})->status, 200) << host;
  }
  for (const std::string& host : {"attacker.example" + port, std::string("attacker.example"), "10.0.0.1" + port}) {
    SCOPED_TRACE(host);
    expect_error(c.Get("/v1/models", {{"Host", host}}), 403, "forbidden_host");
    expect_error(c.Get("/", {{"Host", host}}), 403, "forbidden_host");
  }
  EXPECT_EQ(server::host_name_of("[::1]:8080"), "[::1]");
  EXPECT_EQ(server::host_name_of("localhost:8080"), "localhost");
  EXPECT_EQ(server::host_name_of("127.0.0.1"), "127.0.0.1");

  server::ServerOptions keyed;
  keyed.api_key = "k";
  TestServer with_key(keyed);
  httplib::Headers headers = {{"Host", "lumen.example"}, {"Authorization", "Bearer k"}};
  EXPECT_EQ(with_key.client().Get("/v1/models", headers)->status, 200);
}

TEST(ServerHttp, RefusesAPublicAddressWithoutAKey) {
  server::ServerOptions options;
  options.host = "0.0.0.0";
  try {
    server::Server s(shapes_engine(), options);
    FAIL() << "a non-loopback bind without a key was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--api-key"), std::string::npos);
  }
  options.insecure_no_auth = true;
  EXPECT_NO_THROW(server::Server(shapes_engine(), options));
  options.insecure_no_auth = false;
  options.api_key = "k";
  EXPECT_NO_THROW(server::Server(shapes_engine(), options));
  EXPECT_TRUE(server::is_loopback_host("127.0.0.1"));
  EXPECT_TRUE(server::is_loopback_host("127.8.9.10"));
  EXPECT_TRUE(server::is_loopback_host("::1"));
  EXPECT_TRUE(server::is_loopback_host("localhost"));
  EXPECT_FALSE(server::is_loopback_host("0.0.0.0"));
  EXPECT_FALSE(server::is_loopback_host("192.168.1.2"));
  EXPECT_FALSE(server::is_loopback_host("::"));
}

}  // namespace
}  // namespace lumen::testing
