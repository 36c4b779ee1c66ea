// Converting fp32 weights into the stored formats kernels read: F32, F16, BF16, and the
// 32-weight block formats Q8_0 and Q4_0 (one f16 scale per block, layouts as in ggml so
// results are comparable with llama.cpp).
#pragma once

#include <cstdint>
#include <vector>

#include "lumen/core/dtype.h"

namespace lumen {

// values: [rows, cols] row-major; cols must be a multiple of 32 for block formats.
std::vector<uint8_t> quantize_matrix(const float* values, int64_t rows, int64_t cols, DType dtype);

// One block of 32 weights -> 34 bytes (Q8_0: scale = max|x| / 127, q = round(x / scale)).
void quantize_block_q8_0(const float* x, uint8_t* out);
// One block of 32 weights -> 18 bytes (Q4_0: scale = -m / 8 where m is the value of largest
// magnitude, q = clamp(round(x / scale) + 8, 0, 15); weight j in the low nibble of byte j,
// weight j + 16 in the high nibble).
void quantize_block_q4_0(const float* x, uint8_t* out);

}  // namespace lumen
