// `lumen caption --shard K/N -o FILE`, `lumen index build --shard K/N` and `lumen index merge`
// end to end on the bundled model and a few eval scenes: shards concatenate to the unsharded
// output, a finished shard is skipped on a rerun while a killed run's .tmp is redone, merged
// shard indexes search like one index, and bad specs and conflicting shards fail cleanly.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

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
           ("lumen_shcli_" + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
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

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool contains(const std::string& text, const std::string& fragment) { return text.find(fragment) != std::string::npos; }

TEST(CliShards, CaptionShardsConcatenateToTheUnshardedOutput) {
  TempDir dir;
  std::vector<std::string> images;
  for (int i = 0; i < 5; ++i) images.push_back(scene(i));
  std::vector<std::string> args = {"caption", "-t", "1"};
  args.insert(args.end(), images.begin(), images.end());
  const auto whole = run_cli(args);
  ASSERT_EQ(whole.exit_code, 0) << whole.err;
  ASSERT_EQ(testing::count_lines(whole.out), 5u);

  std::string joined;
  for (int k = 0; k < 3; ++k) {
    const fs::path out = dir.path / ("shard-" + std::to_string(k) + "-of-3.txt");
    std::vector<std::string> shard_args = args;
    shard_args.insert(shard_args.end(), {"--shard", std::to_string(k) + "/3", "-o", out.string()});
    const auto r = run_cli(shard_args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "");  // lines go to the file
    EXPECT_FALSE(fs::exists(out.string() + ".tmp"));
    joined += read(out);
  }
  // 5 images in 3 shards: 1, 2, 2 images; in K order they are the unsharded lines.
  EXPECT_EQ(testing::count_lines(read(dir.path / "shard-0-of-3.txt")), 1u);
  EXPECT_EQ(joined, whole.out);
}

TEST(CliShards, CaptionRerunSkipsACompleteShardAndRedoesAPartialOne) {
  TempDir dir;
  const fs::path out = dir.path / "shard-1-of-2.txt";
  const std::vector<std::string> args = {"caption", scene(0), scene(1), scene(2), scene(3), "-t", "1",
                                         "--shard", "1/2", "-o", out.string()};
  // A killed run left a partial .tmp: not complete, so the shard is captioned and the .tmp replaced.
  std::ofstream(out.string() + ".tmp") << "half a line";
  auto r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "shard 1/2: images [2, 4) of 4")) << r.err;
  const std::string done = read(out);
  EXPECT_EQ(testing::count_lines(done), 2u);
  EXPECT_TRUE(done.rfind(scene(2) + "\t", 0) == 0) << done;
  EXPECT_FALSE(fs::exists(out.string() + ".tmp"));

  // The output exists: the rerun skips the shard without touching it (it would rewrite a
  // changed file if it captioned again).
  std::ofstream(out, std::ios::app) << "marker\n";
  r = run_cli(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "shard 1/2 is complete")) << r.err;
  EXPECT_EQ(read(out), done + "marker\n");

  // Without --shard, -o replaces the file.
  r = run_cli({"caption", scene(0), "-t", "1", "-o", out.string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::count_lines(read(out)), 1u);
}

TEST(CliShards, BadShardSpecsAreUsageErrors) {
  TempDir dir;
  const std::string out = (dir.path / "o.txt").string();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"4/4", "K must be below N"}, {"0/0", "N must be at least 1"}, {"x/4", "whole numbers"},
      {"-1/4", "whole numbers"},    {"2", "expected K/N"},           {"1/2/3", "whole numbers"}};
  for (const auto& [spec, message] : cases) {
    for (const char* command : {"caption", "index"}) {
      const auto r = std::string(command) == "caption"
                         ? run_cli({"caption", scene(0), "--shard", spec, "-o", out})
                         : run_cli({"index", "build", "cat.jsonl", "--shard", spec, "-o", out});
      EXPECT_EQ(r.exit_code, 2) << command << " " << spec;
      EXPECT_EQ(r.out, "");
      EXPECT_TRUE(contains(r.err, message)) << command << " " << spec << ": " << r.err;
    }
  }
  const auto r = run_cli({"caption", scene(0), "--shard", "0/2"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "--shard needs -o FILE")) << r.err;
  EXPECT_FALSE(fs::exists(out));
}

