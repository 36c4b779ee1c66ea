// End-to-end tests of the `lumen` command: fixture parity through `generate --json`, the
// people-facing commands on the bundled model, and a clear one-line error with a non-zero exit
// for every bad input.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/run_cli.h"
#include "test_data.h"

namespace lumen {
namespace {

namespace fs = std::filesystem;
using testing::count_lines;
using testing::run_cli;

std::string eval_image(int i) {
  char name[64];
  std::snprintf(name, sizeof(name), "scene_%04d.png", i);
  return (testing::data_dir() / "eval" / "shapes" / "images" / name).string();
}

// A scratch directory removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("lumen_cli_test_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

// A copy of the bundled model whose config.json is edited by `edit` (weights are symlinked).
fs::path model_with_config(const TempDir& dir, const std::function<void(nlohmann::json&)>& edit) {
  fs::path model = dir.path / "model";
  fs::create_directories(model);
  for (const auto& entry : fs::directory_iterator(testing::bundled_model_dir())) {
    if (entry.path().filename() != "config.json") fs::create_symlink(entry.path(), model / entry.path().filename());
  }
  auto config = nlohmann::json::parse(testing::read_file(testing::bundled_model_dir() / "config.json"));
  edit(config);
  std::ofstream(model / "config.json") << config.dump(2);
  return model;
}

void expect_clean_failure(const testing::CliResult& r, const std::string& fragment) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "") << "no partial output on stdout";
  EXPECT_EQ(count_lines(r.err), 1u) << r.err;
  EXPECT_NE(r.err.find(fragment), std::string::npos) << "stderr: " << r.err;
}

TEST(CliGenerate, JsonReproducesEveryFixtureCase) {
  for (const char* fixture : {"imp-tiny-a", "imp-tiny-b-msft"}) {
    const fs::path dir = testing::fixtures_dir() / fixture;
    auto ref = nlohmann::json::parse(testing::read_file(dir / "reference.json"));
    for (const auto& c : ref["cases"]) {
      std::vector<std::string> args = {"generate", "-m", dir.string(), "--raw-prompt", c["prompt"], "--ignore-eos",
                                       "--max-tokens", std::to_string(c["generated_ids"].size()), "--json"};
      for (const auto& image : c["images"]) {
        fs::path path = testing::images_dir() / image.get<std::string>();
        if (!fs::exists(path)) path = testing::fixtures_dir() / "preprocess" / image.get<std::string>();
        args.push_back("-i");
        args.push_back(path.string());
      }
      auto r = run_cli(args);
      ASSERT_EQ(r.exit_code, 0) << r.err;
      auto out = nlohmann::json::parse(r.out);
      EXPECT_EQ(out["tokens"], c["generated_ids"]) << fixture << " " << c["name"];
      EXPECT_EQ(out["prompt_tokens"], c["prompt_ids"]) << fixture << " " << c["name"];
      EXPECT_TRUE(out["timings"].contains("prefill_ms"));
    }
  }
}

