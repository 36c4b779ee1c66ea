// Hostile tokenizer files: a missing file, merges naming tokens the vocab lacks, and JSON built
// to break the loader are refused by BpeTokenizer::load (and Engine::load) with the file named.
#include <gtest/gtest.h>

#include "cli/run_cli.h"
#include "hostile_files.h"
#include "lumen/runtime/engine.h"
#include "lumen/text/bpe_tokenizer.h"

namespace lumen::hardening {
namespace {

TEST(HostileTokenizer, MissingMergesFile) {
  ScratchDir dir;
  const fs::path model = copy_bundled_model(dir, {"merges.txt"});
  expect_error([&] { BpeTokenizer::load(model); }, ErrorKind::kNotFound,
               {"no tokenizer in " + model.string() +
                ": merges.txt is missing; expected vocab.json + merges.txt or tokenizer.json"});
  // Through the whole loader and the CLI: one line, exit status 1.
  expect_error([&] { Engine::load(model); }, ErrorKind::kNotFound, {"merges.txt is missing"});
  auto r = testing::run_cli({"info", "-m", model.string()});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("merges.txt"), std::string::npos) << r.err;
}

TEST(HostileTokenizer, MissingVocabFile) {
  ScratchDir dir;
  const fs::path model = copy_bundled_model(dir, {"vocab.json"});
  expect_error([&] { BpeTokenizer::load(model); }, ErrorKind::kNotFound, {"no tokenizer in", ": vocab.json is missing;"});
}

TEST(HostileTokenizer, MergesWithUnknownTokens) {
  ScratchDir dir;
  const fs::path model = copy_bundled_model(dir, {"merges.txt"});
  std::ofstream(model / "merges.txt") << "#version: 0.2\nĠ t\nzzqx9 yy\n";
  expect_error([&] { BpeTokenizer::load(model); }, ErrorKind::kInvalidInput,
               {(model / "merges.txt").string() + ": line 3: merge token \"zzqx9\" is not in the vocab"});
  std::ofstream(model / "merges.txt") << "#version: 0.2\nĠ t\nh qqqqqq\n";
  expect_error([&] { BpeTokenizer::load(model); }, ErrorKind::kInvalidInput,
               {"line 3: merge token \"qqqqqq\" is not in the vocab"});
  std::ofstream(model / "merges.txt") << "#version: 0.2\nĠ t\nthree tokens here\n";
  expect_error([&] { BpeTokenizer::load(model); }, ErrorKind::kInvalidInput,
               {"line 3: expected two tokens separated by one space"});
}

TEST(HostileTokenizer, VocabWithHugeOrNegativeIds) {
  ScratchDir dir;
  const fs::path model = copy_bundled_model(dir, {"vocab.json", "merges.txt"});
  std::ofstream(model / "merges.txt") << "#version: 0.2\n";
  std::ofstream(model / "vocab.json") << R"({"a": 2000000000})";
  expect_error([&] { BpeTokenizer::load(model); }, ErrorKind::kInvalidInput,
               {"vocab.json: token \"a\" has id 2000000000, outside 0..4194303"});
  std::ofstream(model / "vocab.json") << R"({"a": -1})";
  expect_error([&] { BpeTokenizer::load(model); }, ErrorKind::kInvalidInput, {"has id -1, outside"});
}

TEST(HostileTokenizer, DeeplyNestedTokenizerJson) {
  // A tokenizer.json whose normalizer nests 200000 arrays: printing it into the error message
  // must not recurse 200000 frames deep (a stack overflow, found by review of the loader).
  ScratchDir dir;
  std::string nested = std::string(200000, '[') + std::string(200000, ']');
  dir.write("tokenizer.json", R"({"model": {"type": "BPE", "vocab": {}, "merges": []}, "normalizer": )" + nested +
                                  R"(, "pre_tokenizer": {"type": "ByteLevel"}})");
  expect_error([&] { BpeTokenizer::load(dir.path()); }, ErrorKind::kInvalidInput, {"normalizer", "is not supported"});
  dir.write("tokenizer.json", R"({"model": {"type": )" + nested + R"(, "vocab": {}, "merges": []}})");
  expect_error([&] { BpeTokenizer::load(dir.path()); }, ErrorKind::kInvalidInput, {"model type", "is not supported"});
}

TEST(HostileTokenizer, TokenIdsBeyondTheModelsVocabulary) {
  // An added token the embedding table has no row for: refused at load, not mid-request.
  ScratchDir dir;
  const fs::path model = copy_bundled_model(dir, {"added_tokens.json"});
  std::ofstream(model / "added_tokens.json") << R"({"<image>": 50296, "<extra>": 60000})";
  expect_error([&] { Engine::load(model); }, ErrorKind::kInvalidInput,
               {model.string() + ": the tokenizer has token ids up to 60000 but config.json's vocab_size is 51200"});
}

}  // namespace
}  // namespace lumen::hardening