TEST(CliShards, IndexShardsMergeIntoTheSingleIndex) {
  TempDir dir;
  const fs::path catalog = dir.path / "catalog.jsonl";
  {
    std::ofstream out(catalog);
    for (int i = 0; i < 7; ++i) out << json{{"id", "s" + std::to_string(i)}, {"image", scene(i)}}.dump() << "\n";
    out << "\n" << json{{"id", "note"}, {"text", "a large red circle"}}.dump() << "\n";  // blank lines do not count
  }
  const std::string single = (dir.path / "single").string();
  auto r = run_cli({"index", "build", catalog.string(), "-o", single, "-t", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> shards;
  for (int k = 0; k < 3; ++k) {
    shards.push_back((dir.path / ("shard-" + std::to_string(k) + ".idx")).string());
    r = run_cli({"index", "build", catalog.string(), "--shard", std::to_string(k) + "/3", "-o", shards.back(), "-t", "1"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  EXPECT_TRUE(contains(r.err, "shard 2/3: items [5, 8) of 8")) << r.err;
  // A rerun skips a finished shard; a stale .tmp beside a missing one is rebuilt.
  r = run_cli({"index", "build", catalog.string(), "--shard", "0/3", "-o", shards[0]});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "shard 0/3 is complete")) << r.err;
  fs::rename(shards[1], shards[1] + ".tmp");
  fs::remove(fs::path(shards[1] + ".tmp") / "vectors.f32");
  r = run_cli({"index", "build", catalog.string(), "--shard", "1/3", "-o", shards[1], "-t", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "indexed 3 items")) << r.err;
  EXPECT_FALSE(fs::exists(shards[1] + ".tmp"));

  const std::string merged = (dir.path / "merged").string();
  r = run_cli({"index", "merge", merged, shards[0], shards[1], shards[2]});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.err, "merged 3 shards, 8 items (exact, 1024 dims)")) << r.err;
  EXPECT_EQ(read(fs::path(merged) / "items.jsonl"), read(fs::path(single) / "items.jsonl"));
  for (const char* query : {"a red circle", "a large red circle", "blue square"}) {
    const auto a = run_cli({"search", merged, "--text", query, "-k", "8"});
    const auto b = run_cli({"search", single, "--text", query, "-k", "8"});
    ASSERT_EQ(a.exit_code, 0) << a.err;
    const json ja = json::parse(a.out), jb = json::parse(b.out);
    ASSERT_EQ(ja["results"].size(), jb["results"].size());
    for (size_t i = 0; i < ja["results"].size(); ++i) {
      EXPECT_EQ(ja["results"][i]["id"], jb["results"][i]["id"]) << query;
      EXPECT_NEAR(ja["results"][i]["score"].get<double>(), jb["results"][i]["score"].get<double>(), 1e-6) << query;
    }
  }

  // Refusals: an id in two shards, another embedder; nothing is written.
  const std::string refused = (dir.path / "refused").string();
  r = run_cli({"index", "merge", refused, shards[0], shards[0]});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "id \"s0\" is also in")) << r.err;
  const std::string siglip_shard = (dir.path / "siglip.idx").string();
  {
    std::ofstream out(dir.path / "texts.jsonl");
    out << json{{"id", "t1"}, {"text", "a cat"}}.dump() << "\n";
  }
  r = run_cli({"index", "build", (dir.path / "texts.jsonl").string(), "-o", siglip_shard, "-m",
               (testing::fixtures_dir() / "siglip-tiny").string()});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_cli({"index", "merge", refused, shards[0], siglip_shard});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.err, "built with embedder method \"siglip\"")) << r.err;
  EXPECT_FALSE(fs::exists(refused));
  r = run_cli({"index", "merge", refused});
  EXPECT_EQ(r.exit_code, 2);
  r = run_cli({"index", "merge", "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(contains(r.out, "lumen index merge OUT SHARD_INDEX...")) << r.out;
}

}  // namespace
}  // namespace lumen
