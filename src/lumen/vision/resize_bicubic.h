// Bicubic resize that reproduces PIL's Image.resize(size, Image.BICUBIC) bit for bit on RGB8
// images (the "squash" resize of CLIP/SigLIP-style processors: the aspect ratio is not kept).
#pragma once

#include "lumen/vision/image.h"

namespace lumen {

// Resizes `src` to out_width x out_height (both >= 1), up or down, independently per axis.
// Throws Error for an empty or inconsistent source or a non-positive size.
Image resize_bicubic_pil(const Image& src, int out_width, int out_height);

}  // namespace lumen
