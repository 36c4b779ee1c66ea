// Pixel arrays (the Python package's NumPy and PIL inputs) become the same Image as a PNG with
// those pixels decoded by decode_image, whose alpha handling is checked against PIL
// (alpha_mode_test.cpp): every (value, alpha) pair, in both alpha modes, gray and colour.
#include <gtest/gtest.h>
#include <png.h>


#include "lumen/core/error.h"
#include "lumen/vision/image_decode.h"
#include "lumen/vision/image_from_pixels.h"

namespace lumen {
namespace {

// A PNG of `pixels` [height, width, channels] written by libpng's simplified API.
std::vector<uint8_t> encode_png(const std::vector<uint8_t>& pixels, int height, int width, int channels) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  image.width = static_cast<png_uint_32>(width);
  image.height = static_cast<png_uint_32>(height);
  image.format = channels == 1 ? PNG_FORMAT_GRAY
                 : channels == 2 ? PNG_FORMAT_GA
                 : channels == 3 ? PNG_FORMAT_RGB
                                 : PNG_FORMAT_RGBA;
  png_alloc_size_t size = 0;
  EXPECT_TRUE(png_image_write_to_memory(&image, nullptr, &size, 0, pixels.data(), 0, nullptr));
  std::vector<uint8_t> png(size);
  EXPECT_TRUE(png_image_write_to_memory(&image, png.data(), &size, 0, pixels.data(), 0, nullptr)) << image.message;
  png.resize(size);
  return png;
}

// 256 x 256 pixels: row = alpha, column = value, so every (value, alpha) pair appears.
std::vector<uint8_t> every_pair(int channels) {
  std::vector<uint8_t> pixels;
  for (int a = 0; a < 256; ++a) {
    for (int v = 0; v < 256; ++v) {
      const uint8_t value = static_cast<uint8_t>(v), alpha = static_cast<uint8_t>(a);
      const uint8_t rgba[4] = {value, static_cast<uint8_t>(255 - v), static_cast<uint8_t>(v ^ a), alpha};
      if (channels == 1) pixels.push_back(value);
      if (channels == 2) pixels.insert(pixels.end(), {value, alpha});
      if (channels >= 3) pixels.insert(pixels.end(), rgba, rgba + channels);
    }
  }
  return pixels;
}

TEST(ImageFromPixels, MatchesDecodedPngForEveryChannelCountAndAlphaMode) {
  for (int channels = 1; channels <= 4; ++channels) {
    const std::vector<uint8_t> pixels = every_pair(channels);
    const std::vector<uint8_t> png = encode_png(pixels, 256, 256, channels);
    for (AlphaMode alpha : {AlphaMode::kDrop, AlphaMode::kWhite}) {
      SCOPED_TRACE(std::to_string(channels) + " channels, alpha " + alpha_mode_name(alpha));
      const Image from_png = decode_image(png, {}, "png", alpha);
      const Image from_pixels = image_from_pixels(pixels, 256, 256, channels, {}, alpha);
      EXPECT_EQ(from_pixels.width, 256);
      EXPECT_EQ(from_pixels.height, 256);
      EXPECT_EQ(from_pixels.rgb, from_png.rgb);
    }
  }
}

TEST(ImageFromPixels, RefusesBadShapesAndLimits) {
  const std::vector<uint8_t> six(6, 0);
  EXPECT_THROW(image_from_pixels(six, 1, 1, 5), Error);
  EXPECT_THROW(image_from_pixels(six, 0, 2, 3), Error);
  EXPECT_THROW(image_from_pixels(six, 1, 1, 3), Error);  // 6 bytes for 3
  EXPECT_NO_THROW(image_from_pixels(six, 1, 2, 3));
  try {
    image_from_pixels(six, 1, 2, 3, ImageLimits{1}, AlphaMode::kDrop, "array");
    FAIL() << "the pixel limit was not applied";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kLimitExceeded);
    EXPECT_EQ(std::string(e.what()), "array: image is 2x1 pixels, more than the limit of 1");
  }
}

}  // namespace
}  // namespace lumen
