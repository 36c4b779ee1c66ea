// y = x W^T + b: the matrix multiply behind every projection (GEMM for prefill and vision,
// matrix-vector for decode).
#pragma once

#include <cstdint>

#include "lumen/kernels/cpu/weights.h"

namespace lumen {

// x: [m, w.cols] fp32 row-major; bias: [w.rows] or null; y: [m, w.rows]. Runs on the global
// thread pool.
void linear(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y);

// Plain scalar version, the reference every optimised path is tested against.
void linear_reference(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y);

}  // namespace lumen
