// Decoding JPEG (libjpeg-turbo) and PNG (libpng) into RGB8, converted the way the reference
// Python pipeline does it: PIL's Image.open, then transformers' convert_to_rgb, which is
// PIL's Image.convert("RGB"): RGBA and LA drop their alpha channel, palette images map
// through the palette ignoring its transparency, and nothing is composited. Compositing onto
// white is an explicit choice (AlphaMode::kWhite).
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

// What decoding does with transparency (an alpha channel, or a PNG tRNS chunk).
enum class AlphaMode {
  kDrop,   // Image.convert("RGB"), the reference pipeline's: alpha ignored
  kWhite,  // Image.alpha_composite(white, image).convert("RGB")
};
// One colour channel c of a pixel with alpha a, as `mode` has it: c itself (kDrop), or PIL's
// Image.alpha_composite(white, pixel) then convert("RGB") (kWhite). PIL computes that in fixed
// point (7 fractional bits and a shift-based division by 255); with an opaque white
// destination it reduces to round((c * a + 255 * (255 - a)) / 255), halves up (255 is odd, so
// + 127 rounds as + 127.5 would). Checked against Pillow for all 65536 (c, a) pairs.
constexpr uint8_t apply_alpha(AlphaMode mode, uint32_t c, uint32_t a) {
  return mode == AlphaMode::kWhite ? static_cast<uint8_t>((c * a + 255 * (255 - a) + 127) / 255)
                                   : static_cast<uint8_t>(c);
}

// "drop" / "white"; parse_alpha_mode throws Error naming `label` for anything else.
const char* alpha_mode_name(AlphaMode mode);
AlphaMode parse_alpha_mode(std::string_view name, std::string_view label);

// Files larger than this are refused by load_image (ErrorKind::kLimitExceeded).
inline constexpr uint64_t kMaxImageFileBytes = uint64_t{256} << 20;

// Decodes a JPEG or PNG held in memory. `label` prefixes every error message (a path, or
// "image 2 of the request"). Throws Error: kInvalidInput for anything that is not a complete,
// valid JPEG or PNG; kLimitExceeded when the header's size is over limits.max_pixels.
Image decode_image(std::span<const uint8_t> bytes, const ImageLimits& limits = {},
                   std::string_view label = "image", AlphaMode alpha = AlphaMode::kDrop);

// Reads a file (refusing directories, empty files and files over kMaxImageFileBytes) and
// decodes it. Error messages start with the path.
Image load_image(const std::filesystem::path& path, const ImageLimits& limits = {},
                 AlphaMode alpha = AlphaMode::kDrop);

}  // namespace lumen
