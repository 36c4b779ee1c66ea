// Decoding JPEG (libjpeg-turbo) and PNG (libpng) into RGB8, converted the way the reference
// Python pipeline does it: PIL's Image.open, then transformers' convert_to_rgb, which returns
// RGB images untouched and alpha-composites every other mode onto a white background.
//
// Inputs are untrusted: the format is detected from magic bytes (never the file name), the
// pixel count is checked from the header before any pixel memory is allocated, and every
// decoder error (including libjpeg's and libpng's, which would otherwise exit()) becomes a
// lumen::Error naming the input.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>

#include "lumen/vision/image.h"

namespace lumen {

struct ImageLimits {
  // width * height above this is refused (ErrorKind::kLimitExceeded) before decoding.
  uint64_t max_pixels = 50'000'000;
};

// Files larger than this are refused by load_image (ErrorKind::kLimitExceeded).
inline constexpr uint64_t kMaxImageFileBytes = uint64_t{256} << 20;

// Decodes a JPEG or PNG held in memory. `label` prefixes every error message (a path, or
// "image 2 of the request"). Throws Error: kInvalidInput for anything that is not a complete,
// valid JPEG or PNG; kLimitExceeded when the header's size is over limits.max_pixels.
Image decode_image(std::span<const uint8_t> bytes, const ImageLimits& limits = {},
                   std::string_view label = "image");

// Reads a file (refusing directories, empty files and files over kMaxImageFileBytes) and
// decodes it. Error messages start with the path.
Image load_image(const std::filesystem::path& path, const ImageLimits& limits = {});

}  // namespace lumen
