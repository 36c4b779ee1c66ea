// Shared body of the image fuzz targets: decode any bytes with a small pixel limit (so the
// fuzzer spends its time in the decoders, not in memset), then resize the result with PIL's
// bicubic filter to a size taken from the input, as Engine::preprocess does.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <span>

#include "lumen/core/error.h"
#include "lumen/vision/image_decode.h"
#include "lumen/vision/resize_bicubic.h"

namespace lumen::fuzz {

inline int decode_and_resize(const uint8_t* data, size_t size) {
  ImageLimits limits;
  limits.max_pixels = 1u << 20;
  Image image;
  try {
    image = decode_image(std::span<const uint8_t>(data, size), limits, "fuzz image");
  } catch (const Error&) {
    return 0;
  }
  if (image.width < 1 || image.height < 1 || image.pixel_count() > limits.max_pixels ||
      image.rgb.size() != image.pixel_count() * 3) {
    std::abort();
  }
  // Output size from the last input byte: 1..64 per side, up- and downscaling both.
  const int side = size > 0 ? 1 + data[size - 1] % 64 : 16;
  Image resized = resize_bicubic_pil(image, side, 65 - side);
  if (resized.width != side || resized.height != 65 - side || resized.rgb.size() != resized.pixel_count() * 3) {
    std::abort();
  }
  return 0;
}

}  // namespace lumen::fuzz
