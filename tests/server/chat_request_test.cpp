#include "lumen/server/chat_request.h"

#include <gtest/gtest.h>

#include "lumen/server/api_error.h"

namespace lumen::server {
namespace {

// The ApiError a body is refused with (fails the test if it is accepted).
ApiError refusal(const std::string& body, const ChatRequestLimits& limits = {}) {
  try {
    parse_chat_request(body, limits);
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "accepted: " << body;
  return ApiError(0, "");
}

TEST(ChatRequest, ParsesStringAndPartContent) {
  ChatRequest r = parse_chat_request(R"({
    "model": "imp-shapes",
    "messages": [
      {"role": "system", "content": "Be brief."},
      {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                                    {"type": "text", "text": "What is it?"},
                                    {"type": "text", "text": "Answer in one word."}]},
      {"role": "assistant", "content": "A square."},
      {"role": "user", "content": "And its colour?"}
    ],
    "max_tokens": 20, "temperature": 0.5, "top_p": 0.9, "seed": 7, "stop": ["\n", "."],
    "stream": true, "stream_options": {"include_usage": true}, "n": 1, "user": "ignored"
  })");
  EXPECT_EQ(r.model, "imp-shapes");
  ASSERT_TRUE(r.system.has_value());
  EXPECT_EQ(*r.system, "Be brief.");
  ASSERT_EQ(r.turns.size(), 3u);
  EXPECT_EQ(r.turns[0].text, "What is it?\nAnswer in one word.");
  EXPECT_EQ(r.turns[0].images, 1);
  EXPECT_EQ(r.turns[1].role, ChatTurn::Role::kAssistant);
  EXPECT_EQ(r.turns[2].text, "And its colour?");
  ASSERT_EQ(r.images.size(), 1u);
  EXPECT_EQ(r.images[0].url, "data:image/png;base64,AAAA");
  EXPECT_EQ(r.images[0].param, "messages[1].content[0].image_url");
  EXPECT_EQ(r.max_tokens, 20);
  EXPECT_FLOAT_EQ(r.sampling.temperature, 0.5f);
  EXPECT_FLOAT_EQ(r.sampling.top_p, 0.9f);
  EXPECT_EQ(r.sampling.seed, 7u);
  EXPECT_EQ(r.stop, (std::vector<std::string>{"\n", "."}));
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
}

TEST(ChatRequest, DefaultsAreGreedyUnboundedAndWhole) {
  ChatRequest r = parse_chat_request(R"({"model": "m", "messages": [{"role": "user", "content": "hi"}]})");
  EXPECT_FALSE(r.max_tokens.has_value());
  EXPECT_EQ(r.sampling.temperature, 0.0f);
  EXPECT_FALSE(r.stream);
  EXPECT_TRUE(r.stop.empty());
  r = parse_chat_request(R"({"model": "m", "messages": [{"role": "user", "content": "hi"}], "stop": "END",
                             "max_completion_tokens": 5, "top_k": 3, "repetition_penalty": 1.1, "ignore_eos": true})");
  EXPECT_EQ(r.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(r.max_tokens, 5);
  EXPECT_EQ(r.sampling.top_k, 3);
  EXPECT_TRUE(r.ignore_eos);
}

TEST(ChatRequest, RefusesMalformedBodiesWithTheParameter) {
  struct Case {
    const char* body;
    const char* param;  // "" for none
    const char* code;
  };
  const Case cases[] = {
      {"{not json", "", "invalid_json"},
      {"[1, 2]", "", "invalid_json"},
      {R"({"messages": [{"role": "user", "content": "hi"}]})", "model", "missing_field"},
      {R"({"model": 3, "messages": []})", "model", "invalid_type"},
      {R"({"model": "m"})", "messages", "missing_field"},
      {R"({"model": "m", "messages": {}})", "messages", "invalid_type"},
      {R"({"model": "m", "messages": []})", "messages", "invalid_value"},
      {R"({"model": "m", "messages": ["hi"]})", "messages[0]", "invalid_type"},
      {R"({"model": "m", "messages": [{"content": "hi"}]})", "messages[0].role", "missing_field"},
      {R"({"model": "m", "messages": [{"role": "user"}]})", "messages[0].content", "missing_field"},
      {R"({"model": "m", "messages": [{"role": "user", "content": 5}]})", "messages[0].content", "invalid_type"},
      {R"({"model": "m", "messages": [{"role": "tool", "content": "x"}]})", "messages[0].role", "invalid_value"},
      {R"({"model": "m", "messages": [{"role": "user", "content": [{"type": "audio"}]}]})",
       "messages[0].content[0].type", "invalid_value"},
      {R"({"model": "m", "messages": [{"role": "user", "content": [{"text": "x"}]}]})",
       "messages[0].content[0].type", "missing_field"},
      {R"({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]})",
       "messages[0].content[0].image_url", "missing_field"},
      {R"({"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": 1}}]}]})",
       "messages[0].content[0].image_url.url", "invalid_type"},
      {R"({"model": "m", "messages": [{"role": "assistant", "content": "x"}]})", "messages[0].role", "invalid_value"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]})",
       "messages[1].role", "invalid_value"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "a"}, {"role": "system", "content": "b"}]})",
       "messages[1].role", "invalid_value"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "a"}], "max_tokens": 0})", "max_tokens",
       "invalid_value"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "a"}], "max_tokens": "5"})", "max_tokens",
       "invalid_type"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "a"}], "temperature": 3})", "temperature",
       "invalid_value"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "a"}], "top_p": 0})", "top_p", "invalid_value"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "a"}], "seed": 1.5})", "seed", "invalid_type"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "a"}], "stop": 1})", "stop", "invalid_type"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "a"}], "stop": ["a","b","c","d","e"]})", "stop",
       "invalid_value"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "a"}], "stream": "yes"})", "stream",
       "invalid_type"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "a"}], "n": 2})", "n", "unsupported_parameter"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "a"}], "tools": [{}]})", "tools",
       "unsupported_parameter"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "a"}], "logprobs": true})", "logprobs",
       "unsupported_parameter"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "a"}], "presence_penalty": 0.5})",
       "presence_penalty", "unsupported_parameter"},
      {R"({"model": "m", "messages": [{"role": "user", "content": "a"}], "stream_options": {}})", "stream_options",
       "invalid_value"},
  };
  for (const Case& c : cases) {
    ApiError e = refusal(c.body);
    EXPECT_EQ(e.status(), 400) << c.body;
    EXPECT_EQ(e.type(), "invalid_request_error") << c.body;
    EXPECT_EQ(e.code().value_or(""), c.code) << c.body << ": " << e.what();
    EXPECT_EQ(e.param().value_or(""), c.param) << c.body << ": " << e.what();
    EXPECT_GT(std::string(e.what()).size(), 10u) << c.body;
  }
}

