// Turning a resized RGB8 image into the model's pixel_values tensor.
#pragma once

#include <array>
#include <vector>

#include "lumen/vision/image.h"

namespace lumen {

// LLaVA's expand2square (image_aspect_ratio "pad", llava/mm_utils.py): a non-square image is
// centred on a square canvas of its longer side filled with `fill`, at offset
// (longer - shorter) // 2 along the shorter axis; a square image is returned as it is.
Image expand_to_square(const Image& image, const std::array<uint8_t, 3>& fill);

// The canvas colour expand2square is given: tuple(int(x * 255) for x in image_mean), i.e.
// truncated, so SigLIP's mean 0.5 gives 127.
std::array<uint8_t, 3> mean_fill_colour(const std::array<float, 3>& mean);

// Returns planar CHW floats, 3 * height * width of them: channel c of pixel x is
// (x / 255 - mean[c]) / std[c]. Imp's and SigLIP's processors use mean = std = 0.5 (so the
// output is in [-1, 1]). Bit-identical to transformers' rescale + normalize.
std::vector<float> normalize_to_chw(const Image& image, const std::array<float, 3>& mean,
                                    const std::array<float, 3>& std);

}  // namespace lumen
