// Internal interface between the dispatchers (linear.cpp, attention.cpp, elementwise.cpp)
// and the AArch64 Advanced SIMD kernels (*_neon.cpp). Those files are built without extra
// flags (NEON is part of ARMv8.0), so unlike the x86 kernel files they may use the standard
// library and the thread pool, and each entry point does its own threading. Declared on every
// architecture, defined (and called) only on AArch64.
#pragma once

#include <cstdint>

#include "lumen/core/activation.h"
#include "lumen/kernels/cpu/attention.h"
#include "lumen/kernels/cpu/weights.h"

namespace lumen::kernels {

// linear() at the Arm levels: exact fp32 arithmetic over every stored weight type (it matches
// linear_reference), except MatmulPrecision::kReduced over Q8_0/Q4_0 weights at the dotprod
// levels, which takes int8 activations like the AVX-512 path (linear_reference_reduced).
void linear_neon(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y);

// The dotprod level's MatmulPrecision::kReduced path over Q8_0/Q4_0 weights
// (linear_neon_dotprod.cpp): y[:, n0:n1] (row stride ldy) for x quantized by
// quantize_activations_q8 (xq [m, k] int8, xd [m, k / 32] scales); w points at stored row 0,
// row_bytes apart. linear_neon() calls it at CpuLevel::kNeonDotprod and above.
void linear_rows_q8_dotprod(const int8_t* xq, const float* xd, int64_t m, int64_t k, DType dtype, const uint8_t* w,
                            size_t row_bytes, const float* bias, float* y, int64_t ldy, int64_t n0, int64_t n1);

// attention() at the Arm levels: the online-softmax algorithm of the portable path with
// vectorised dot products and value accumulation; f16 keys and values widened exactly.
void attention_neon(const float* q, const void* k, const void* v, float* out, const AttentionShape& s);

// store_kv_rows() into an f16 cache at the Arm levels: dst[i] = src[i] as IEEE half, round
// to nearest even (fcvtn under the default FPCR, like f32_to_f16).
void f32_to_f16_neon(const float* src, int64_t count, uint16_t* dst);

// activation_inplace() over n values at the Arm levels (elementwise_neon.cpp); false (x
// untouched) for an activation without a NEON kernel, which the caller then computes with the
// scalar formulas. Every Activation has one today.
bool activation_neon(Activation act, float* x, int64_t n);

// layer_norm() / rms_norm() over one row of width n at the Arm levels: statistics in double
// like the portable path, the normalisation in fp32. x and y may alias.
void layer_norm_row_neon(const float* x, int64_t n, const float* gamma, const float* beta, float eps, float* y);
void rms_norm_row_neon(const float* x, int64_t n, const float* gamma, float eps, float* y);

// softmax_inplace() over n >= 1 values at the Arm levels; the sum of exponentials in double.
void softmax_neon(float* x, int64_t n);

}  // namespace lumen::kernels
