// ChatSession keeps its KV cache between turns: each turn must give exactly the reply of the
// whole conversation prefilled from scratch (what `lumen chat` runs), while prefilling only
// what the turn adds.
#include <gtest/gtest.h>

#include "lumen/core/error.h"
#include "lumen/runtime/chat_session.h"
#include "test_data.h"

namespace lumen {
namespace {

struct Reference {
  explicit Reference(const Engine& e) : engine(e), chat(e.chat_template()) {}

  const Engine& engine;
  ChatTemplate chat;
  std::vector<ChatTurn> turns;
  std::vector<Image> images;

  // The reply to `text` with the whole conversation prefilled from scratch.
  GenerationResult send(const std::string& text, const std::vector<Image>& attached, const GenerationOptions& options) {
    images.insert(images.end(), attached.begin(), attached.end());
    turns.push_back({ChatTurn::Role::kUser, text, static_cast<int>(attached.size())});
    GenerationResult r = generate(engine, chat.render(turns), images, options);
    std::string reply = r.text;
    reply.erase(0, reply.find_first_not_of(' '));
    reply.erase(reply.find_last_not_of(" \n") + 1);
    turns.push_back({ChatTurn::Role::kAssistant, reply, 0});
    return r;
  }
};

class ChatSessionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { engine_ = Engine::load(testing::bundled_model_dir()).release(); }
  static void TearDownTestSuite() {
    delete engine_;
    engine_ = nullptr;
  }
  static Image shapes() { return engine_->load_image(std::filesystem::path(LUMEN_SOURCE_DIR) / "examples" / "shapes.png"); }
  static Image scene(int n) {
    char name[32];
    std::snprintf(name, sizeof(name), "scene_%04d.png", n);
    return engine_->load_image(testing::data_dir() / "eval" / "shapes" / "images" / name);
  }
  static Engine* engine_;
};
Engine* ChatSessionTest::engine_ = nullptr;

TEST_F(ChatSessionTest, TurnsEqualFullPrefillAndReuseTheCache) {
  GenerationOptions options;
  ChatSession session(*engine_);
  Reference reference(*engine_);
  const std::vector<Image> first_images = {shapes()};
  session.attach_images(first_images);
  EXPECT_EQ(session.pending_images(), 1);
  const GenerationResult first = session.send("Describe the image.", options);
  const GenerationResult first_ref = reference.send("Describe the image.", first_images, options);
  EXPECT_EQ(first.text, first_ref.text);
  EXPECT_EQ(first.tokens, first_ref.tokens);
  EXPECT_EQ(first.timings.cached_positions, 0);
  EXPECT_EQ(session.cached_positions(), first.timings.prompt_positions + static_cast<int64_t>(first.tokens.size()) - 1);

  const GenerationResult second = session.send("What color is the circle at the top?", options);
  const GenerationResult second_ref = reference.send("What color is the circle at the top?", {}, options);
  EXPECT_EQ(second.text, second_ref.text);
  EXPECT_EQ(second.tokens, second_ref.tokens);
  EXPECT_EQ(second.timings.prompt_positions, second_ref.timings.prompt_positions);
  // Everything before the new user message was reused.
  EXPECT_EQ(second.timings.cached_positions, first.timings.prompt_positions + static_cast<int64_t>(first.tokens.size()) - 1);
  EXPECT_LT(second.timings.prompt_positions - second.timings.cached_positions, 40);

  const std::vector<Image> third_images = {scene(5)};
  session.attach_images(third_images);
  const GenerationResult third = session.send("Describe the image.", options);
  const GenerationResult third_ref = reference.send("Describe the image.", third_images, options);
  EXPECT_EQ(third.text, third_ref.text);
  EXPECT_EQ(third.tokens, third_ref.tokens);
  EXPECT_GT(third.timings.cached_positions, second.timings.prompt_positions);
  ASSERT_EQ(session.turns().size(), 6u);
  EXPECT_EQ(session.turns()[4].images, 1);
}

TEST_F(ChatSessionTest, FailedTurnChangesNothing) {
  GenerationOptions options;
  options.max_new_tokens = 16;
  ChatSession session(*engine_);
  Reference reference(*engine_);
  const std::vector<Image> images = {scene(2)};
  session.attach_images(images);
  EXPECT_EQ(session.send("Describe the image.", options).text, reference.send("Describe the image.", images, options).text);
  std::string long_text;
  for (int i = 0; i < 600; ++i) long_text += "word ";
  try {
    session.send(long_text, options);
    FAIL() << "a prompt over the context was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kLimitExceeded);
  }
  EXPECT_EQ(session.turns().size(), 2u);
  EXPECT_EQ(session.cached_positions(), 0);  // the next turn starts from scratch
  EXPECT_EQ(session.send("Is there a circle?", options).text, reference.send("Is there a circle?", {}, options).text);
}

TEST_F(ChatSessionTest, ClearForgetsEverything) {
  GenerationOptions options;
  options.max_new_tokens = 8;
  ChatSession session(*engine_);
  const std::vector<Image> images = {scene(3)};
  session.attach_images(images);
  session.send("Describe the image.", options);
  session.clear();
  EXPECT_TRUE(session.turns().empty());
  EXPECT_EQ(session.cached_positions(), 0);
  EXPECT_EQ(session.pending_images(), 0);
  Reference reference(*engine_);
  EXPECT_EQ(session.send("Hello", options).text, reference.send("Hello", {}, options).text);
}

}  // namespace
}  // namespace lumen
