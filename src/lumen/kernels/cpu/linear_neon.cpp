// AArch64 Advanced SIMD matmul: exact fp32 arithmetic over every stored weight type (the
// portable path's results, vectorised), for every Arm level; and the dispatch to the int8
// dotprod kernel (linear_neon_dotprod.cpp) for reduced precision over Q8_0/Q4_0 weights.
//
// Each task owns a block of up to kRowsPerBlock weight rows and widens them to fp32 once
// (F16 with fcvtl, BF16 by a shift, Q8_0/Q4_0 block by block as scale times integer, exactly
// as weights.cpp does), then
//   decode (m <= 4): each widened row meets every x row while it is in L1;
//   prefill (m > 4): a register-blocked kernel computes [4 x rows] x [4 weight rows] dot
//   products at once in 16 accumulators, so each load feeds four FMAs.
#include <arm_neon.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "lumen/core/cpu_features.h"
#include "lumen/core/thread_pool.h"
#include "lumen/kernels/cpu/linear.h"
#include "lumen/kernels/cpu/neon_kernels.h"

namespace lumen::kernels {

namespace {

constexpr int64_t kRowsPerBlock = 16;

inline float half_at(const uint8_t* p) {
  uint16_t bits;
  std::memcpy(&bits, p, 2);
  return f16_to_f32(bits);
}

// Eight little-endian 16-bit values from a byte pointer of any alignment.
inline uint16x8_t load_u16x8(const uint8_t* p) { return vreinterpretq_u16_u8(vld1q_u8(p)); }

// 16 int8 lanes times d, as four float vectors at dst.
inline void store_scaled_s8(int8x16_t q, float d, float* dst) {
  const int16x8_t lo = vmovl_s8(vget_low_s8(q));
  const int16x8_t hi = vmovl_high_s8(q);
  vst1q_f32(dst, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(lo))), d));
  vst1q_f32(dst + 4, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(lo)), d));
  vst1q_f32(dst + 8, vmulq_n_f32(vcvtq_f32_s32(vmovl_s16(vget_low_s16(hi))), d));
  vst1q_f32(dst + 12, vmulq_n_f32(vcvtq_f32_s32(vmovl_high_s16(hi)), d));
}

// out[0, k) = the stored row as fp32 (exact for every type).
void widen_row(DType dtype, const uint8_t* row, int64_t k, float* out) {
  switch (dtype) {
    case DType::kF32:
      std::memcpy(out, row, static_cast<size_t>(k) * sizeof(float));
      return;
    case DType::kF16: {
      int64_t i = 0;
      for (; i + 8 <= k; i += 8) {
        const float16x8_t h = vreinterpretq_f16_u16(load_u16x8(row + 2 * i));
        vst1q_f32(out + i, vcvt_f32_f16(vget_low_f16(h)));
        vst1q_f32(out + i + 4, vcvt_high_f32_f16(h));
      }
      for (; i < k; ++i) out[i] = half_at(row + 2 * i);
      return;
    }
    case DType::kBF16: {
      int64_t i = 0;
      for (; i + 8 <= k; i += 8) {
        const uint16x8_t b = load_u16x8(row + 2 * i);
        vst1q_f32(out + i, vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(b), 16)));
        vst1q_f32(out + i + 4, vreinterpretq_f32_u32(vshll_high_n_u16(b, 16)));
      }
      for (; i < k; ++i) {
        uint16_t bits;
        std::memcpy(&bits, row + 2 * i, 2);
        out[i] = bf16_to_f32(bits);
      }
      return;
    }
    case DType::kQ8_0:  // per block: f16 scale d, 32 int8 q; value = d * q
      for (int64_t b = 0; b < k / 32; ++b) {
        const uint8_t* block = row + b * 34;
        const float d = half_at(block);
        store_scaled_s8(vreinterpretq_s8_u8(vld1q_u8(block + 2)), d, out + b * 32);
        store_scaled_s8(vreinterpretq_s8_u8(vld1q_u8(block + 18)), d, out + b * 32 + 16);
      }
      return;
    case DType::kQ4_0: {  // per block: f16 d, 16 bytes; byte j = weight j (low nibble), j + 16 (high); value = d * (nibble - 8)
      const uint8x16_t low_mask = vdupq_n_u8(0x0f);
      const int8x16_t eight = vdupq_n_s8(8);
      for (int64_t b = 0; b < k / 32; ++b) {
        const uint8_t* block = row + b * 18;
        const float d = half_at(block);
        const uint8x16_t q = vld1q_u8(block + 2);
        store_scaled_s8(vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, low_mask)), eight), d, out + b * 32);
        store_scaled_s8(vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight), d, out + b * 32 + 16);
      }
      return;
    }
    default:
      std::fill(out, out + k, 0.0f);  // unreachable: loaders reject other dtypes
      return;
  }
}

// sum_i a[i] * b[i] with four accumulators.
inline float dot(const float* a, const float* b, int64_t k) {
  float32x4_t acc0 = vdupq_n_f32(0.0f), acc1 = acc0, acc2 = acc0, acc3 = acc0;
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
    acc1 = vfmaq_f32(acc1, vld1q_f32(a + i + 4), vld1q_f32(b + i + 4));
    acc2 = vfmaq_f32(acc2, vld1q_f32(a + i + 8), vld1q_f32(b + i + 8));
    acc3 = vfmaq_f32(acc3, vld1q_f32(a + i + 12), vld1q_f32(b + i + 12));
  }
  for (; i + 4 <= k; i += 4) acc0 = vfmaq_f32(acc0, vld1q_f32(a + i), vld1q_f32(b + i));
  float sum = vaddvq_f32(vaddq_f32(vaddq_f32(acc0, acc1), vaddq_f32(acc2, acc3)));
  for (; i < k; ++i) sum += a[i] * b[i];
  return sum;
}

