// collapse_image_runs: LLaVA's processor-expanded image ids become the runtime's one marker per
// image; other families' prompts pass through untouched.
#include "lumen/runtime/generator.h"

#include <gtest/gtest.h>

#include "lumen/core/error.h"
#include "lumen/models/imp_config.h"

namespace lumen {
namespace {

ImpConfig llava_like(int64_t image_size, int64_t patch_size) {
  ImpConfig c;
  c.image_token_id = 9;
  c.prompt_expands_images = true;
  c.vision.class_token = true;
  c.vision.image_size = image_size;
  c.vision.patch_size = patch_size;
  return c;
}

TEST(CollapseImageRuns, ExpandedRunsBecomeOneMarkerPerImage) {
  const ImpConfig c = llava_like(28, 14);  // 4 features per image
  ASSERT_EQ(c.tokens_per_image(), 4);
  EXPECT_EQ(collapse_image_runs(c, {1, 9, 9, 9, 9, 5, 9, 9, 9, 9, 9, 9, 9, 9, 6}),
            (std::vector<int32_t>{1, 9, 5, 9, 9, 6}));
  EXPECT_EQ(collapse_image_runs(c, {9, 9, 9, 9}), (std::vector<int32_t>{9}));
  // A single id is already a marker; text-only prompts are unchanged.
  EXPECT_EQ(collapse_image_runs(c, {1, 9, 2, 9}), (std::vector<int32_t>{1, 9, 2, 9}));
  EXPECT_EQ(collapse_image_runs(c, {1, 2, 3}), (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(collapse_image_runs(c, {}), std::vector<int32_t>{});
}

TEST(CollapseImageRuns, ARunOfAnotherLengthIsRefused) {
  const ImpConfig c = llava_like(28, 14);
  try {
    collapse_image_runs(c, {1, 9, 9, 9, 2});
    ADD_FAILURE() << "a run of 3 image ids (4 per image) was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("run of 3"), std::string::npos) << e.what();
  }
}

TEST(CollapseImageRuns, ImpPromptsPassThrough) {
  ImpConfig imp;  // one marker per image already; a repeated marker means several images
  imp.image_token_id = 9;
  EXPECT_EQ(collapse_image_runs(imp, {1, 9, 9, 9, 2}), (std::vector<int32_t>{1, 9, 9, 9, 2}));
}

}  // namespace
}  // namespace lumen
