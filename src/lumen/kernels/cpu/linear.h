// y = x W^T + b: the matrix multiply behind every projection (GEMM for prefill and vision,
// matrix-vector for decode).
#pragma once

#include <cstdint>

#include "lumen/kernels/cpu/weights.h"

namespace lumen {

// x: [m, w.cols] fp32 row-major; bias: [w.rows] or null; y: [m, w.rows]. Runs on the global
// thread pool, with the fastest kernels the CPU supports (see linear_kernels.h): a GEMV for
// m <= 4 (decode), a packed GEMM otherwise. w.precision picks exact fp32 or reduced
// (bf16 / int8 activations) arithmetic; the GEMV over float weights is bandwidth bound and
// stays exact either way, and so does everything over float weights at the AVX2 level (it has
// no bf16 dot product).
void linear(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y);

// Whether reduced-precision GEMMs (m > 4) over F32/F16/BF16 weights at the AVX-512 level use
// bf16 dot products (vdpbf16ps) or exact fp32 FMAs. Only on a CPU with AVX512_BF16, and there,
// by default, where a probe at first use finds vdpbf16ps giving at least 1.5x the flops of
// vfmadd231ps (an Intel Sapphire Rapids class Xeon measured 0.50x); $LUMEN_BF16_DOT=on|off
// overrides the probe. Tests pin the choice with set_bf16_dot_choice to run both kernels.
bool linear_uses_bf16_dot();
enum class Bf16DotChoice { kProbe, kOn, kOff };
void set_bf16_dot_choice(Bf16DotChoice choice);

// Plain scalar version, the reference every optimised path is tested against.
void linear_reference(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y);

// Scalar reference for MatmulPrecision::kReduced: float weights and x both rounded to bf16;
// Q8_0/Q4_0 weights against x quantized by quantize_activations_q8. Sums in double.
void linear_reference_reduced(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y);

// x [m, k] (k a multiple of 32) -> per 32-block int8 q = round(x / d), d = max|x| / 127 (the
// activation side of a Q8_0 dot product, as in llama.cpp). q: [m, k]; scale, sums: [m, k/32].
void quantize_activations_q8(const float* x, int64_t m, int64_t k, int8_t* q, float* scale, int32_t* sums);

}  // namespace lumen