// out[r][c] = x row r . w row c for 4 rows of x (stride k) and 4 widened weight rows (stride k).
inline void tile_4x4(const float* x, const float* w, int64_t k, float out[4][4]) {
  float32x4_t acc[4][4];
  for (auto& row : acc) {
    for (auto& a : row) a = vdupq_n_f32(0.0f);
  }
  int64_t i = 0;
  for (; i + 4 <= k; i += 4) {
    float32x4_t wv[4];
    for (int c = 0; c < 4; ++c) wv[c] = vld1q_f32(w + c * k + i);
    for (int r = 0; r < 4; ++r) {
      const float32x4_t xv = vld1q_f32(x + r * k + i);
      for (int c = 0; c < 4; ++c) acc[r][c] = vfmaq_f32(acc[r][c], xv, wv[c]);
    }
  }
  for (int r = 0; r < 4; ++r) {
    for (int c = 0; c < 4; ++c) {
      float sum = vaddvq_f32(acc[r][c]);
      for (int64_t j = i; j < k; ++j) sum += x[r * k + j] * w[c * k + j];
      out[r][c] = sum;
    }
  }
}

// y[:, n0:n1] (row stride ldy) for every row of x [m, k]; scratch holds kRowsPerBlock * k floats.
void linear_rows(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
                 int64_t n1, float* scratch) {
  const int64_t k = w.cols, ldy = w.rows;
  auto bias_at = [&](int64_t n) { return bias ? bias[n] : 0.0f; };
  for (int64_t block0 = n0; block0 < n1; block0 += kRowsPerBlock) {
    const int64_t rows = std::min(kRowsPerBlock, n1 - block0);
    if (m <= 4) {  // decode: each widened row meets the x rows while it is still in L1
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t n = block0 + r;
        widen_row(w.dtype, w.row(n), k, scratch);
        for (int64_t i = 0; i < m; ++i) y[i * ldy + n] = dot(x + i * k, scratch, k) + bias_at(n);
      }
      continue;
    }
    for (int64_t r = 0; r < rows; ++r) widen_row(w.dtype, w.row(block0 + r), k, scratch + r * k);
    int64_t i = 0;
    for (; i + 4 <= m; i += 4) {
      int64_t r = 0;
      for (; r + 4 <= rows; r += 4) {
        float out[4][4];
        tile_4x4(x + i * k, scratch + r * k, k, out);
        for (int q = 0; q < 4; ++q) {
          for (int c = 0; c < 4; ++c) y[(i + q) * ldy + block0 + r + c] = out[q][c] + bias_at(block0 + r + c);
        }
      }
      for (; r < rows; ++r) {
        const int64_t n = block0 + r;
        for (int q = 0; q < 4; ++q) y[(i + q) * ldy + n] = dot(x + (i + q) * k, scratch + r * k, k) + bias_at(n);
      }
    }
    for (; i < m; ++i) {  // what is left of m after the 4-row tiles
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t n = block0 + r;
        y[i * ldy + n] = dot(x + i * k, scratch + r * k, k) + bias_at(n);
      }
    }
  }
}

// MatmulPrecision::kReduced over Q8_0/Q4_0 weights at the dotprod levels: x quantized once,
// then blocks of weight rows in parallel (linear_neon_dotprod.cpp).
void linear_int8(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y) {
  const int64_t k = w.cols, nb = k / 32;
  thread_local std::vector<int8_t> q;
  thread_local std::vector<float> scale;
  thread_local std::vector<int32_t> sums;  // unused: SDOT is signed x signed, no offset to correct
  q.resize(static_cast<size_t>(m * k));
  scale.resize(static_cast<size_t>(m * nb));
  sums.resize(static_cast<size_t>(m * nb));
  quantize_activations_q8(x, m, k, q.data(), scale.data(), sums.data());
  const int8_t* xq = q.data();
  const float* xd = scale.data();
  const size_t blocks = static_cast<size_t>((w.rows + kRowsPerBlock - 1) / kRowsPerBlock);
  ThreadPool::global().parallel_for(blocks, 1, [&](size_t begin, size_t end) {
    const int64_t n0 = static_cast<int64_t>(begin) * kRowsPerBlock;
    const int64_t n1 = std::min(w.rows, static_cast<int64_t>(end) * kRowsPerBlock);
    linear_rows_q8_dotprod(xq, xd, m, k, w.dtype, w.data, w.row_bytes(), bias, y, w.rows, n0, n1);
  });
}

}  // namespace

void linear_neon(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y) {
  if (w.precision == MatmulPrecision::kReduced && (w.dtype == DType::kQ8_0 || w.dtype == DType::kQ4_0) &&
      cpu_level() >= CpuLevel::kNeonDotprod) {
    linear_int8(x, m, w, bias, y);
    return;
  }
  const size_t blocks = static_cast<size_t>((w.rows + kRowsPerBlock - 1) / kRowsPerBlock);
  ThreadPool::global().parallel_for(blocks, 1, [&](size_t begin, size_t end) {
    thread_local std::vector<float> scratch;
    const size_t need = static_cast<size_t>(kRowsPerBlock * w.cols);
    if (scratch.size() < need) scratch.resize(need);
    const int64_t n0 = static_cast<int64_t>(begin) * kRowsPerBlock;
    const int64_t n1 = std::min(w.rows, static_cast<int64_t>(end) * kRowsPerBlock);
    linear_rows(x, m, w, bias, y, n0, n1, scratch.data());
  });
}

}  // namespace lumen::kernels
