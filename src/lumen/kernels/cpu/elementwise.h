// Row-wise and element-wise ops: LayerNorm, activations, residual adds, softmax.
#pragma once

#include <cstdint>

#include "lumen/core/activation.h"

namespace lumen {

// y[i, :] = (x[i, :] - mean) / sqrt(var + eps) * gamma + beta over rows of width n.
// x and y may alias.
void layer_norm(const float* x, int64_t rows, int64_t n, const float* gamma, const float* beta, float eps, float* y);

// y[i, :] = x[i, :] / sqrt(mean(x[i, :]^2) + eps) * gamma over rows of width n (RMSNorm, as
// HF LlamaRMSNorm: the mean of squares in fp32 or wider). x and y may alias.
void rms_norm(const float* x, int64_t rows, int64_t n, const float* gamma, float eps, float* y);

// Gated MLP activation: rows of gate_up are [gate (inner) | up (inner)];
// out[r, i] = act(gate[r, i]) * up[r, i] (Llama's act_fn(gate_proj(x)) * up_proj(x)).
void gated_activation(Activation act, const float* gate_up, int64_t rows, int64_t inner, float* out);

// In-place activation over n values.
void activation_inplace(Activation act, float* x, int64_t n);
float gelu_erf(float x);   // x/2 (1 + erf(x/sqrt 2)), torch's exact gelu
float gelu_tanh(float x);  // x/2 (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3))), gelu_new

// y[i] += x[i].
void add_inplace(float* y, const float* x, int64_t n);

// In-place numerically stable softmax over n values.
void softmax_inplace(float* x, int64_t n);

}  // namespace lumen
