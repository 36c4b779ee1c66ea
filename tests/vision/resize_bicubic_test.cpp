// PIL-exact bicubic resize: against PIL's own output (fixtures), against a plain scalar
// reference of the algorithm, and on synthetic images.
#include "lumen/vision/resize_bicubic.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "lumen/core/error.h"
#include "lumen/formats/safetensors.h"
#include "lumen/vision/image_decode.h"
#include "test_data.h"

namespace lumen {
namespace {

namespace fs = std::filesystem;

Image random_image(int width, int height, uint32_t seed) {
  std::mt19937 rng(seed);
  Image image;
  image.width = width;
  image.height = height;
  image.rgb.resize(image.pixel_count() * 3);
  // Mix smooth areas with hard black/white edges, which drive the filter's overshoot into
  // the clamp.
  for (size_t i = 0; i < image.rgb.size(); ++i) image.rgb[i] = (rng() % 3 == 0) ? (rng() % 2) * 255 : rng() % 256;
  return image;
}

Image constant_image(int width, int height, uint8_t r, uint8_t g, uint8_t b) {
  Image image;
  image.width = width;
  image.height = height;
  for (size_t i = 0; i < static_cast<size_t>(width) * height; ++i) image.rgb.insert(image.rgb.end(), {r, g, b});
  return image;
}

// ---------------------------------------------------------------------------------------------
// Scalar reference: the algorithm as documented, one output sample at a time, no shortcuts
// (all rows go through the horizontal pass; weights recomputed for every sample).

double keys_cubic(double x) {
  const double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

// Fixed-point taps of output sample i when resampling `in` samples to `out`.
void reference_taps(int in, int out, int i, int* first, std::vector<int64_t>* taps) {
  const double scale = static_cast<double>(in) / out;
  const double fs = std::max(scale, 1.0);
  const double support = 2.0 * fs;
  const double center = (i + 0.5) * scale;
  const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
  const int hi = std::min(static_cast<int>(center + support + 0.5), in);
  std::vector<double> w;
  double sum = 0;
  // PIL multiplies by 1/fs rather than dividing by fs; the two can differ in the last bit.
  for (int x = lo; x < hi; ++x) {
    w.push_back(keys_cubic((x - center + 0.5) * (1.0 / fs)));
    sum += w.back();
  }
  taps->clear();
  for (double v : w) {
    const double n = sum != 0.0 ? v / sum : v;
    taps->push_back(static_cast<int64_t>(n < 0 ? n * 4194304.0 - 0.5 : n * 4194304.0 + 0.5));
  }
  *first = lo;
}

uint8_t reference_clamp(int64_t acc) {
  const int64_t v = acc >> 22;  // floor
  return static_cast<uint8_t>(std::clamp<int64_t>(v, 0, 255));
}

Image reference_resize(const Image& src, int out_w, int out_h) {
  Image tmp = src;
  std::vector<int64_t> taps;
  int first = 0;
  if (out_w != src.width) {
    tmp.width = out_w;
    tmp.rgb.assign(static_cast<size_t>(out_w) * src.height * 3, 0);
    for (int y = 0; y < src.height; ++y) {
      for (int x = 0; x < out_w; ++x) {
        reference_taps(src.width, out_w, x, &first, &taps);
        for (int c = 0; c < 3; ++c) {
          int64_t acc = int64_t{1} << 21;
          for (size_t t = 0; t < taps.size(); ++t) {
            acc += taps[t] * src.rgb[(static_cast<size_t>(y) * src.width + first + t) * 3 + c];
          }
          tmp.rgb[(static_cast<size_t>(y) * out_w + x) * 3 + c] = reference_clamp(acc);
        }
      }
    }
  }
  if (out_h == src.height) return tmp;
  Image out;
  out.width = tmp.width;
  out.height = out_h;
  out.rgb.assign(static_cast<size_t>(out.width) * out_h * 3, 0);
  for (int y = 0; y < out_h; ++y) {
    reference_taps(src.height, out_h, y, &first, &taps);
    for (int x = 0; x < out.width; ++x) {
      for (int c = 0; c < 3; ++c) {
        int64_t acc = int64_t{1} << 21;
        for (size_t t = 0; t < taps.size(); ++t) {
          acc += taps[t] * tmp.rgb[((first + t) * static_cast<size_t>(tmp.width) + x) * 3 + c];
        }
        out.rgb[(static_cast<size_t>(y) * out.width + x) * 3 + c] = reference_clamp(acc);
      }
    }
  }
  return out;
}

size_t count_differences(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  if (a.size() != b.size()) return std::max(a.size(), b.size());
  size_t n = 0;
  for (size_t i = 0; i < a.size(); ++i) n += a[i] != b[i];
  return n;
}

// ---------------------------------------------------------------------------------------------

fs::path find_test_image(const std::string& name) {
  const fs::path in_images = testing::images_dir() / name;
  if (fs::exists(in_images)) return in_images;
  return testing::fixtures_dir() / "preprocess" / name;
}

TEST(ResizeBicubic, MatchesPilOnEveryFixture) {
  // resized_u8.safetensors holds, for "{file}@{size}", PIL's convert_to_rgb + resize((size,
  // size), BICUBIC) as uint8 HWC. Every entry must be identical.
  const auto file = SafetensorsFile::open(testing::fixtures_dir() / "preprocess" / "resized_u8.safetensors");
  ASSERT_FALSE(file->tensors().empty());
  std::string failures;
  int checked = 0;
  double seconds = 0;
  for (const auto& [key, view] : file->tensors()) {
    const size_t at = key.rfind('@');
    ASSERT_NE(at, std::string::npos) << key;
    const std::string name = key.substr(0, at);
    const int size = std::stoi(key.substr(at + 1));
    ASSERT_EQ(view.dtype, DType::kU8) << key;
    ASSERT_EQ(view.shape, (std::vector<int64_t>{size, size, 3})) << key;

    const Image image = load_image(find_test_image(name));
    const auto start = std::chrono::steady_clock::now();
    const Image resized = resize_bicubic_pil(image, size, size);
    seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const std::vector<uint8_t> expected(view.data, view.data + view.nbytes);
    const size_t wrong = count_differences(resized.rgb, expected);
    if (wrong != 0) failures += "  " + key + ": " + std::to_string(wrong) + " of " + std::to_string(expected.size()) + " values differ\n";
    ++checked;
  }
  EXPECT_TRUE(failures.empty()) << "mismatching fixtures:\n" << failures;
  EXPECT_GE(checked, 19);
  RecordProperty("resize_seconds_total", std::to_string(seconds));
}

TEST(ResizeBicubic, MatchesScalarReferenceOnOddSizes) {
  struct Case {
    int in_w, in_h, out_w, out_h;
  };
  const Case cases[] = {{7, 5, 3, 11},  {5, 9, 12, 2},   {1, 1, 4, 3},    {3, 1, 1, 7},   {40, 30, 9, 17},
                        {13, 20, 56, 56}, {64, 48, 63, 49}, {100, 7, 33, 7}, {9, 100, 9, 31}, {17, 3, 256, 5},
                        {301, 2, 7, 1}, {2, 2, 1, 1}};
  uint32_t seed = 1;
  for (const Case& c : cases) {
    SCOPED_TRACE(std::to_string(c.in_w) + "x" + std::to_string(c.in_h) + " -> " + std::to_string(c.out_w) + "x" +
                 std::to_string(c.out_h));
    const Image src = random_image(c.in_w, c.in_h, seed++);
    const Image got = resize_bicubic_pil(src, c.out_w, c.out_h);
    const Image want = reference_resize(src, c.out_w, c.out_h);
    ASSERT_EQ(got.width, c.out_w);
    ASSERT_EQ(got.height, c.out_h);
    EXPECT_EQ(count_differences(got.rgb, want.rgb), 0u);
  }
}

TEST(ResizeBicubic, MatchesScalarReferenceOnRandomSizes) {
  std::mt19937 rng(99);
  for (int trial = 0; trial < 60; ++trial) {
    const int in_w = 1 + static_cast<int>(rng() % 90), in_h = 1 + static_cast<int>(rng() % 90);
    const int out_w = 1 + static_cast<int>(rng() % 120), out_h = 1 + static_cast<int>(rng() % 120);
    const Image src = random_image(in_w, in_h, static_cast<uint32_t>(trial + 1000));
    EXPECT_EQ(count_differences(resize_bicubic_pil(src, out_w, out_h).rgb, reference_resize(src, out_w, out_h).rgb), 0u)
        << in_w << "x" << in_h << " -> " << out_w << "x" << out_h;
  }
}

TEST(ResizeBicubic, IdentitySizeReturnsSamePixels) {
  const Image src = random_image(31, 17, 5);
  const Image out = resize_bicubic_pil(src, 31, 17);
  EXPECT_EQ(out.width, 31);
  EXPECT_EQ(out.height, 17);
  EXPECT_EQ(out.rgb, src.rgb);
}

TEST(ResizeBicubic, SingleAxisPassesLeaveTheOtherAxisAlone) {
  // Only the horizontal pass runs: every column of a vertically constant image is resampled
  // alike, and rows stay independent.
  const Image src = random_image(23, 9, 11);
  const Image wide = resize_bicubic_pil(src, 50, 9);
  EXPECT_EQ(wide.rgb, reference_resize(src, 50, 9).rgb);
  const Image tall = resize_bicubic_pil(src, 23, 4);
  EXPECT_EQ(tall.rgb, reference_resize(src, 23, 4).rgb);
}

TEST(ResizeBicubic, ConstantImageStaysConstant) {
  const int sizes[][4] = {{1, 1, 7, 5}, {10, 10, 3, 3}, {13, 20, 384, 384}, {640, 427, 56, 56},
                          {5, 3, 5, 11}, {97, 1, 2, 1}, {3, 3, 1, 1}};
  for (const auto& s : sizes) {
    const Image src = constant_image(s[0], s[1], 0, 127, 255);
    const Image out = resize_bicubic_pil(src, s[2], s[3]);
    ASSERT_EQ(out.pixel_count(), static_cast<size_t>(s[2]) * s[3]);
    for (size_t i = 0; i < out.pixel_count(); ++i) {
      ASSERT_EQ(out.rgb[3 * i], 0) << s[0] << "x" << s[1] << " -> " << s[2] << "x" << s[3];
      ASSERT_EQ(out.rgb[3 * i + 1], 127);
      ASSERT_EQ(out.rgb[3 * i + 2], 255);
    }
  }
}

TEST(ResizeBicubic, RejectsBadArguments) {
  const Image src = constant_image(4, 4, 1, 2, 3);
  EXPECT_THROW(resize_bicubic_pil(src, 0, 4), Error);
  EXPECT_THROW(resize_bicubic_pil(src, 4, -1), Error);
  EXPECT_THROW(resize_bicubic_pil(Image{}, 4, 4), Error);
  Image inconsistent = src;
  inconsistent.rgb.pop_back();
  EXPECT_THROW(resize_bicubic_pil(inconsistent, 2, 2), Error);
}

}  // namespace
}  // namespace lumen
