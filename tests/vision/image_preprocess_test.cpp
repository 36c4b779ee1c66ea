// Normalisation to CHW floats, and the whole decode -> resize -> normalise pipeline against the
// Imp fixtures' reference pixel_values (produced by transformers).
#include "lumen/vision/image_preprocess.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "lumen/core/error.h"
#include "lumen/formats/safetensors.h"
#include "lumen/runtime/engine.h"
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

// image_aspect_ratio "pad": tests/data/pil/expand2square_u8.safetensors holds PIL's
// expand2square with SigLIP's mean colour, then its bicubic resize, for landscape, portrait,
// square, palette, RGBA and tiny inputs at 56, 70 and 384 px (scripts/make-pil-pad-fixture.py).
fs::path pad_input(const std::string& name) {
  const fs::path generated = testing::data_dir() / "pil" / name;
  return fs::exists(generated) ? generated : find_test_image(name);
}

TEST(ImagePreprocess, ExpandToSquareMatchesPil) {
  EXPECT_EQ(mean_fill_colour(kHalf), (std::array<uint8_t, 3>{127, 127, 127}));
  EXPECT_EQ(mean_fill_colour({0.48145466f, 0.4578275f, 0.40821073f}), (std::array<uint8_t, 3>{122, 116, 104}));

  const auto reference = SafetensorsFile::open(testing::data_dir() / "pil" / "expand2square_u8.safetensors");
  size_t checked = 0;
  for (const auto& [key, view] : reference->tensors()) {
    SCOPED_TRACE(key);
    const size_t at = key.rfind('@');
    ASSERT_NE(at, std::string::npos);
    const int size = std::stoi(key.substr(at + 1));
    ASSERT_EQ(view.shape, (std::vector<int64_t>{size, size, 3}));
    const Image image = load_image(pad_input(key.substr(0, at)));
    const Image square = expand_to_square(image, mean_fill_colour(kHalf));
    ASSERT_EQ(square.width, std::max(image.width, image.height));
    ASSERT_EQ(square.height, square.width);
    const Image resized = resize_bicubic_pil(square, size, size);
    ASSERT_EQ(resized.rgb.size(), view.nbytes);
    size_t wrong = 0;
    for (size_t i = 0; i < resized.rgb.size(); ++i) wrong += resized.rgb[i] != view.data[i];
    EXPECT_EQ(wrong, 0u) << "padded and resized pixels differ from PIL's";
    ++checked;
  }
  EXPECT_EQ(checked, 21u);
}

// The engine pads when config.json says so: imp-tiny-a (56 px) with image_aspect_ratio "pad".
TEST(ImagePreprocess, EnginePadsWhenTheConfigSaysPad) {
  const fs::path from = testing::fixtures_dir() / "imp-tiny-a";
  const fs::path dir = fs::temp_directory_path() / ("lumen_pad_test_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  for (const auto& entry : fs::directory_iterator(from)) {
    if (entry.path().filename() != "config.json") fs::create_symlink(entry.path(), dir / entry.path().filename());
  }
  auto config = nlohmann::json::parse(testing::read_file(from / "config.json"));
  config["image_aspect_ratio"] = "pad";
  std::ofstream(dir / "config.json") << config.dump();
  const auto engine = Engine::load(dir);
  const auto square_engine = Engine::load(from);
  const auto reference = SafetensorsFile::open(testing::data_dir() / "pil" / "expand2square_u8.safetensors");
  for (const char* name : {"chelsea.png", "chelsea_portrait.png", "camera.png"}) {
    SCOPED_TRACE(name);
    const Image image = load_image(pad_input(name));
    const TensorView* want = reference->find(std::string(name) + "@56");
    ASSERT_NE(want, nullptr);
    Image resized;
    resized.width = resized.height = 56;
    resized.rgb.assign(want->data, want->data + want->nbytes);
    EXPECT_EQ(engine->preprocess(image), normalize_to_chw(resized, kHalf, kHalf));
    // A square image is the same either way; a non-square one is not.
    EXPECT_EQ(engine->preprocess(image) == square_engine->preprocess(image), image.width == image.height);
  }
  // The pixel limit holds for the padded square too: chelsea.png is 451 x 300 (135,300 pixels)
  // and pads to 451 x 451 (203,401).
  EngineOptions limited;
  limited.image_limits.max_pixels = 150'000;
  const auto limited_engine = Engine::load(dir, limited);
  const Image chelsea = limited_engine->load_image(pad_input("chelsea.png"));
  try {
    limited_engine->preprocess(chelsea);
    ADD_FAILURE() << "a padded square over the pixel limit was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kLimitExceeded);
    EXPECT_NE(std::string(e.what()).find("203401"), std::string::npos) << e.what();
  }
  fs::remove_all(dir);
}

