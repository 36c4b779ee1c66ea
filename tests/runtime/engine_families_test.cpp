// Text prompts on every model family: each fixture checkpoint with tokenizer files of its
// family's kind (text/synthetic_tokenizers.h; the fixtures have none), through
// Engine::encode_prompt, a chat, both embedders' text paths and the server.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>

#include "hardening/hostile_files.h"
#include "lumen/retrieval/imp_embedder.h"
#include "lumen/runtime/chat_session.h"
#include "lumen/runtime/engine.h"
#include "server/test_server.h"
#include "test_data.h"
#include "text/synthetic_tokenizers.h"

namespace lumen {
namespace {
namespace fs = std::filesystem;
using Json = nlohmann::json;

struct FamilyCase {
  const char* fixture;
  const char* chat_format;
  bool sentencepiece;
};

// Phi-3's special tokens at their real ids (microsoft/Phi-3-mini-4k-instruct).
Json phi3_added_tokens() {
  Json added = Json::object();
  const std::pair<int, const char*> tokens[] = {{32000, "<|endoftext|>"}, {32001, "<|assistant|>"},
                                                {32006, "<|system|>"},    {32007, "<|end|>"},
                                                {32010, "<|user|>"}};
  for (const auto& [id, content] : tokens) {
    added[std::to_string(id)] = {
        {"content", content}, {"special", true}, {"normalized", false}, {"rstrip", id != 32000}};
  }
  return added;
}

// DIR/model: the fixture's files linked, plus a tokenizer of the family's kind.
fs::path checkpoint_with_tokenizer(const hardening::ScratchDir& dir, const std::string& fixture) {
  const fs::path model = dir.path() / "model";
  fs::create_directories(model);
  for (const auto& entry : fs::directory_iterator(testing::fixtures_dir() / fixture)) {
    fs::create_symlink(entry.path(), model / entry.path().filename());
  }
  if (fixture == "llava-tiny") {  // llava-hf: <image> and <pad> are added tokens
    testing::write_llama_like_tokenizer(
        model, {{"legacy", false},
                {"pad_token", "<pad>"},
                {"added_tokens_decoder",
                 {{"32000", {{"content", "<image>"}, {"special", true}, {"normalized", false}}},
                  {"32001", {{"content", "<pad>"}, {"special", true}, {"normalized", false}}}}}});
  } else if (fixture == "imp-tiny-phi3") {
    testing::write_llama_like_tokenizer(model, {{"legacy", false}, {"added_tokens_decoder", phi3_added_tokens()}});
  } else {
    testing::write_qwen2_like_tokenizer(model);
  }
  return model;
}

class EngineFamilies : public ::testing::TestWithParam<FamilyCase> {};

TEST_P(EngineFamilies, PromptsChatsEmbeddingsAndTheServerRunOnText) {
  const FamilyCase& c = GetParam();
  hardening::ScratchDir dir;
  const fs::path model = checkpoint_with_tokenizer(dir, c.fixture);
  const std::shared_ptr<const Engine> engine = Engine::load(model);
  const ImpConfig& config = engine->model().config();
  EXPECT_EQ(engine->chat_template().name, c.chat_format);

  // One marker per image, whatever the family does with <image> in its tokenizer, and for
  // SentencePiece one BOS at the start.
  const ChatTemplate chat = engine->chat_template();
  const std::string prompt = chat.render({{ChatTurn::Role::kUser, "What is it?", 2}});
  const std::vector<int32_t> ids = engine->encode_prompt(prompt);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), config.image_token_id), 2) << prompt;
  if (c.sentencepiece) {
    EXPECT_EQ(ids.front(), 1);
    EXPECT_EQ(std::count(ids.begin(), ids.end(), 1), 1);
  }
  // Everything but the markers decodes back to the prompt's text.
  std::vector<int32_t> text_ids;
  std::copy_if(ids.begin(), ids.end(), std::back_inserter(text_ids),
               [&](int32_t id) { return id != config.image_token_id; });
  std::string without_images = prompt;
  for (size_t at; (at = without_images.find("<image>")) != std::string::npos;) without_images.erase(at, 7);
  std::string decoded = engine->tokenizer().decode(text_ids, true);
  if (c.sentencepiece) {  // skip_special drops the template's role tags too
    EXPECT_NE(decoded.find("What is it?"), std::string::npos) << decoded;
  } else {
    EXPECT_EQ(engine->tokenizer().decode(text_ids, false), without_images);
  }

  // A two-turn chat with an image.
  const Image image = engine->load_image(testing::fixtures_dir() / "llava-tiny" / "chelsea_portrait.png");
  ChatSession session(*engine);
  session.attach_images(std::span<const Image>(&image, 1));
  GenerationOptions options;
  options.max_new_tokens = 3;
  options.sampling.temperature = 0;
  const GenerationResult first = session.send("What is it?", options);
  EXPECT_FALSE(first.tokens.empty());
  EXPECT_EQ(std::count(first.prompt_tokens.begin(), first.prompt_tokens.end(), config.image_token_id), 1);
  const GenerationResult second = session.send("And the colour?", options);
  EXPECT_GT(second.prompt_tokens.size(), first.prompt_tokens.size());

  // The "prompt" embedder: unit vectors of the decoder's width, different for different texts.
  ImpPromptEmbedder embedder(engine);
  const std::vector<float> texts = embedder.embed_texts({"a red circle", "two blue squares"});
  ASSERT_EQ(texts.size(), static_cast<size_t>(2 * embedder.dim()));
  double norm = 0, diff = 0;
  for (int64_t i = 0; i < embedder.dim(); ++i) {
    norm += texts[i] * texts[i];
    diff += std::abs(texts[i] - texts[embedder.dim() + i]);
  }
  EXPECT_NEAR(norm, 1.0, 1e-4);
  EXPECT_GT(diff, 1e-3);
  EXPECT_EQ(embedder.embed_images({image}).size(), static_cast<size_t>(embedder.dim()));

  // The server's chat completions.
  testing::TestServer server({}, *engine);
  const auto reply = server.chat(testing::user_request(
      "What is it?", {testing::data_url(testing::fixtures_dir() / "llava-tiny" / "chelsea_portrait.png")},
      {{"max_tokens", 2}, {"temperature", 0}}));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200) << reply->body;
  const Json body = Json::parse(reply->body);
  EXPECT_TRUE(body["choices"][0]["message"]["content"].is_string()) << reply->body;
  EXPECT_GT(body["usage"]["prompt_tokens"].get<int64_t>(), config.tokens_per_image());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, EngineFamilies,
                         ::testing::Values(FamilyCase{"llava-tiny", "llava_hf", true},
                                           FamilyCase{"imp-tiny-phi3", "phi3", true},
                                           FamilyCase{"imp-tiny-qwen2", "qwen2", false}),
                         [](const auto& info) {
                           std::string name = info.param.fixture;
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace lumen
