// An 8-bit RGB image, row-major HWC: pixel (x, y) channel c is rgb[(y * width + x) * 3 + c].
// Every decoder converts to this form (the way PIL + transformers' convert_to_rgb do), so the
// rest of the vision pipeline only ever sees RGB8.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lumen {

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // width * height * 3 bytes

  size_t pixel_count() const { return static_cast<size_t>(width) * static_cast<size_t>(height); }
};

}  // namespace lumen
