// Row-wise and element-wise ops: LayerNorm, activations, residual adds, softmax.
#pragma once

#include <cstdint>

#include "lumen/core/activation.h"

namespace lumen {

// y[i, :] = (x[i, :] - mean) / sqrt(var + eps) * gamma + beta over rows of width n.
// x and y may alias.
void layer_norm(const float* x, int64_t rows, int64_t n, const float* gamma, const float* beta, float eps, float* y);

// In-place activation over n values.
void activation_inplace(Activation act, float* x, int64_t n);
float gelu_erf(float x);   // x/2 (1 + erf(x/sqrt 2)), torch's exact gelu
float gelu_tanh(float x);  // x/2 (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3))), gelu_new

// y[i] += x[i].
void add_inplace(float* y, const float* x, int64_t n);

// In-place numerically stable softmax over n values.
void softmax_inplace(float* x, int64_t n);

}  // namespace lumen
