// Sharded batch work (retrieval/shard.h): parsing --shard K/N, the contiguous partition
// (every item in exactly one shard, in order, sizes within one), and AtomicTextFile (nothing at
// PATH until commit, a leftover PATH.tmp never taken for complete and simply rewritten).
#include "lumen/retrieval/shard.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "lumen/core/error.h"

namespace lumen {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("lumen_shard_" + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string read(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string parse_error(const std::string& text) {
  try {
    parse_shard_spec(text);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Shard, ParsesKOfN) {
  EXPECT_EQ(parse_shard_spec("0/1").index, 0);
  EXPECT_EQ(parse_shard_spec("0/1").count, 1);
  EXPECT_EQ(parse_shard_spec("3/4").index, 3);
  EXPECT_EQ(parse_shard_spec("3/4").count, 4);
  EXPECT_EQ(parse_shard_spec("999/1000").index, 999);
}

TEST(Shard, RefusesBadSpecsSayingWhy) {
  EXPECT_NE(parse_error("4/4").find("K must be below N"), std::string::npos) << parse_error("4/4");
  EXPECT_NE(parse_error("7/4").find("K must be below N"), std::string::npos);
  EXPECT_NE(parse_error("0/0").find("N must be at least 1"), std::string::npos) << parse_error("0/0");
  EXPECT_NE(parse_error("3").find("expected K/N"), std::string::npos) << parse_error("3");
  EXPECT_NE(parse_error("").find("expected K/N"), std::string::npos);
  for (const char* bad : {"-1/4", "a/4", "1/b", "1/2/3", " 1/4", "1/4 ", "+1/4", "1.0/4", "/4", "1/", "1//4",
                          "99999999999999999999/4"}) {
    EXPECT_NE(parse_error(bad).find("whole numbers"), std::string::npos) << bad << ": " << parse_error(bad);
  }
}

TEST(Shard, RangesCoverEveryItemOnceInOrderWithSizesWithinOne) {
  for (size_t n = 0; n <= 40; ++n) {
    for (int64_t count = 1; count <= 9; ++count) {
      size_t next = 0, smallest = SIZE_MAX, largest = 0;
      for (int64_t k = 0; k < count; ++k) {
        const ShardRange r = shard_range(n, {k, count});
        EXPECT_EQ(r.begin, next) << "n=" << n << " shard " << k << "/" << count;
        EXPECT_LE(r.begin, r.end);
        next = r.end;
        smallest = std::min(smallest, r.size());
        largest = std::max(largest, r.size());
      }
      EXPECT_EQ(next, n) << "n=" << n << " N=" << count;
      EXPECT_LE(largest - smallest, 1u) << "n=" << n << " N=" << count;
    }
  }
  // The 500 eval scenes in 4 shards: 125 each, shard 2 is scenes 250..374.
  EXPECT_EQ(shard_range(500, {2, 4}).begin, 250u);
  EXPECT_EQ(shard_range(500, {2, 4}).end, 375u);
  // More shards than items: the extra shards are empty, not an error.
  EXPECT_EQ(shard_range(2, {4, 5}).size(), 1u);
  EXPECT_EQ(shard_range(2, {3, 5}).size(), 0u);
  // No overflow for huge inputs.
  const ShardRange big = shard_range(SIZE_MAX / 2, {999, 1000});
  EXPECT_EQ(big.end, SIZE_MAX / 2);
  EXPECT_GT(big.begin, SIZE_MAX / 2 - SIZE_MAX / 1000);
}

TEST(Shard, TempPathIsASibling) {
  EXPECT_EQ(shard_temp_path("out/shard-0.txt"), fs::path("out/shard-0.txt.tmp"));
  EXPECT_EQ(shard_temp_path("out/shard-0.idx/"), fs::path("out/shard-0.idx.tmp"));
}

TEST(Shard, AtomicFileAppearsOnlyOnCommit) {
  TempDir dir;
  const fs::path out = dir.path / "shard-1-of-4.txt";
  {
    AtomicTextFile file(out);
    file.write("a\tone\n");
    file.write("b\ttwo\n");
    // Progress is visible in the temporary file, nothing at the output path.
    EXPECT_FALSE(fs::exists(out));
    EXPECT_EQ(read(dir.path / "shard-1-of-4.txt.tmp"), "a\tone\nb\ttwo\n");
    file.commit();
  }
  EXPECT_EQ(read(out), "a\tone\nb\ttwo\n");
  EXPECT_FALSE(fs::exists(dir.path / "shard-1-of-4.txt.tmp"));
}

TEST(Shard, AbandonedFileLeavesTheOutputAlone) {
  TempDir dir;
  const fs::path out = dir.path / "captions.txt";
  std::ofstream(out) << "old\n";
  {
    AtomicTextFile file(out);
    file.write("half of a new one\n");
  }  // an error before commit()
  EXPECT_EQ(read(out), "old\n");
  EXPECT_FALSE(fs::exists(dir.path / "captions.txt.tmp"));
}

TEST(Shard, LeftoverTempFromAKilledRunIsRewritten) {
  TempDir dir;
  const fs::path out = dir.path / "shard-0-of-2.txt";
  // What a killed run leaves: a partial .tmp and no output.
  std::ofstream(dir.path / "shard-0-of-2.txt.tmp") << "partial line 1\npartial li";
  EXPECT_FALSE(fs::exists(out));
  {
    AtomicTextFile file(out);
    EXPECT_EQ(read(file.temp_path()), "");  // truncated, not appended to
    file.write("whole\n");
    file.commit();
  }
  EXPECT_EQ(read(out), "whole\n");
}

TEST(Shard, AtomicFileFailsCleanlyWhereItCannotWrite) {
  TempDir dir;
  EXPECT_THROW(AtomicTextFile(dir.path / "no" / "such" / "dir" / "out.txt"), Error);
  try {
    AtomicTextFile file(dir.path / "missing" / "out.txt");
    ADD_FAILURE() << "expected an error";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kIo);
    EXPECT_NE(std::string(e.what()).find("out.txt.tmp"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lumen
