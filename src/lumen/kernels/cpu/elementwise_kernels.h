// Internal: the AVX-512 and AVX2 element-wise kernels behind elementwise.cpp's dispatch (see
// linear_kernels.h for why kernel files get plain pointers). An AVX-512 machine also runs the
// AVX2 kernels for the ops that have no AVX-512 version.
#pragma once

#include <cstdint>

namespace lumen::kernels {

void gelu_tanh_avx512(float* x, int64_t n);   // in place, n values
void quick_gelu_avx512(float* x, int64_t n);  // in place, n values

// In place over n values.
void gelu_tanh_avx2(float* x, int64_t n);
void gelu_erf_avx2(float* x, int64_t n);
void sigmoid_scaled_avx2(float* x, int64_t n, float k);  // x / (1 + e^(-k x)): quick_gelu, SiLU

// One row of width n; x and y may alias.
void layer_norm_row_avx2(const float* x, int64_t n, const float* gamma, const float* beta, float eps, float* y);
void rms_norm_row_avx2(const float* x, int64_t n, const float* gamma, float eps, float* y);
void softmax_avx2(float* x, int64_t n);

}  // namespace lumen::kernels
