// TokenLoop, the one token loop the generator and the batch scheduler share, driven with
// hand-made logits (no forward pass): which token it samples, when it stops and why, what
// reaches the text, and which pieces it hands out when.
#include "lumen/runtime/sequence.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "test_data.h"

namespace lumen {
namespace {

constexpr int32_t kEndOfText = 50256;  // <|endoftext|>: special, and not Imp's eos
constexpr int32_t kHello = 15496;      // "Hello"
constexpr int32_t kWorld = 995;        // " world"

class TokenLoopTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { engine_ = Engine::load(testing::bundled_model_dir()).release(); }
  static void TearDownTestSuite() {
    delete engine_;
    engine_ = nullptr;
  }

  // Logits whose greedy pick is `token`.
  static std::vector<float> pick(int32_t token) {
    std::vector<float> logits(static_cast<size_t>(engine_->model().config().text.vocab_size), 0.0f);
    logits[static_cast<size_t>(token)] = 10.0f;
    return logits;
  }

  // Steps the loop through `tokens` (greedy) while it asks to feed, collecting its pieces.
  static std::vector<std::string> run(TokenLoop& loop, const std::vector<int32_t>& tokens, bool keep_going = true) {
    std::vector<std::string> pieces;
    const TextCallback on_text = [&](std::string_view piece) {
      pieces.emplace_back(piece);
      return keep_going;
    };
    for (int32_t token : tokens) {
      std::vector<float> logits = pick(token);
      const TokenLoop::Next next = loop.step(logits, on_text);
      EXPECT_EQ(loop.token(), token);
      if (next == TokenLoop::Next::kFinished) break;
    }
    return pieces;
  }

  static int32_t eos() { return engine_->model().config().eos_token_ids.front(); }

  static Engine* engine_;
};

Engine* TokenLoopTest::engine_ = nullptr;

TEST_F(TokenLoopTest, NoBudgetFinishesAtOnce) {
  GenerationOptions options;
  const std::vector<int32_t> prompt = {kHello};
  TokenLoop loop(*engine_, options, prompt, 0);
  EXPECT_TRUE(loop.finished());
  EXPECT_EQ(loop.finish_reason(), "length");
  EXPECT_EQ(loop.sampled(), 0);
}

TEST_F(TokenLoopTest, StopsAtTheBudgetAndHandsOutEachPiece) {
  GenerationOptions options;
  std::vector<int32_t> seen;
  options.on_token = [&](int32_t token, std::span<const float>) { seen.push_back(token); };
  TokenLoop loop(*engine_, options, std::vector<int32_t>{kWorld}, 2);
  EXPECT_EQ(run(loop, {kHello, kWorld, kHello}), (std::vector<std::string>{"Hello", " world"}));
  EXPECT_EQ(loop.finish_reason(), "length");
  EXPECT_EQ(loop.text(), "Hello world");
  EXPECT_EQ(std::vector<int32_t>(loop.tokens().begin(), loop.tokens().end()), (std::vector<int32_t>{kHello, kWorld}));
  EXPECT_EQ(seen, (std::vector<int32_t>{kHello, kWorld}));
}

TEST_F(TokenLoopTest, EosEndsTheReplyAndSpecialTokensAreDropped) {
  GenerationOptions options;
  TokenLoop loop(*engine_, options, std::vector<int32_t>{}, 10);
  EXPECT_EQ(run(loop, {kEndOfText, kHello, eos(), kWorld}), (std::vector<std::string>{"Hello"}));
  EXPECT_EQ(loop.finish_reason(), "stop");
  EXPECT_EQ(loop.text(), "Hello");
  EXPECT_EQ(loop.sampled(), 3);  // the eos counts

  options.ignore_eos = true;
  TokenLoop ignoring(*engine_, options, std::vector<int32_t>{}, 3);
  run(ignoring, {kHello, eos(), kWorld});
  EXPECT_EQ(ignoring.finish_reason(), "length");
  EXPECT_EQ(ignoring.text(), "Hello world");
}

TEST_F(TokenLoopTest, StopStringsAcrossTokensAreHeldBackThenCut) {
  GenerationOptions options;
  options.stop = {"o w"};
  TokenLoop loop(*engine_, options, std::vector<int32_t>{}, 10);
  // "Hello" ends with "o", which might begin "o w": held back until " world" decides.
  EXPECT_EQ(run(loop, {kHello, kWorld, kHello}), (std::vector<std::string>{"Hell"}));
  EXPECT_EQ(loop.finish_reason(), "stop");
  EXPECT_EQ(loop.text(), "Hell");

  options.stop = {"o!"};
  TokenLoop decided(*engine_, options, std::vector<int32_t>{}, 2);
  // " world" decides: no stop string, so the held-back "o" goes out with it.
  EXPECT_EQ(run(decided, {kHello, kWorld}), (std::vector<std::string>{"Hell", "o world"}));
  EXPECT_EQ(decided.finish_reason(), "length");

  TokenLoop ended(*engine_, options, std::vector<int32_t>{}, 1);
  // The budget ends the reply: what was held back is final, and handed out last.
  EXPECT_EQ(run(ended, {kHello}), (std::vector<std::string>{"Hell", "o"}));
  EXPECT_EQ(ended.finish_reason(), "length");
}

TEST_F(TokenLoopTest, NeverHandsOutHalfACharacter) {
  // The byte-level tokens of "é" (C3 A9), found in the vocabulary.
  int32_t lead = -1, trail = -1;
  for (int32_t id = 0; id < 1024 && (lead < 0 || trail < 0); ++id) {
    const std::string bytes = engine_->tokenizer().token_bytes(id);
    if (bytes == "\xC3") lead = id;
    if (bytes == "\xA9") trail = id;
  }
  ASSERT_GE(lead, 0);
  ASSERT_GE(trail, 0);
  GenerationOptions options;
  TokenLoop loop(*engine_, options, std::vector<int32_t>{}, 3);
  EXPECT_EQ(run(loop, {kHello, lead, trail}), (std::vector<std::string>{"Hello", "\xC3\xA9"}));
}

TEST_F(TokenLoopTest, CancelsWhenTheReaderSaysSoOrFromOutside) {
  GenerationOptions options;
  TokenLoop loop(*engine_, options, std::vector<int32_t>{}, 10);
  EXPECT_EQ(run(loop, {kHello, kWorld}, /*keep_going=*/false), (std::vector<std::string>{"Hello"}));
  EXPECT_EQ(loop.finish_reason(), "cancelled");
  EXPECT_EQ(loop.sampled(), 1);

  TokenLoop outside(*engine_, options, std::vector<int32_t>{}, 10);
  run(outside, {kHello});
  outside.cancel();
  EXPECT_TRUE(outside.finished());
  EXPECT_EQ(outside.finish_reason(), "cancelled");
}

}  // namespace
}  // namespace lumen
