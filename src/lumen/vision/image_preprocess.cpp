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

Image resize_shortest_edge(const Image& image, int shortest_edge, uint64_t max_pixels) {
  if (image.width <= 0 || image.height <= 0) fail("the image is empty");
  if (shortest_edge <= 0) fail("resize: shortest_edge must be positive, got ", shortest_edge);
  const bool portrait = image.width <= image.height;
  const int64_t short_side = portrait ? image.width : image.height;
  const int64_t long_side = portrait ? image.height : image.width;
  // Python's int(size * long / short): a float64 quotient, truncated.
  const double scaled = static_cast<double>(shortest_edge) * static_cast<double>(long_side) / static_cast<double>(short_side);
  const uint64_t new_long = static_cast<uint64_t>(scaled);
  if (new_long * static_cast<uint64_t>(shortest_edge) > max_pixels || new_long > (1u << 30)) {
    fail_kind(ErrorKind::kLimitExceeded, "the image is ", image.width, "x", image.height,
              " pixels; resized to a shorter side of ", shortest_edge, " it would have ",
              new_long * static_cast<uint64_t>(shortest_edge), ", more than the limit of ", max_pixels);
  }
  const int out_long = static_cast<int>(new_long);
  return portrait ? resize_bicubic_pil(image, shortest_edge, out_long) : resize_bicubic_pil(image, out_long, shortest_edge);
}

Image center_crop(const Image& image, int crop_width, int crop_height) {
  if (crop_width <= 0 || crop_height <= 0 || crop_width > image.width || crop_height > image.height) {
    fail("center crop: a ", crop_width, "x", crop_height, " crop does not fit in a ", image.width, "x", image.height,
         " image");
  }
  if (crop_width == image.width && crop_height == image.height) return image;
  const int top = (image.height - crop_height) / 2, left = (image.width - crop_width) / 2;  // both >= 0: floor
  Image out;
  out.width = crop_width;
  out.height = crop_height;
  out.rgb.resize(out.pixel_count() * 3);
  const size_t row_bytes = static_cast<size_t>(crop_width) * 3;
  for (int y = 0; y < crop_height; ++y) {
    const uint8_t* src = &image.rgb[(static_cast<size_t>(top + y) * image.width + left) * 3];
    std::memcpy(&out.rgb[static_cast<size_t>(y) * row_bytes], src, row_bytes);
  }
  return out;
}

std::vector<float> clip_pixels(const Image& image, int shortest_edge, int crop_width, int crop_height,
                               const std::array<float, 3>& mean, const std::array<float, 3>& std,
                               uint64_t max_pixels) {
  return normalize_to_chw(center_crop(resize_shortest_edge(image, shortest_edge, max_pixels), crop_width, crop_height),
                          mean, std);
}

}  // namespace lumen
