#include "lumen/vision/image_preprocess.h"

#include <algorithm>
#include <cstring>

#include "lumen/core/error.h"
#include "lumen/vision/resize_bicubic.h"

namespace lumen {

Image expand_to_square(const Image& image, const std::array<uint8_t, 3>& fill) {
  if (image.width == image.height) return image;
  const int side = std::max(image.width, image.height);
  const int left = (side - image.width) / 2, top = (side - image.height) / 2;
  Image square;
  square.width = square.height = side;
  square.rgb.resize(square.pixel_count() * 3);
  for (size_t i = 0; i < square.pixel_count(); ++i) std::memcpy(&square.rgb[3 * i], fill.data(), 3);
  const size_t row_bytes = static_cast<size_t>(image.width) * 3;
  for (int y = 0; y < image.height; ++y) {
    std::memcpy(&square.rgb[(static_cast<size_t>(top + y) * side + left) * 3], &image.rgb[y * row_bytes], row_bytes);
  }
  return square;
}

std::array<uint8_t, 3> mean_fill_colour(const std::array<float, 3>& mean) {
  std::array<uint8_t, 3> fill{};
  for (int c = 0; c < 3; ++c) {
    // Python's int() (truncation) of mean * 255.
    const double v = static_cast<double>(mean[c]) * 255.0;
    fill[c] = static_cast<uint8_t>(std::clamp(v, 0.0, 255.0));
  }
  return fill;
}

std::vector<float> normalize_to_chw(const Image& image, const std::array<float, 3>& mean,
                                    const std::array<float, 3>& std) {
  const size_t plane = image.pixel_count();
  if (image.rgb.size() != plane * 3) {
    fail_kind(ErrorKind::kInternal, "normalize: image of ", image.width, "x", image.height, " has ",
              image.rgb.size(), " bytes, expected ", plane * 3);
  }
  for (int c = 0; c < 3; ++c) {
    if (!(std[c] != 0.0f)) fail("normalize: std[", c, "] is ", std[c]);
  }

  // transformers' rescale multiplies in float64 by 1/255 and casts to float32; normalize then
  // subtracts and divides in float32. Only 256 inputs are possible, so tabulate per channel.
  float table[3][256];
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      const float rescaled = static_cast<float>(v * (1.0 / 255.0));
      table[c][v] = (rescaled - mean[c]) / std[c];
    }
  }

  std::vector<float> out(plane * 3);
  const uint8_t* px = image.rgb.data();
  for (size_t i = 0; i < plane; ++i, px += 3) {
    out[i] = table[0][px[0]];
    out[plane + i] = table[1][px[1]];
    out[2 * plane + i] = table[2][px[2]];
  }
  return out;
}

std::vector<float> siglip_pixels(const Image& image, int size, ImageAspect aspect, uint64_t max_pixels) {
  constexpr std::array<float, 3> kSiglipMean = {0.5f, 0.5f, 0.5f}, kSiglipStd = {0.5f, 0.5f, 0.5f};
  if (aspect == ImageAspect::kPad) {
    const uint64_t side = static_cast<uint64_t>(std::max(image.width, image.height));
    if (side * side > max_pixels) {
      fail_kind(ErrorKind::kLimitExceeded, "the image is ", image.width, "x", image.height, " pixels; padded to a square (",
                "image_aspect_ratio pad) it has ", side * side, ", more than the limit of ", max_pixels);
    }
    const Image square = expand_to_square(image, mean_fill_colour(kSiglipMean));
    return normalize_to_chw(resize_bicubic_pil(square, size, size), kSiglipMean, kSiglipStd);
  }
  return normalize_to_chw(resize_bicubic_pil(image, size, size), kSiglipMean, kSiglipStd);
}

}  // namespace lumen
