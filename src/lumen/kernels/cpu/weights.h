// How kernels see a weight matrix: a row-major [rows = out features, cols = in features]
// block of any stored dtype, usually pointing straight into a memory-mapped checkpoint.
#pragma once

#include <cstdint>
#include <vector>

#include "lumen/core/dtype.h"

namespace lumen {

struct WeightMatrix {
  DType dtype = DType::kF32;
  const uint8_t* data = nullptr;
  int64_t rows = 0;  // N, output features
  int64_t cols = 0;  // K, input features

  size_t row_bytes() const { return static_cast<size_t>(cols) / dtype_block(dtype) * dtype_size(dtype); }
  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes(); }
};

// Converts `count` consecutive stored values starting at `src` (a row start) to fp32.
// For block-quantized types `count` must be a multiple of 32.
void convert_row_to_f32(DType dtype, const uint8_t* src, int64_t count, float* dst);

}  // namespace lumen
