#include "lumen/vision/image_preprocess.h"

#include "lumen/core/error.h"

namespace lumen {

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

}  // namespace lumen
