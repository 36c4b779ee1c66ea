// Internal interface between linear.cpp (checks, activation preparation, threading, dispatch)
// and the per-instruction-set matmul kernels in linear_avx512.cpp, linear_avx2.cpp and
// linear_int8_avx2.cpp. Kernel files are compiled with -mavx512* / -mavx2, so they use no
// standard-library templates shared with portable code (an out-of-line copy compiled for
// AVX-512 could be picked by the linker for everyone); they get plain pointers and scratch
// memory from the caller.
#pragma once

#include <cstdint>

#include "lumen/kernels/cpu/weights.h"

namespace lumen::kernels {

// Activations x: [m, k] prepared once per linear() call for the kernel that will read them.
struct PreparedActivations {
  const float* x = nullptr;  // [m, k] fp32, row stride k
  int64_t m = 0, k = 0;

  // Reduced precision, float weights: x rounded to bf16, [m, k_pairs * 2], row stride
  // 2 * k_pairs (k padded with a zero to even).
  const uint16_t* bf16 = nullptr;
  int64_t k_pairs = 0;

  // Reduced precision, Q8_0/Q4_0 weights: x quantized per 32-block like Q8_0 (q = round(x / d),
  // d = max|x| / 127, bit-identical to quantize_activations_q8). Layouts, with nb = k / 32:
  //   q8_rows:   [m, k] int8, row-major (GEMV). AVX-512, Q4_0 weights only: each full group of
  //              4 blocks is stored "split": the 4 blocks' first 16 values, then their last 16
  //              values (the order the AVX-512 Q4_0 GEMV unpacks nibbles in). AVX2 keeps the
  //              natural order: one ymm of a Q4_0 block's unpacked nibbles (16 low, 16 high)
  //              lines up with the block's 32 values of x.
  //   q8_blocks: [nb, m, 32] int8, block-major (GEMM reads one block of every row in turn).
  //   scale:     [m, nb] fp32 d.      corr: [m, nb] int32 = -offset * sum(q) over the block,
  // where offset is the bias the kernel adds to make weights unsigned: sum((w + offset) * q) +
  // corr = sum(w * q). AVX-512 (vpdpbusd): 8 for Q4_0, 128 for Q8_0. AVX2 (vpmaddubsw): 8 for
  // Q4_0 (the raw nibbles 0..15 are the unsigned operand), 0 for Q8_0 (|w| is the unsigned
  // operand and w's sign moves onto q with vpsignb, so no offset is needed).
  const int8_t* q8_rows = nullptr;
  const int8_t* q8_blocks = nullptr;
  const float* scale = nullptr;
  const int32_t* corr = nullptr;
};

// y[:, n0:n1] for every row of x. `scratch` holds at least kScratchBytes bytes (per thread).
constexpr int64_t kPanelWidth = 32;               // output features per packed GEMM panel
constexpr int64_t kScratchBytes = 1 << 20;
void gemv_avx512(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
                 int64_t n1);
void gemm_f32_avx512(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
                     int64_t n1, void* scratch);
void gemm_bf16_avx512(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
                      int64_t n1, void* scratch);
void gemm_q8_avx512(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
                    int64_t n1, void* scratch);
// AVX2 + FMA + F16C (linear_avx2.cpp): exact fp32 arithmetic over every stored type (also at
// reduced precision for float weights: AVX2 has no bf16 dot product).
//   gemv_avx2: m <= 4, weights widened inside the dot, y[:, n0:n1].
//   gemm_f32_avx2: m > 4, panels of kAvx2PanelWidth features packed per thread (scratch).
constexpr int64_t kAvx2PanelWidth = 16;
void gemv_avx2(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
               int64_t n1);
void gemm_f32_avx2(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
                   int64_t n1, void* scratch);
// AVX2 int8 (linear_int8_avx2.cpp): reduced precision over Q8_0/Q4_0 weights, vpmaddubsw +
// vpmaddwd. gemv_int8_avx2 reads q8_rows (m <= 4); gemm_int8_avx2 reads q8_blocks and packs a
// whole panel of 16 features x k into scratch (kAvx2Int8BlockPanelBytes per block of 32).
constexpr int64_t kAvx2Int8BlockPanelBytes = 8 * 64 + 16 * 4;
void gemv_int8_avx2(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
                    int64_t n1);
void gemm_int8_avx2(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
                    int64_t n1, void* scratch);
// Vectorised quantize_activations_q8 (same q, scale and sums bit for bit for finite x); used by
// both x86 levels' activation preparation.
void quantize_activations_q8_avx2(const float* x, int64_t m, int64_t k, int8_t* q, float* scale, int32_t* sums);

// x [m, k] fp32 -> bf16 rows of 2 * k_pairs (round to nearest even).
void convert_to_bf16_avx512(const float* x, int64_t m, int64_t k, int64_t k_pairs, uint16_t* out);

// How many times the floating-point operations per second of vfmadd231ps this core gets from
// vdpbf16ps (zmm, 12 independent chains of each, best of 5 short timings, about a millisecond
// in all). Needs AVX512_BF16.
double bf16_dot_gain_avx512();

}  // namespace lumen::kernels
