#include "lumen/vision/image_from_pixels.h"

#include <limits>

#include "lumen/core/error.h"

namespace lumen {

Image image_from_pixels(std::span<const uint8_t> pixels, int64_t height, int64_t width, int64_t channels,
                        const ImageLimits& limits, AlphaMode alpha, std::string_view label) {
  if (channels < 1 || channels > 4) {
    fail(label, ": an image array needs 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) channels, not ", channels);
  }
  if (height < 1 || width < 1) fail(label, ": image is ", width, "x", height, " pixels; both sides must be at least 1");
  constexpr int64_t kMaxSide = std::numeric_limits<int>::max();
  if (height > kMaxSide || width > kMaxSide) fail(label, ": image side over ", kMaxSide, " pixels");
  // Both sides are below 2^31, so the products cannot overflow 64 bits.
  const uint64_t count = static_cast<uint64_t>(height) * static_cast<uint64_t>(width);
  if (count > limits.max_pixels) {
    fail_kind(ErrorKind::kLimitExceeded, label, ": image is ", width, "x", height, " pixels, more than the limit of ",
              limits.max_pixels);
  }
  if (pixels.size() != count * static_cast<uint64_t>(channels)) {
    fail(label, ": ", pixels.size(), " bytes given for a ", width, "x", height, "x", channels, " image (",
         count * static_cast<uint64_t>(channels), " expected)");
  }
  Image image;
  image.width = static_cast<int>(width);
  image.height = static_cast<int>(height);
  image.rgb.resize(static_cast<size_t>(count) * 3);
  const uint8_t* in = pixels.data();
  uint8_t* out = image.rgb.data();
  for (uint64_t i = 0; i < count; ++i, in += channels, out += 3) {
    switch (channels) {
      case 1: out[0] = out[1] = out[2] = in[0]; break;
      case 2: out[0] = out[1] = out[2] = apply_alpha(alpha, in[0], in[1]); break;
      case 3: out[0] = in[0]; out[1] = in[1]; out[2] = in[2]; break;
      default:
        for (int c = 0; c < 3; ++c) out[c] = apply_alpha(alpha, in[c], in[3]);
    }
  }
  return image;
}

}  // namespace lumen
