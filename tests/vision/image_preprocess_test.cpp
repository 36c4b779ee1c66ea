// Normalisation to CHW floats, and the whole decode -> resize -> normalise pipeline against the
// Imp fixtures' reference pixel_values (produced by transformers).
#include "lumen/vision/image_preprocess.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lumen/core/error.h"
#include "lumen/formats/safetensors.h"
#include "lumen/vision/image_decode.h"
#include "lumen/vision/resize_bicubic.h"
#include "test_data.h"

namespace lumen {
namespace {

namespace fs = std::filesystem;

constexpr std::array<float, 3> kHalf = {0.5f, 0.5f, 0.5f};

TEST(ImagePreprocess, KnownValuesAndChwLayout) {
  Image image;
  image.width = 2;
  image.height = 1;
  image.rgb = {0, 128, 255, 10, 20, 30};
  const std::vector<float> out = normalize_to_chw(image, kHalf, kHalf);
  ASSERT_EQ(out.size(), 6u);
  // Plane R: pixels 0 and 1, then G, then B.
  EXPECT_FLOAT_EQ(out[0], -1.0f);
  EXPECT_FLOAT_EQ(out[1], (10 / 255.0f - 0.5f) / 0.5f);
  EXPECT_FLOAT_EQ(out[2], (128 / 255.0f - 0.5f) / 0.5f);
  EXPECT_FLOAT_EQ(out[3], (20 / 255.0f - 0.5f) / 0.5f);
  EXPECT_FLOAT_EQ(out[4], 1.0f);
  EXPECT_FLOAT_EQ(out[5], (30 / 255.0f - 0.5f) / 0.5f);
}

TEST(ImagePreprocess, PerChannelMeanAndStd) {
  // CLIP's constants, to exercise distinct per-channel values.
  const std::array<float, 3> mean = {0.48145466f, 0.4578275f, 0.40821073f};
  const std::array<float, 3> std = {0.26862954f, 0.26130258f, 0.27577711f};
  Image image;
  image.width = 16;
  image.height = 16;
  for (int i = 0; i < 256; ++i) image.rgb.insert(image.rgb.end(), {uint8_t(i), uint8_t(255 - i), uint8_t(i / 3)});
  const std::vector<float> out = normalize_to_chw(image, mean, std);
  for (int i = 0; i < 256; ++i) {
    for (int c = 0; c < 3; ++c) {
      const double want = (image.rgb[3 * i + c] / 255.0 - mean[c]) / std[c];
      ASSERT_NEAR(out[c * 256 + i], want, 1e-6) << "pixel " << i << " channel " << c;
    }
  }
}

TEST(ImagePreprocess, RejectsBadInput) {
  Image image;
  image.width = 2;
  image.height = 2;
  image.rgb.assign(11, 0);
  EXPECT_THROW(normalize_to_chw(image, kHalf, kHalf), Error);
  image.rgb.assign(12, 0);
  EXPECT_THROW(normalize_to_chw(image, kHalf, {0.5f, 0.0f, 0.5f}), Error);
}

fs::path find_test_image(const std::string& name) {
  const fs::path in_images = testing::images_dir() / name;
  if (fs::exists(in_images)) return in_images;
  return testing::fixtures_dir() / "preprocess" / name;
}

// For each image of each case in the fixture's reference.json: decode, resize to the vision
// tower's image_size, normalise with mean = std = 0.5, and compare with the stored
// "{case}.image{j}.resized_u8" (identical) and ".pixel_values" (max abs diff <= 1e-6).
void check_imp_fixture(const std::string& model) {
  const fs::path dir = testing::fixtures_dir() / model;
  const auto config = nlohmann::json::parse(testing::read_file(dir / "config.json"));
  const int size = config.at("vision_tower_config").at("image_size").get<int>();
  const auto reference = nlohmann::json::parse(testing::read_file(dir / "reference.json"));
  const auto tensors = SafetensorsFile::open(dir / "reference.safetensors");

  int images_checked = 0;
  for (const auto& c : reference.at("cases")) {
    const std::string name = c.at("name").get<std::string>();
    if (!c.contains("images")) continue;
    const auto& images = c.at("images");
    for (size_t j = 0; j < images.size(); ++j) {
      const std::string file = images[j].get<std::string>();
      const std::string prefix = name + ".image" + std::to_string(j);
      SCOPED_TRACE(model + " " + prefix + " (" + file + ")");
      const TensorView* resized_ref = tensors->find(prefix + ".resized_u8");
      const TensorView* pixels_ref = tensors->find(prefix + ".pixel_values");
      ASSERT_NE(resized_ref, nullptr);
      ASSERT_NE(pixels_ref, nullptr);
      ASSERT_EQ(resized_ref->dtype, DType::kU8);
      ASSERT_EQ(resized_ref->shape, (std::vector<int64_t>{size, size, 3}));
      ASSERT_EQ(pixels_ref->dtype, DType::kF32);
      ASSERT_EQ(pixels_ref->shape, (std::vector<int64_t>{3, size, size}));

      const Image resized = resize_bicubic_pil(load_image(find_test_image(file)), size, size);
      size_t wrong = 0;
      for (size_t i = 0; i < resized.rgb.size(); ++i) wrong += resized.rgb[i] != resized_ref->data[i];
      EXPECT_EQ(wrong, 0u) << "resized pixels differ";

      const std::vector<float> pixels = normalize_to_chw(resized, kHalf, kHalf);
      ASSERT_EQ(pixels.size() * sizeof(float), pixels_ref->nbytes);
      double max_diff = 0;
      for (size_t i = 0; i < pixels.size(); ++i) {
        float want;
        std::memcpy(&want, pixels_ref->data + i * sizeof(float), sizeof want);
        max_diff = std::max(max_diff, static_cast<double>(std::fabs(pixels[i] - want)));
      }
      EXPECT_LE(max_diff, 1e-6);
      ++images_checked;
    }
  }
  EXPECT_GT(images_checked, 0);
}

TEST(ImagePreprocess, MatchesImpTinyAReference) { check_imp_fixture("imp-tiny-a"); }
TEST(ImagePreprocess, MatchesImpTinyBReference) { check_imp_fixture("imp-tiny-b-msft"); }

}  // namespace
}  // namespace lumen
