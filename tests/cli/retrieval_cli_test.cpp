// `lumen embed`, `lumen index build|add|remove|info`, `lumen search` and `lumen recommend` end to
// end on the bundled model (a few scenes) and the SigLIP fixture, plus clean failures.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/run_cli.h"
#include "test_data.h"

namespace lumen {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_cli;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("lumen_rcli_" + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string scene(int i) {
  char name[64];
  std::snprintf(name, sizeof(name), "scene_%04d.png", i);
  return (testing::data_dir() / "eval" / "shapes" / "images" / name).string();
}

void expect_clean_failure(const testing::CliResult& r, const std::string& fragment) {
  EXPECT_NE(r.exit_code, 0);
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find(fragment), std::string::npos) << r.err;
}

TEST(CliRetrieval, IndexSearchRecommendOnBundledScenes) {
  TempDir dir;
  {
    std::ofstream catalog(dir.path / "catalog.jsonl");
    for (int i = 0; i < 6; ++i) catalog << json{{"id", "s" + std::to_string(i)}, {"image", scene(i)}, {"rank", i}}.dump() << "\n";
    catalog << json{{"id", "note"}, {"text", "a large red circle"}}.dump() << "\n";
  }
  const std::string index = (dir.path / "index").string();
  auto r = run_cli({"index", "build", (dir.path / "catalog.jsonl").string(), "-o", index, "-t", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("indexed 7 items (caption, exact"), std::string::npos) << r.err;

  // An image query returns that scene first with cosine 1; metadata comes back.
  r = run_cli({"search", index, "--image", scene(3), "-k", "3", "-t", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json out = json::parse(r.out);
  ASSERT_EQ(out["results"].size(), 3u);
  EXPECT_EQ(out["results"][0]["id"], "s3");
  EXPECT_EQ(out["results"][0]["rank"], 3);
  EXPECT_NEAR(out["results"][0]["score"].get<double>(), 1.0, 1e-4);
  // A text query finds the text item whose words it shares.
  r = run_cli({"search", index, "--text", "large red circle", "-k", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["results"][0]["id"], "note");

  r = run_cli({"recommend", index, "--liked", "s0,s1", "--disliked", "s2", "-k", "10", "--diversity", "0.3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  out = json::parse(r.out);
  EXPECT_EQ(out["results"].size(), 4u);
  for (const auto& item : out["results"]) {
    EXPECT_NE(item["id"], "s0");
    EXPECT_NE(item["id"], "s2");
  }

  // add (one new, one replaced) and remove, then info.
  {
    std::ofstream more(dir.path / "more.jsonl");
    more << json{{"id", "s6"}, {"image", scene(6)}}.dump() << "\n" << json{{"id", "note"}, {"text", "blue"}}.dump() << "\n";
  }
  r = run_cli({"index", "add", index, (dir.path / "more.jsonl").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("added 1 items (1 replaced); 8 in"), std::string::npos) << r.err;
  r = run_cli({"index", "remove", index, "s0,s1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_cli({"index", "info", index});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  out = json::parse(r.out);
  EXPECT_EQ(out["items"], 6);
  EXPECT_EQ(out["mode"], "exact");

  // embed --json shows the caption behind an image's vector: the model's recorded greedy caption.
  r = run_cli({"embed", "--image", scene(0), "--text", "a purple circle", "--json", "-t", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  out = json::parse(r.out);
  EXPECT_EQ(out["method"], "caption");
  EXPECT_EQ(out["data"][0]["caption"],
            "A small purple circle at the bottom and a small purple circle at the bottom right. The background is white.");
  EXPECT_FALSE(out["data"][1].contains("caption"));

  expect_clean_failure(run_cli({"recommend", index, "--liked", "s0"}), "no item with id \"s0\"");
  expect_clean_failure(run_cli({"index", "remove", index, "ghost"}), "ghost");
  expect_clean_failure(run_cli({"search", index}), "exactly one of --text and --image");
  expect_clean_failure(run_cli({"search", (dir.path / "nope").string(), "--text", "x"}), "not a Lumen index");
  expect_clean_failure(run_cli({"search", index, "--text", "x", "-m", (testing::fixtures_dir() / "siglip-tiny").string()}),
                       "no language model");
}

TEST(CliRetrieval, HnswModeAndSiglipEmbeddings) {
  TempDir dir;
  const fs::path siglip = testing::fixtures_dir() / "siglip-tiny";
  {
    std::ofstream catalog(dir.path / "catalog.jsonl");
    const char* photos[] = {"chelsea.png", "coffee.png", "rocket.jpg", "astronaut.png", "camera.png"};
    for (const char* p : photos) {
      catalog << json{{"id", p}, {"image", (testing::images_dir() / p).string()}, {"text", std::string("photo ") + p}}.dump() << "\n";
    }
  }
  const std::string index = (dir.path / "index").string();
  auto r = run_cli({"index", "build", (dir.path / "catalog.jsonl").string(), "-o", index, "-m", siglip.string(), "--mode",
                    "hnsw", "--text-weight", "0.5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("(siglip, hnsw, 32 dims)"), std::string::npos) << r.err;
  EXPECT_TRUE(fs::exists(fs::path(index) / "hnsw.bin"));
  r = run_cli({"search", index, "--image", (testing::images_dir() / "rocket.jpg").string(), "-k", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["results"].size(), 2u);

  // embed: JSON rows are unit vectors; --npy writes a float32 [3, 32] array.
  r = run_cli({"embed", "-m", siglip.string(), "--image", (testing::images_dir() / "coffee.png").string(), "--text",
               "a cup of coffee", "--text", "ROCKET launch!!", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json out = json::parse(r.out);
  EXPECT_EQ(out["method"], "siglip");
  EXPECT_EQ(out["dim"], 32);
  ASSERT_EQ(out["data"].size(), 3u);
  EXPECT_EQ(out["data"][0]["type"], "image");
  const auto reference = json::parse(testing::read_file(siglip / "reference.json"));
  const auto expected = reference["text_embeds"][1].get<std::vector<double>>();  // "a cup of coffee"
  const auto got = out["data"][1]["embedding"].get<std::vector<double>>();
  double cos = 0;
  for (size_t i = 0; i < expected.size(); ++i) cos += expected[i] * got[i];
  EXPECT_GE(cos, 0.9999);
  const std::string npy = (dir.path / "e.npy").string();
  r = run_cli({"embed", "-m", siglip.string(), "--text", "a", "--text", "b", "--text", "c", "--npy", npy});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string bytes = testing::read_file(npy);
  ASSERT_GT(bytes.size(), 128u);
  EXPECT_EQ(bytes.substr(0, 6), "\x93NUMPY");
  EXPECT_NE(bytes.find("'shape': (3, 32)"), std::string::npos);
  EXPECT_EQ((bytes.size() - 128) % 4, 0u);
  EXPECT_EQ(bytes.size(), 128u + 3 * 32 * 4);

  expect_clean_failure(run_cli({"embed", "-m", siglip.string()}), "at least one --image or --text");
  expect_clean_failure(run_cli({"embed", "-m", siglip.string(), "--method", "caption", "--text", "x"}),
                       "no language model");
  expect_clean_failure(run_cli({"embed", "--method", "magic", "--text", "x"}), "unknown embedding method");
}

}  // namespace
}  // namespace lumen