// An image whose every pixel says where it is: (x, y, x + y) mod 256.
Image coordinate_image(int width, int height) {
  Image image;
  image.width = width;
  image.height = height;
  image.rgb.resize(image.pixel_count() * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* px = &image.rgb[(static_cast<size_t>(y) * width + x) * 3];
      px[0] = static_cast<uint8_t>(x);
      px[1] = static_cast<uint8_t>(y);
      px[2] = static_cast<uint8_t>(x + y);
    }
  }
  return image;
}

TEST(ClipPreprocess, ShortestEdgeResizeTruncatesTheLongSide) {
  // int(56 * long / short): 451x300 -> 84.19 -> 84; 640x427 -> 83.93 -> 83; portrait the same
  // the other way round; a square stays square.
  struct Case {
    int w, h, edge, out_w, out_h;
  };
  for (const Case& c : {Case{451, 300, 56, 84, 56}, Case{640, 427, 56, 83, 56}, Case{300, 451, 56, 56, 84},
                        Case{50, 50, 56, 56, 56}, Case{10, 3, 336, 1120, 336}}) {
    const Image out = resize_shortest_edge(coordinate_image(c.w, c.h), c.edge, 1u << 26);
    EXPECT_EQ(out.width, c.out_w) << c.w << "x" << c.h;
    EXPECT_EQ(out.height, c.out_h) << c.w << "x" << c.h;
    // The resize is PIL's bicubic to that size.
    EXPECT_EQ(out.rgb, resize_bicubic_pil(coordinate_image(c.w, c.h), c.out_w, c.out_h).rgb);
  }
}

TEST(ClipPreprocess, ResizeIsRefusedOverThePixelLimitBeforeAllocating) {
  try {
    resize_shortest_edge(coordinate_image(4000, 2), 336, 1u << 20);
    ADD_FAILURE() << "a 4000x2 image resized to a short side of 336 (672000x336) was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kLimitExceeded) << e.what();
  }
}

TEST(ClipPreprocess, CenterCropTakesTheFloorOffsets) {
  const Image image = coordinate_image(9, 6);
  const Image crop = center_crop(image, 4, 3);  // left (9 - 4) // 2 = 2, top (6 - 3) // 2 = 1
  ASSERT_EQ(crop.width, 4);
  ASSERT_EQ(crop.height, 3);
  EXPECT_EQ(crop.rgb[0], 2);
  EXPECT_EQ(crop.rgb[1], 1);
  const uint8_t* last = &crop.rgb[crop.rgb.size() - 3];
  EXPECT_EQ(last[0], 5);
  EXPECT_EQ(last[1], 3);
  EXPECT_EQ(center_crop(image, 9, 6).rgb, image.rgb);
  EXPECT_THROW(center_crop(image, 10, 6), Error);
}

TEST(ClipPreprocess, ClipPixelsAreResizeCropNormalise) {
  const std::array<float, 3> mean = {0.48145466f, 0.4578275f, 0.40821073f};
  const std::array<float, 3> std = {0.26862954f, 0.26130258f, 0.27577711f};
  const Image image = coordinate_image(70, 40);
  const std::vector<float> pixels = clip_pixels(image, 28, 28, 28, mean, std, 1u << 26);
  const Image expected = center_crop(resize_shortest_edge(image, 28, 1u << 26), 28, 28);
  EXPECT_EQ(pixels, normalize_to_chw(expected, mean, std));
  EXPECT_EQ(pixels.size(), 3u * 28 * 28);
}

}  // namespace
}  // namespace lumen
