// The repository carries byte-for-byte copies of the workplace's shared data (bundled model,
// fixtures, eval set, photos) so a clone anywhere can run the suite. Where shared/ sits beside
// the checkout, check the copies are still in step (scripts/sync-shared-data.sh refreshes them).
#include <gtest/gtest.h>

#include <filesystem>

#include "test_data.h"

namespace lumen {
namespace {

namespace fs = std::filesystem;

TEST(DataSync, CopiesMatchSharedFolder) {
  const fs::path shared = fs::path(LUMEN_SOURCE_DIR).parent_path() / "shared";
  if (!fs::exists(shared / "fixtures")) {
    GTEST_SKIP() << "no shared/ folder beside the checkout (" << shared << "); nothing to compare the copies with";
  }
  const std::pair<fs::path, fs::path> pairs[] = {
      {shared / "models" / "imp-shapes", testing::bundled_model_dir()},
      {shared / "fixtures" / "imp-tiny-a", testing::fixtures_dir() / "imp-tiny-a"},
      {shared / "fixtures" / "imp-tiny-b-msft", testing::fixtures_dir() / "imp-tiny-b-msft"},
      {shared / "fixtures" / "imp-tiny-phi3", testing::fixtures_dir() / "imp-tiny-phi3"},
      {shared / "fixtures" / "imp-tiny-qwen2", testing::fixtures_dir() / "imp-tiny-qwen2"},
      {shared / "fixtures" / "llava-tiny", testing::fixtures_dir() / "llava-tiny"},
      {shared / "fixtures" / "siglip-tiny", testing::fixtures_dir() / "siglip-tiny"},
      {shared / "fixtures" / "preprocess", testing::fixtures_dir() / "preprocess"},
      {shared / "images", testing::images_dir()},
      {shared / "eval" / "shapes" / "images", testing::data_dir() / "eval" / "shapes" / "images"},
  };
  size_t compared = 0;
  for (const auto& [from, to] : pairs) {
    for (const auto& entry : fs::recursive_directory_iterator(from)) {
      if (!entry.is_regular_file()) continue;
      const fs::path copy = to / fs::relative(entry.path(), from);
      ASSERT_TRUE(fs::exists(copy)) << copy << " is missing: run scripts/sync-shared-data.sh";
      EXPECT_EQ(testing::read_file(entry.path()), testing::read_file(copy)) << copy << " differs from " << entry.path();
      ++compared;
    }
  }
  for (const char* file : {"imp-v1-3b.config.json"}) {
    EXPECT_EQ(testing::read_file(shared / "fixtures" / file), testing::read_file(testing::fixtures_dir() / file));
    ++compared;
  }
  EXPECT_EQ(testing::read_file(shared / "eval" / "shapes" / "questions.jsonl"),
            testing::read_file(testing::data_dir() / "eval" / "shapes" / "questions.jsonl"));
  EXPECT_GT(compared, 500u);
}

}  // namespace
}  // namespace lumen
