// The public API (include/lumen/lumen.hpp, lumen.h) in-tree: answers equal the CLI's, errors
// come back as lumen::api::Error or NULL + message and never abort, callbacks' own exceptions
// pass through unchanged. tests/install checks the installed library the same way.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cli/run_cli.h"
#include "lumen/lumen.h"
#include "lumen/lumen.hpp"
#include "test_data.h"

namespace lumen::testing {
namespace {

namespace fs = std::filesystem;

const std::string kShapes = (fs::path(LUMEN_SOURCE_DIR) / "examples" / "shapes.png").string();

std::string scene(int i) {
  char name[32];
  std::snprintf(name, sizeof(name), "scene_%04d.png", i);
  return (data_dir() / "eval" / "shapes" / "images" / name).string();
}

// `lumen ask` (the bundled model) minus its final newline.
std::string cli_answer(const std::vector<std::string>& images, const std::string& question) {
  std::vector<std::string> args = {"ask"};
  for (const auto& image : images) args.insert(args.end(), {"-i", image});
  args.push_back(question);
  CliResult r = run_cli(args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(r.out.empty());
  EXPECT_EQ(r.out.back(), '\n');
  return r.out.substr(0, r.out.size() - 1);
}

class LibraryApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { model_ = new api::Model(api::Model::load(bundled_model_dir().string())); }
  static void TearDownTestSuite() {
    delete model_;
    model_ = nullptr;
  }
  static api::Model* model_;
};
api::Model* LibraryApi::model_ = nullptr;

TEST_F(LibraryApi, AskEqualsTheCli) {
  for (const std::string question : {"Describe the image.", "How many objects are in the image?"}) {
    EXPECT_EQ(model_->ask({kShapes}, question), cli_answer({kShapes}, question)) << question;
  }
  EXPECT_EQ(model_->ask({}, "Hello"), cli_answer({}, "Hello"));
  EXPECT_EQ(model_->ask({scene(1), scene(2)}, "Describe the image."), cli_answer({scene(1), scene(2)}, "Describe the image."));
}

TEST_F(LibraryApi, StreamPiecesMakeTheAnswer) {
  std::string streamed;
  int pieces = 0;
  const std::string answer = model_->stream({kShapes}, "Describe the image.", [&](std::string_view piece) {
    streamed += piece;
    ++pieces;
    return true;
  });
  EXPECT_EQ(answer, streamed);
  EXPECT_GT(pieces, 1);
  EXPECT_EQ(answer, model_->ask({kShapes}, "Describe the image."));
}

TEST_F(LibraryApi, CallbackExceptionReachesTheCallerUnchanged) {
  struct Stop {};
  EXPECT_THROW(model_->stream({kShapes}, "Describe the image.", [](std::string_view) -> bool { throw Stop{}; }), Stop);
  // The model still works afterwards.
  EXPECT_FALSE(model_->ask({kShapes}, "Describe the image.").empty());
}

TEST_F(LibraryApi, BadInputThrowsError) {
  auto kind_of = [](auto&& call) {
    try {
      call();
    } catch (const api::Error& e) {
      EXPECT_NE(std::string(e.what()), "");
      return e.kind();
    }
    ADD_FAILURE() << "no error";
    return api::ErrorKind::kInternal;
  };
  EXPECT_EQ(kind_of([] { api::Model::load("/nonexistent/model"); }), api::ErrorKind::kNotFound);
  EXPECT_EQ(kind_of([] { api::Model::load("", {.alpha = "purple"}); }), api::ErrorKind::kInvalidInput);
  EXPECT_EQ(kind_of([] { api::Model::load("", {.device = "tpu"}); }), api::ErrorKind::kInvalidInput);
  EXPECT_EQ(kind_of([&] { model_->ask({"/nonexistent.png"}, "Hi"); }), api::ErrorKind::kNotFound);
  const std::string not_an_image = (data_dir() / "eval" / "shapes" / "questions.jsonl").string();
  EXPECT_EQ(kind_of([&] { model_->ask({not_an_image}, "Hi"); }), api::ErrorKind::kInvalidInput);
  EXPECT_EQ(kind_of([&] { model_->ask({kShapes}, "Hi", {.max_tokens = -1}); }), api::ErrorKind::kInvalidInput);
  EXPECT_EQ(kind_of([&] { model_->ask({kShapes}, "Hi", {.temperature = -1}); }), api::ErrorKind::kInvalidInput);
  EXPECT_EQ(kind_of([&] { model_->ask({kShapes}, std::string(20000, 'a')); }), api::ErrorKind::kLimitExceeded);
  EXPECT_EQ(kind_of([&] { model_->embed_texts({"x"}, "nope"); }), api::ErrorKind::kInvalidInput);
  api::Model moved = *model_;
  api::Model into = std::move(moved);
  EXPECT_EQ(kind_of([&] { moved.ask({}, "Hi"); }), api::ErrorKind::kInvalidInput);  // NOLINT: use after move on purpose
}

TEST_F(LibraryApi, ChatKeepsTurns) {
  api::Chat chat = model_->chat();
  const std::string first = chat.send("Describe the image.", {kShapes});
  EXPECT_EQ(first, model_->ask({kShapes}, "Describe the image."));
  EXPECT_FALSE(chat.send("What color is the circle at the top?").empty());
  EXPECT_EQ(chat.turns(), 4u);
  EXPECT_THROW(chat.send("Hi", {"/nonexistent.png"}), api::Error);
  EXPECT_EQ(chat.turns(), 4u);
  chat.clear();
  EXPECT_EQ(chat.turns(), 0u);
}

TEST_F(LibraryApi, CaptionEqualsTheCli) {
  const std::vector<std::string> images = {scene(3), scene(4), kShapes};
  const std::vector<std::string> captions = model_->caption(images, {.batch = 2});
  ASSERT_EQ(captions.size(), images.size());
  CliResult r = run_cli({"caption", "--batch", "2", images[0], images[1], images[2]});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string expected;
  for (size_t i = 0; i < images.size(); ++i) expected += images[i] + "\t" + captions[i] + "\n";
  EXPECT_EQ(r.out, expected);
}

TEST_F(LibraryApi, EmbeddingsAreNormalisedRows) {
  const int64_t dim = model_->embedding_dim();
  const auto texts = model_->embed_texts({"a red circle", "a blue square"});
  const auto images = model_->embed_images({kShapes});
  ASSERT_EQ(texts.size(), 2u);
  ASSERT_EQ(images.size(), 1u);
  for (const auto* row : {&texts[0], &texts[1], &images[0]}) {
    ASSERT_EQ(static_cast<int64_t>(row->size()), dim);
    double norm = 0;
    for (float v : *row) norm += static_cast<double>(v) * v;
    EXPECT_NEAR(std::sqrt(norm), 1.0, 1e-5);
  }
}

TEST_F(LibraryApi, IndexBuildSearchRecommendSaveLoad) {
  const fs::path dir = fs::temp_directory_path() / ("lumen-api-index-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  {
    std::ofstream catalog(dir / "catalog.jsonl");
    for (int i = 0; i < 6; ++i) catalog << "{\"id\": \"s" << i << "\", \"image\": \"" << scene(i) << "\"}\n";
  }
  api::Index index = api::Index::build(*model_, (dir / "catalog.jsonl").string());
  EXPECT_EQ(index.size(), 6u);
  const auto hits = index.search_text(*model_, "a red circle", 3);
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_GE(hits[0].score, hits[1].score);
  EXPECT_NE(hits[0].fields_json.find("\"id\""), std::string::npos);
  const auto by_image = index.search_image(*model_, scene(2), 1);
  ASSERT_EQ(by_image.size(), 1u);
  EXPECT_EQ(by_image[0].id, "s2");
  const auto recommended = index.recommend({.liked = {"s1"}, .k = 2});
  ASSERT_EQ(recommended.size(), 2u);
  for (const auto& item : recommended) EXPECT_NE(item.id, "s1");
  EXPECT_THROW(index.recommend({.liked = {"nope"}}), api::Error);
  EXPECT_THROW(index.recommend({.text = "red"}), api::Error);  // a text preference needs a model
  EXPECT_EQ(index.recommend({.text = "red", .k = 1}, model_).size(), 1u);
  EXPECT_THROW(index.search_text(*model_, "x", 0), api::Error);

  index.save((dir / "idx").string());
  api::Index loaded = api::Index::load((dir / "idx").string());
  EXPECT_EQ(loaded.size(), 6u);
  EXPECT_EQ(loaded.search_text(*model_, "a red circle", 3)[0].id, hits[0].id);
  EXPECT_THROW(api::Index::load((dir / "missing").string()), api::Error);
  fs::remove_all(dir);
}

TEST(LibraryCApi, AskEqualsTheCli) {
  char* error = nullptr;
  lumen_model* model = lumen_model_load(nullptr, &error);
  ASSERT_NE(model, nullptr) << error;
  EXPECT_EQ(error, nullptr);
  char* answer = lumen_ask(model, kShapes.c_str(), "Describe the image.", &error);
  ASSERT_NE(answer, nullptr) << error;
  EXPECT_EQ(std::string(answer), cli_answer({kShapes}, "Describe the image."));
  lumen_string_free(answer);
  char* text_only = lumen_ask(model, nullptr, "Hello", nullptr);
  ASSERT_NE(text_only, nullptr);
  EXPECT_EQ(std::string(text_only), cli_answer({}, "Hello"));
  lumen_string_free(text_only);
  lumen_model_free(model);
}

TEST(LibraryCApi, FailuresReturnNullAndAMessage) {
  char* error = nullptr;
  EXPECT_EQ(lumen_model_load("/nonexistent/model", &error), nullptr);
  ASSERT_NE(error, nullptr);
  EXPECT_NE(std::string(error).find("/nonexistent/model: no such"), std::string::npos) << error;
  lumen_string_free(error);
  EXPECT_EQ(lumen_model_load("/nonexistent/model", nullptr), nullptr);  // no error pointer: still no crash

  lumen_model* model = lumen_model_load("", &error);  // "" is the bundled model too
  ASSERT_NE(model, nullptr) << error;
  EXPECT_EQ(lumen_ask(nullptr, kShapes.c_str(), "Hi", &error), nullptr);
  ASSERT_NE(error, nullptr);
  EXPECT_STREQ(error, "lumen_ask: model is NULL");
  lumen_string_free(error);
  EXPECT_EQ(lumen_ask(model, kShapes.c_str(), nullptr, &error), nullptr);
  EXPECT_STREQ(error, "lumen_ask: question is NULL");
  lumen_string_free(error);
  EXPECT_EQ(lumen_ask(model, "/nonexistent.png", "Hi", &error), nullptr);
  EXPECT_NE(std::string(error).find("no such file"), std::string::npos) << error;
  lumen_string_free(error);
  EXPECT_EQ(lumen_ask(model, kShapes.c_str(), std::string(20000, 'a').c_str(), &error), nullptr);
  EXPECT_NE(error, nullptr);
  lumen_string_free(error);
  lumen_model_free(model);
  lumen_model_free(nullptr);
  lumen_string_free(nullptr);
}

TEST(LibraryCApi, DefaultModelDirAndVersion) {
  char* dir = lumen_default_model_dir();
  ASSERT_NE(dir, nullptr);
  EXPECT_EQ(fs::path(dir), bundled_model_dir());  // in-tree: the source tree's copy
  lumen_string_free(dir);
  EXPECT_EQ(std::string(lumen_version()), LUMEN_TEST_PROJECT_VERSION);
}

}  // namespace
}  // namespace lumen::testing
