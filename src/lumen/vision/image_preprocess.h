// Turning a decoded RGB8 image into the model's pixel_values tensor: siglip_pixels is the whole
// of SigLIP's image processor (as Imp and SigLIP dual encoders run it); the steps are below it.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "lumen/vision/image.h"

namespace lumen {

// config.json "image_aspect_ratio": "square" squash-resizes; "pad" first centres the image on
// a square of the processor's mean colour (LLaVA's expand2square).
enum class ImageAspect { kSquare, kPad };

// SigLIP's preprocessing of one image: (kPad: expand_to_square on the mean colour, then)
// bicubic resize to size x size as PIL does (resize_bicubic.h), rescale by 1/255 and normalise
// with mean = std = 0.5 -> planar CHW floats [3, size, size] in [-1, 1]. The padded square is
// larger than the image (a 50000 x 1000 PNG is small but pads to 2.5 billion pixels), so
// max_pixels applies to it before it is allocated: Error kLimitExceeded above it.
std::vector<float> siglip_pixels(const Image& image, int size, ImageAspect aspect, uint64_t max_pixels);

// LLaVA's expand2square (image_aspect_ratio "pad", llava/mm_utils.py): a non-square image is
// centred on a square canvas of its longer side filled with `fill`, at offset
// (longer - shorter) // 2 along the shorter axis; a square image is returned as it is.
Image expand_to_square(const Image& image, const std::array<uint8_t, 3>& fill);

// The canvas colour expand2square is given: tuple(int(x * 255) for x in image_mean), i.e.
// truncated, so SigLIP's mean 0.5 gives 127.
std::array<uint8_t, 3> mean_fill_colour(const std::array<float, 3>& mean);

// CLIPImageProcessor's resize (transformers' get_resize_output_image_size with
// default_to_square False): bicubic as PIL does, the shorter side to `shortest_edge` and the
// longer to int(shortest_edge * long / short), truncated (451x300 -> 84x56 for 56). The result
// is checked against max_pixels before it is allocated (Error kLimitExceeded).
Image resize_shortest_edge(const Image& image, int shortest_edge, uint64_t max_pixels);

// transformers' center_crop for a crop no larger than the image: the window at
// top = (height - crop_height) // 2, left = (width - crop_width) // 2. Throws Error if the crop
// is larger than the image.
Image center_crop(const Image& image, int crop_width, int crop_height);

// The whole of CLIPImageProcessor as LLaVA-1.5 runs it (PIL backend): resize_shortest_edge,
// center_crop, then normalize_to_chw with `mean` and `std` -> [3, crop_height, crop_width].
std::vector<float> clip_pixels(const Image& image, int shortest_edge, int crop_width, int crop_height,
                               const std::array<float, 3>& mean, const std::array<float, 3>& std,
                               uint64_t max_pixels);

// Returns planar CHW floats, 3 * height * width of them: channel c of pixel x is
// (x / 255 - mean[c]) / std[c]. Imp's and SigLIP's processors use mean = std = 0.5 (so the
// output is in [-1, 1]). Bit-identical to transformers' rescale + normalize.
std::vector<float> normalize_to_chw(const Image& image, const std::array<float, 3>& mean,
                                    const std::array<float, 3>& std);

}  // namespace lumen