TEST(ChatRequest, BoundsImagesAndNesting) {
  std::string body = R"({"model": "m", "messages": [{"role": "user", "content": [)";
  for (int i = 0; i < 3; ++i) body += R"({"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}},)";
  body += R"({"type": "text", "text": "x"}]}]})";
  ChatRequestLimits limits;
  limits.max_images = 2;
  EXPECT_EQ(refusal(body, limits).code().value_or(""), "too_many_images");
  limits.max_images = 3;
  EXPECT_EQ(parse_chat_request(body, limits).images.size(), 3u);

  std::string deep = R"({"model": "m", "messages": [{"role": "user", "content": "a"}], "x": )" +
                     std::string(10000, '[') + std::string(10000, ']') + "}";
  EXPECT_EQ(refusal(deep).code().value_or(""), "invalid_json");
}

// Found by fuzz_chat_request: nlohmann::json throws out_of_range (not parse_error) for a number
// past the range of double, which used to escape as an unexpected exception.
TEST(ChatRequest, NumberBeyondDoubleIsInvalidJson) {
  EXPECT_EQ(refusal("6666666666666666.66666666666666000E00000000000808665072").code().value_or(""), "invalid_json");
  EXPECT_EQ(refusal(R"({"model": "m", "temperature": 1e999999, "messages": []})").code().value_or(""), "invalid_json");
}

TEST(ApiErrorJson, HasTheOpenAiShape) {
  ApiError e(429, "busy", std::nullopt, "server_busy");
  nlohmann::json j = e.to_json();
  EXPECT_EQ(j["error"]["message"], "busy");
  EXPECT_EQ(j["error"]["type"], "rate_limit_error");
  EXPECT_TRUE(j["error"]["param"].is_null());
  EXPECT_EQ(j["error"]["code"], "server_busy");
  EXPECT_EQ(to_api_error(Error("bad image")).status(), 400);
  EXPECT_EQ(to_api_error(Error("bug", ErrorKind::kInternal)).status(), 500);
}

}  // namespace
}  // namespace lumen::server
