// Limits on generation, end to end through the CLI on the bundled model (context 512 positions,
// 64 per image): a prompt that with its images exceeds the context is an error, not a silent
// truncation; the reply stops at the context's end with finish_reason "length"; --max-tokens is
// bounded; stop strings that span token boundaries cut the reply, streamed or not.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli/run_cli.h"
#include "hostile_files.h"

namespace lumen::hardening {
namespace {

std::string eval_image(int i) {
  char name[64];
  std::snprintf(name, sizeof(name), "scene_%04d.png", i);
  return (testing::data_dir() / "eval" / "shapes" / "images" / name).string();
}

TEST(GenerationLimits, ImagesPushingThePromptPastTheContextAreAnError) {
  // 8 images x 64 tokens = 512 positions, plus the text: over the context of 512.
  std::vector<std::string> args = {"generate", "--raw-prompt", ""};
  for (int i = 0; i < 8; ++i) {
    args[2] += "<image>\n";
    args.push_back("-i");
    args.push_back(eval_image(i));
  }
  args[2] += "Describe them.";
  auto r = testing::run_cli(args);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("lumen: error: the prompt needs 5"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(" text tokens + 8 images x 64), more than the model's context of 512"), std::string::npos)
      << r.err;
}

TEST(GenerationLimits, LongTextPromptIsAnError) {
  std::string prompt;
  for (int i = 0; i < 600; ++i) prompt += " apple";
  auto r = testing::run_cli({"generate", "--raw-prompt", prompt});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "lumen: error: the prompt needs 600 positions, more than the model's context of 512\n");
}

TEST(GenerationLimits, ReplyStopsAtTheEndOfTheContext) {
  std::string prompt;
  for (int i = 0; i < 505; ++i) prompt += " apple";
  auto r = testing::run_cli({"generate", "--raw-prompt", prompt, "--max-tokens", "100", "--ignore-eos", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["timings"]["prompt_positions"], 505);
  EXPECT_EQ(j["tokens"].size(), 7u) << "512 - 505 positions are left";
  EXPECT_EQ(j["finish_reason"], "length");
}

TEST(GenerationLimits, MaxTokensIsBounded) {
  auto r = testing::run_cli({"generate", "--raw-prompt", "Hi", "--max-tokens", "2000000"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "lumen generate: --max-tokens must be between 0 and 1048576, got 2000000\n");
  r = testing::run_cli({"generate", "--raw-prompt", "Hi", "--max-tokens", "-1"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "lumen generate: --max-tokens must be between 0 and 1048576, got -1\n");
  r = testing::run_cli({"generate", "--raw-prompt", "Hi", "--max-tokens", "99999999999999999999"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.err, "lumen generate: --max-tokens expects an integer, got '99999999999999999999'\n");
  r = testing::run_cli({"generate", "--raw-prompt", "Hi", "--max-tokens", "3", "--ignore-eos", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["tokens"].size(), 3u);
}

TEST(GenerationLimits, StopStringSpanningTokensCutsTheReply) {
  // Unstopped, the bundled model answers "There are two shapes." (tests/cli/cli_test.cpp);
  // "o sh" spans the tokens " two" and " shapes".
  const std::string question = "How many objects are in the image?";
  auto r = testing::run_cli({"ask", "-i", eval_image(0), question, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["answer"], "There are two shapes.");
  r = testing::run_cli({"ask", "-i", eval_image(0), question, "--stop", "o sh"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "There are tw\n") << "streamed output must hold back the partial stop string";
  r = testing::run_cli({"ask", "-i", eval_image(0), question, "--stop", "o sh", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["answer"], "There are tw") << r.out;
  EXPECT_EQ(j["finish_reason"], "stop") << r.out;
  // Two stop strings: the earliest in the text wins, even if listed second.
  r = testing::run_cli({"ask", "-i", eval_image(0), question, "--stop", "shapes", "--stop", "re tw"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "There a\n");
}

}  // namespace
}  // namespace lumen::hardening
