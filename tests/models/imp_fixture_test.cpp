// Parity with transformers (float64 references in tests/data/fixtures): per-stage tensors,
// first/last-step logits and every greedy token of every case of both Imp fixtures.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "lumen/formats/safetensors.h"
#include "lumen/runtime/engine.h"
#include "lumen/runtime/generator.h"
#include "models/fixture_reference.h"
#include "test_data.h"

namespace lumen {
namespace {

struct FixtureCase {
  std::string fixture;
  nlohmann::json spec;
};

std::vector<FixtureCase> all_cases() {
  std::vector<FixtureCase> cases;
  for (const char* fixture : {"imp-tiny-a", "imp-tiny-b-msft"}) {
    auto ref = nlohmann::json::parse(testing::read_file(testing::fixtures_dir() / fixture / "reference.json"));
    for (const auto& c : ref["cases"]) cases.push_back({fixture, c});
  }
  return cases;
}

std::filesystem::path image_path(const std::string& name) {
  auto in_images = testing::images_dir() / name;
  return std::filesystem::exists(in_images) ? in_images : testing::fixtures_dir() / "preprocess" / name;
}

using testing::as_floats;
using testing::max_abs_diff;

class ImpFixture : public ::testing::TestWithParam<FixtureCase> {
 protected:
  static Engine& engine(const std::string& fixture) { return testing::fixture_engine(fixture); }
  static SafetensorsFile& reference(const std::string& fixture) { return testing::fixture_reference(fixture); }
};

TEST_P(ImpFixture, VisionStagesMatchReference) {
  const FixtureCase& fc = GetParam();
  Engine& e = engine(fc.fixture);
  SafetensorsFile& ref = reference(fc.fixture);
  const std::string name = fc.spec["name"];
  const auto& images = fc.spec["images"];
  if (images.empty()) {
    EXPECT_EQ(fc.spec["prompt_ids"].size(), fc.spec["n_prompt_positions"].get<size_t>()) << "text-only case";
    return;
  }
  for (size_t j = 0; j < images.size(); ++j) {
    const std::string prefix = name + ".image" + std::to_string(j);
    Image image = e.load_image(image_path(images[j]));
    std::vector<float> pixels = e.preprocess(image);
    auto expected_pixels = as_floats(*ref.find(prefix + ".pixel_values"));
    ASSERT_EQ(pixels.size(), expected_pixels.size());
    EXPECT_LE(max_abs_diff(pixels.data(), expected_pixels), 1e-6) << prefix;

    const int64_t kept = static_cast<int64_t>(e.model().vision().layers.size());
    int64_t observed = 0;
    std::vector<float> features;
    std::vector<float> embeds = e.device_model().encode_images(
        pixels.data(), 1,
        [&](int64_t k, const float* hidden, int64_t rows, int64_t cols) {
          auto expected = as_floats(*ref.find(prefix + ".vision_hidden." + std::to_string(k)));
          ASSERT_EQ(static_cast<size_t>(rows * cols), expected.size());
          EXPECT_LE(max_abs_diff(hidden, expected), 1e-4) << prefix << " vision_hidden." << k;
          ++observed;
        },
        &features);
    EXPECT_EQ(observed, kept + 1);
    auto expected_features = as_floats(*ref.find(prefix + ".vision_features"));
    ASSERT_EQ(features.size(), expected_features.size());
    EXPECT_LE(max_abs_diff(features.data(), expected_features), 1e-4) << prefix;
    auto expected_embeds = as_floats(*ref.find(prefix + ".image_embeds"));
    ASSERT_EQ(embeds.size(), expected_embeds.size());
    EXPECT_LE(max_abs_diff(embeds.data(), expected_embeds), 1e-4) << prefix;
  }
}

TEST_P(ImpFixture, GreedyTokensAndLogitsMatchReference) {
  const FixtureCase& fc = GetParam();
  Engine& e = engine(fc.fixture);
  SafetensorsFile& ref = reference(fc.fixture);
  const std::string name = fc.spec["name"];
  std::vector<Image> images;
  for (const auto& file : fc.spec["images"]) images.push_back(e.load_image(image_path(file)));

  const auto expected_ids = fc.spec["generated_ids"].get<std::vector<int32_t>>();
  GenerationOptions options;
  options.max_new_tokens = static_cast<int64_t>(expected_ids.size());
  options.ignore_eos = true;  // references run exactly that many steps
  options.keep_logits = true;
  GenerationResult result = generate(e, fc.spec["prompt"].get<std::string>(), images, options);

  EXPECT_EQ(result.prompt_tokens, fc.spec["prompt_ids"].get<std::vector<int32_t>>());
  EXPECT_EQ(result.timings.prompt_positions, fc.spec["n_prompt_positions"].get<int64_t>());
  EXPECT_EQ(result.tokens, expected_ids);
  auto first = as_floats(*ref.find(name + ".logits_first"));
  auto last = as_floats(*ref.find(name + ".logits_last"));
  ASSERT_EQ(result.first_logits.size(), first.size());
  ASSERT_EQ(result.last_logits.size(), last.size());
  EXPECT_LE(max_abs_diff(result.first_logits.data(), first), 1e-3) << name << " first-step logits";
  EXPECT_LE(max_abs_diff(result.last_logits.data(), last), 1e-3) << name << " last-step logits";
  // The top-8 of every step, as a cross-check on more than the argmax.
  EXPECT_EQ(fc.spec["topk_per_step"].size(), expected_ids.size());
}

std::string case_name(const ::testing::TestParamInfo<FixtureCase>& info) {
  std::string name = info.param.fixture + "_" + info.param.spec["name"].get<std::string>();
  for (char& ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  }
  return name;
}

INSTANTIATE_TEST_SUITE_P(AllCases, ImpFixture, ::testing::ValuesIn(all_cases()), case_name);

}  // namespace
}  // namespace lumen
