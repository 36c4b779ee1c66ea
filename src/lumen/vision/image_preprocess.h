// Turning a resized RGB8 image into the model's pixel_values tensor.
#pragma once

#include <array>
#include <vector>

#include "lumen/vision/image.h"

namespace lumen {

// Returns planar CHW floats, 3 * height * width of them: channel c of pixel x is
// (x / 255 - mean[c]) / std[c]. Imp's and SigLIP's processors use mean = std = 0.5 (so the
// output is in [-1, 1]). Bit-identical to transformers' rescale + normalize.
std::vector<float> normalize_to_chw(const Image& image, const std::array<float, 3>& mean,
                                    const std::array<float, 3>& std);

}  // namespace lumen
