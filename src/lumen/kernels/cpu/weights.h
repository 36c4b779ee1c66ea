// How kernels see a weight matrix: a row-major [rows = out features, cols = in features]
// block of any stored dtype, usually pointing straight into a memory-mapped checkpoint.
#pragma once

#include <cstdint>
#include <vector>

#include "lumen/core/dtype.h"

namespace lumen {

// How a matmul may round its activations. kExact keeps fp32 activations and fp32
// accumulation over the stored weights (the default: results match the fp64 references).
// kReduced is chosen with --quant: float weights meet bf16-rounded activations (vdpbf16ps,
// where linear_uses_bf16_dot; elsewhere they stay exact) and Q8_0/Q4_0 weights meet activations quantized per 32-block to int8 (vpdpbusd; AVX2
// vpmaddubsw, Arm sdot), as llama.cpp does; each has a scalar reference
// (linear_reference_reduced).
enum class MatmulPrecision : uint8_t { kExact, kReduced };

struct WeightMatrix {
  DType dtype = DType::kF32;
  const uint8_t* data = nullptr;
  int64_t rows = 0;  // N, output features
  int64_t cols = 0;  // K, input features
  MatmulPrecision precision = MatmulPrecision::kExact;

  size_t row_bytes() const { return static_cast<size_t>(cols) / dtype_block(dtype) * dtype_size(dtype); }
  const uint8_t* row(int64_t r) const { return data + static_cast<size_t>(r) * row_bytes(); }
};

// Converts `count` consecutive stored values starting at `src` (a row start) to fp32.
// For block-quantized types `count` must be a multiple of 32.
void convert_row_to_f32(DType dtype, const uint8_t* src, int64_t count, float* dst);

}  // namespace lumen
