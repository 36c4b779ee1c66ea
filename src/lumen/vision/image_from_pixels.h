// Images handed over as pixel arrays rather than files (the Python package's NumPy and PIL
// inputs), converted to RGB8 exactly as decode_image (image_decode.h) converts a decoded file
// with the same channels: gray is replicated into R, G and B, and an alpha channel is dropped
// (AlphaMode::kDrop, PIL's Image.convert("RGB"), the reference pipeline's) or composited onto
// white (kWhite). So an array read from a PNG gives the same Image as the PNG itself.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "lumen/vision/image.h"
#include "lumen/vision/image_decode.h"

namespace lumen {

// pixels: [height, width, channels] row-major 8-bit, channels 1 (gray), 2 (gray + alpha),
// 3 (RGB) or 4 (RGBA). Throws Error naming `label`: kInvalidInput for a bad shape or a size
// that does not match pixels.size(), kLimitExceeded above limits.max_pixels.
Image image_from_pixels(std::span<const uint8_t> pixels, int64_t height, int64_t width, int64_t channels,
                        const ImageLimits& limits = {}, AlphaMode alpha = AlphaMode::kDrop,
                        std::string_view label = "image");

}  // namespace lumen