TEST(CliTokenize, JsonIds) {
  auto r = run_cli({"tokenize", "--text", "Hello world", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["ids"], nlohmann::json::parse("[15496, 995]"));
}

TEST(CliInfo, DescribesTheBundledModel) {
  auto r = run_cli({"info"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("image tokens: 64 per image"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("hidden 96, 6 layers"), std::string::npos) << r.out;
}

TEST(CliAsk, AnswersLikeTheReferenceImplementation) {
  // Line 2 of questions.jsonl: scene_0000, "How many objects are in the image?".
  auto r = run_cli({"ask", "-i", eval_image(0), "How many objects are in the image?"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "There are two shapes.\n");
}

TEST(CliHelp, EveryCommandHasHelp) {
  for (const char* command : {"ask", "caption", "chat", "eval", "generate", "tokenize", "info"}) {
    auto r = run_cli({command, "--help"});
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_NE(r.out.find("usage: lumen"), std::string::npos) << command;
  }
  auto r = run_cli({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("caption"), std::string::npos);
}

TEST(CliCaption, FolderWithJsonlAndAnUnreadableFile) {
  TempDir dir;
  for (int i = 0; i < 3; ++i) fs::copy_file(eval_image(i), dir.path / fs::path(eval_image(i)).filename());
  std::ofstream(dir.path / "broken.png") << "this is not an image";
  auto r = run_cli({"caption", dir.path.string(), "--jsonl"});
  EXPECT_EQ(r.exit_code, 1) << "a skipped file sets the exit status";
  EXPECT_EQ(count_lines(r.out), 3u) << r.out;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    EXPECT_TRUE(j["image"].is_string());
    EXPECT_FALSE(j["caption"].get<std::string>().empty());
    EXPECT_TRUE(j["ms"].is_number());
  }
  EXPECT_NE(r.err.find("broken.png"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("warning"), std::string::npos) << r.err;
}

TEST(CliChat, ConversationOverStdin) {
  auto r = run_cli({"chat"}, "/image " + eval_image(0) + "\nHow many objects are in the image?\n/clear\n/quit\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "There are two shapes.\n");
}

// The chat keeps its KV cache: the second turn prefills only its own tokens (the template's
// "USER: ... ASSISTANT:" around the new question), and says so with -v.
TEST(CliChat, SecondTurnPrefillsOnlyTheNewTurn) {
  auto r = run_cli({"chat", "-v"}, "/image " + eval_image(0) +
                                       "\nHow many objects are in the image?\nWhat color is the small circle?\n/quit\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count_lines(r.out), 2u) << r.out;
  std::vector<std::array<long, 3>> turns;  // prefilled, total, reused
  std::istringstream lines(r.err);
  std::string line;
  while (std::getline(lines, line)) {
    std::array<long, 3> t{};
    if (std::sscanf(line.c_str(), "lumen: prefilled %ld of %ld prompt positions (%ld reused)", &t[0], &t[1], &t[2]) == 3) {
      turns.push_back(t);
    }
  }
  ASSERT_EQ(turns.size(), 2u) << r.err;
  EXPECT_EQ(turns[0][2], 0) << "the first turn prefills everything";
  EXPECT_EQ(turns[0][0], turns[0][1]);
  EXPECT_GT(turns[0][1], 64) << "64 image positions and the template";
  // Turn 2 reuses turn 1's prompt and reply (all but the reply's last token, which the cache
  // never saw) and prefills the rest: a few tokens, far fewer than the whole prompt.
  EXPECT_GT(turns[1][2], turns[0][1]);
  EXPECT_EQ(turns[1][0] + turns[1][2], turns[1][1]);
  EXPECT_LT(turns[1][0], 24) << r.err;
}

TEST(CliEval, JsonSummaryOnASubset) {
  auto r = run_cli({"eval", (testing::data_dir() / "eval" / "shapes" / "questions.jsonl").string(), "--limit", "24",
                    "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["questions"], 24);
  EXPECT_GE(j["accuracy"]["overall"].get<double>(), 0.0);
  EXPECT_LE(j["accuracy"]["overall"].get<double>(), 1.0);
  EXPECT_TRUE(j["accuracy"].contains("count"));
  EXPECT_EQ(j["reference_matches"], 24) << "every output equals the reference implementation's";
}

// --- bad input: one clear line on stderr, non-zero exit, nothing on stdout ---

TEST(CliQuantize, WritesACheckpointThatAnswersLikeConversionAtLoad) {
  // models/quantized_fixture_test.cpp checks the written checkpoint itself; this checks the
  // command around it: its report, and that the result answers with -m alone.
  TempDir dir;
  const fs::path out = dir.path / "q8";
  const std::string model = testing::bundled_model_dir().string();
  auto r = run_cli({"quantize", "-m", model, "--quant", "q8_0", "-o", out.string(), "-t", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("wrote " + (out / "model.safetensors").string() + ": ", 0), 0u) << r.out;
  auto as_written = run_cli({"ask", "-m", out.string(), "-i", eval_image(0), "--max-tokens", "8", "What shape is it?"});
  auto at_load = run_cli({"ask", "-m", model, "--quant", "q8_0", "-i", eval_image(0), "--max-tokens", "8", "What shape is it?"});
  ASSERT_EQ(as_written.exit_code, 0) << as_written.err;
  ASSERT_EQ(at_load.exit_code, 0) << at_load.err;
  EXPECT_FALSE(as_written.out.empty());
  EXPECT_EQ(as_written.out, at_load.out);
}

TEST(CliBadInput, QuantizeOntoItsOwnInput) {
  TempDir dir;
  const fs::path model = model_with_config(dir, [](nlohmann::json&) {});
  const auto before = fs::file_size(model / "config.json");
  expect_clean_failure(run_cli({"quantize", "-m", model.string(), "--quant", "q4_0", "-o", model.string()}),
                       "is the checkpoint directory itself");
  EXPECT_EQ(fs::file_size(model / "config.json"), before);
}

TEST(CliBadInput, MissingImageFile) {
  expect_clean_failure(run_cli({"ask", "-i", "/nonexistent/cat.png", "What is it?"}), "/nonexistent/cat.png");
}

TEST(CliBadInput, DirectoryWithNoModel) {
  TempDir dir;
  expect_clean_failure(run_cli({"ask", "-m", dir.path.string(), "-i", eval_image(0), "What?"}), "no model in");
  expect_clean_failure(run_cli({"info", "-m", "/nonexistent/model"}), "/nonexistent/model");
}

TEST(CliBadInput, TruncatedAndEmptyImages) {
  expect_clean_failure(run_cli({"ask", "-i", (testing::images_dir() / "truncated.jpg").string(), "What?"}),
                       "truncated.jpg");
  TempDir dir;
  std::ofstream(dir.path / "empty.png").close();
  expect_clean_failure(run_cli({"ask", "-i", (dir.path / "empty.png").string(), "What?"}), "empty.png");
}

TEST(CliBadInput, ImageOverThePixelLimit) {
  // scene images are at least 128 px on a side: 1000 pixels is too many.
  expect_clean_failure(run_cli({"ask", "--max-pixels", "1000", "-i", eval_image(0), "What?"}), "limit");
}

TEST(CliBadInput, MoreImageMarkersThanImages) {
  expect_clean_failure(run_cli({"generate", "--raw-prompt", "<image>\n<image>\nCompare.", "-i", eval_image(0)}),
                       "<image> markers");
}

TEST(CliBadInput, UnsupportedProjectorAndArchitecture) {
  TempDir dir;
  fs::path model = model_with_config(dir, [](nlohmann::json& c) { c["mm_projector_type"] = "resampler"; });
  expect_clean_failure(run_cli({"info", "-m", model.string()}), "unsupported projector");
  TempDir dir2;
  model = model_with_config(dir2, [](nlohmann::json& c) {
    c["model_type"] = "llama";
    c["architectures"] = {"LlamaForCausalLM"};
  });
  expect_clean_failure(run_cli({"ask", "-m", model.string(), "-i", eval_image(0), "What?"}), "unsupported architecture");
}

TEST(CliBadInput, UsageErrorsExitWithTwo) {
  auto r = run_cli({"ask", "--temperature", "hot", "What?"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(count_lines(r.err), 1u);
  r = run_cli({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace lumen
