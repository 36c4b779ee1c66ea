// Internal: AVX-512 element-wise kernels behind elementwise.cpp's dispatch.
#pragma once

#include <cstdint>

namespace lumen::kernels {

void gelu_tanh_avx512(float* x, int64_t n);   // in place, n values
void quick_gelu_avx512(float* x, int64_t n);  // in place, n values

}  // namespace lumen::kernels
