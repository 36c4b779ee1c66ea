// AVX-512 matmul kernels (F, BW, VL, DQ, VNNI, BF16): y = x W^T + b for every stored weight type.
//
// GEMV (m <= 4, decode): streams each weight row once, straight from its stored layout, and
// applies it to every row of x. Bandwidth bound, so the work per byte is kept small: 4 rows
// per pass (2 for m = 3, 4) share each x load, and over Q8_0/Q4_0 each pass prefetches the
// rows two passes ahead in software (the hardware prefetchers follow those short interleaved
// row streams poorly; see gemv_rows).
// GEMM (prefill, vision): GotoBLAS-style. A panel of 32 output features is packed for a
// block of k into a layout where one 64-byte load gives the next k step of 16 features, then
// a register-blocked micro-kernel runs over rows of x, broadcasting x and accumulating a
// [rows x 32] tile of y in registers.
//   exact fp32: panel[k][32] fp32,               12 x 32 tile, vfmadd231ps
//   bf16:       panel[k/2][32][2] bf16 pairs,     12 x 32 tile, vdpbf16ps (x rounded to bf16)
//   int8:       panel[block][k/4][32][4] uint8,   rows x 32,    vpdpbusd  (x quantized per block)
// See linear_kernels.h for the activation layouts.
#include <immintrin.h>

#include <algorithm>
#include <chrono>

// GCC 12 headers trip -Wmaybe-uninitialized on their own _mm512_undefined_* helpers.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

#include <cstring>

#include "lumen/kernels/cpu/linear_kernels.h"
#include "lumen/kernels/cpu/vec_math_avx512.h"

namespace lumen::kernels {

namespace {

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
// Lanes [0, n) of 16; n may be <= 0 (no lanes) or >= 16 (all).
inline __mmask16 tail_mask(int64_t n) {
  return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}
inline float f16_scalar(const uint8_t* p) {
  uint16_t bits;
  std::memcpy(&bits, p, 2);
  return _cvtsh_ss(bits);
}

// ---------------------------------------------------------------------------------------------
// Row conversion to fp32 (exact for every type), used for packing and exact GEMV.

// out[0, k1 - k0) = row[k0, k1) as fp32; for block types k0 is a multiple of 32 and so is k1
// unless it is the row's end (also a multiple of 32).
void row_to_f32(DType dtype, const uint8_t* row, int64_t k0, int64_t k1, float* out) {
  const int64_t n = k1 - k0;
  switch (dtype) {
    case DType::kF32: {
      const float* src = reinterpret_cast<const float*>(row) + k0;
      for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 mask = tail_mask(n - i);
        _mm512_mask_storeu_ps(out + i, mask, _mm512_maskz_loadu_ps(mask, src + i));
      }
      return;
    }
    case DType::kF16: {
      const uint16_t* src = reinterpret_cast<const uint16_t*>(row) + k0;
      for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 mask = tail_mask(n - i);
        _mm512_mask_storeu_ps(out + i, mask, _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, src + i)));
      }
      return;
    }
    case DType::kBF16: {
      const uint16_t* src = reinterpret_cast<const uint16_t*>(row) + k0;
      for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 mask = tail_mask(n - i);
        __m512i wide = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, src + i));
        _mm512_mask_storeu_ps(out + i, mask, _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16)));
      }
      return;
    }
    case DType::kQ8_0: {
      for (int64_t b = k0 / 32; b < k1 / 32; ++b) {
        const uint8_t* block = row + b * 34;
        const __m512 d = _mm512_set1_ps(f16_scalar(block));
        const __m128i* q = reinterpret_cast<const __m128i*>(block + 2);
        float* dst = out + (b * 32 - k0);
        _mm512_storeu_ps(dst, _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q)))));
        _mm512_storeu_ps(dst + 16,
                         _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q + 1)))));
      }
      return;
    }
    case DType::kQ4_0: {
      const __m128i low = _mm_set1_epi8(0x0f);
      const __m512i eight = _mm512_set1_epi32(8);
      for (int64_t b = k0 / 32; b < k1 / 32; ++b) {
        const uint8_t* block = row + b * 18;
        const __m512 d = _mm512_set1_ps(f16_scalar(block));
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2));
        const __m512i lo = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_and_si128(q, low)), eight);
        const __m512i hi = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(q, 4), low)), eight);
        float* dst = out + (b * 32 - k0);
        _mm512_storeu_ps(dst, _mm512_mul_ps(d, _mm512_cvtepi32_ps(lo)));
        _mm512_storeu_ps(dst + 16, _mm512_mul_ps(d, _mm512_cvtepi32_ps(hi)));
      }
      return;
    }
    default:
      for (int64_t i = 0; i < n; ++i) out[i] = 0.0f;
      return;
  }
}

// ---------------------------------------------------------------------------------------------
// GEMV: NR stored rows (contiguous, row_bytes apart) times M rows of x per pass;
// sums[j * M + r] = row j . x row r. The NR rows share each load of x and give the FMAs
// independent chains. Interleaved reads of NR short streams train the hardware prefetchers
// poorly, so, as in the AVX2 GEMV, each step can also prefetch its share of the NR rows two
// passes ahead (`ahead`, null for none; gemv_rows gives one for the block formats): the span
// of NR * row_bytes bytes is spread evenly over the pass's steps, and what the steps do not
// cover is prefetched after them.

// Prefetches [p + from, p + to) one line at a time (the tails of a pass's prefetch span).
inline void prefetch_rest(const uint8_t* p, int64_t from, int64_t to) {
  for (int64_t off = from; off < to; off += 64) _mm_prefetch(reinterpret_cast<const char*>(p + off), _MM_HINT_T0);
}

// GEMV, exact: weights converted to fp32 on the fly (exactly) times fp32 x.

// Stored bytes of 32 weights of one row (for the block types: one block).
template <DType D>
constexpr int64_t kBytesPer32 = D == DType::kF32    ? 128
                                : D == DType::kQ8_0 ? 34
                                : D == DType::kQ4_0 ? 18
                                                    : 64;

// Weights [c, c + 32) of a stored row as fp32 in two zmm (exact). For the block types c is a
// multiple of 32, so the 32 are one block: d * q, as row_to_f32 computes them.
template <DType D>
inline void load32(const uint8_t* row, int64_t c, __m512& w0, __m512& w1) {
  if constexpr (D == DType::kF32) {
    const float* src = reinterpret_cast<const float*>(row) + c;
    w0 = _mm512_loadu_ps(src);
    w1 = _mm512_loadu_ps(src + 16);
  } else if constexpr (D == DType::kF16) {
    const __m256i* src = reinterpret_cast<const __m256i*>(row + 2 * c);
    w0 = _mm512_cvtph_ps(_mm256_loadu_si256(src));
    w1 = _mm512_cvtph_ps(_mm256_loadu_si256(src + 1));
  } else if constexpr (D == DType::kBF16) {
    const __m256i* src = reinterpret_cast<const __m256i*>(row + 2 * c);
    w0 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(src)), 16));
    w1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256(src + 1)), 16));
  } else if constexpr (D == DType::kQ8_0) {
    const uint8_t* block = row + (c / 32) * 34;
    const __m512 d = _mm512_set1_ps(f16_scalar(block));
    const __m128i* q = reinterpret_cast<const __m128i*>(block + 2);
    w0 = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q))));
    w1 = _mm512_mul_ps(d, _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(q + 1))));
  } else {  // Q4_0: byte j holds weight j (low nibble) and j + 16 (high); d * (nibble - 8)
    const uint8_t* block = row + (c / 32) * 18;
    const __m512 d = _mm512_set1_ps(f16_scalar(block));
    const __m128i low = _mm_set1_epi8(0x0f);
    const __m512i eight = _mm512_set1_epi32(8);
    const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2));
    const __m512i lo = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_and_si128(q, low)), eight);
    const __m512i hi = _mm512_sub_epi32(_mm512_cvtepu8_epi32(_mm_and_si128(_mm_srli_epi16(q, 4), low)), eight);
    w0 = _mm512_mul_ps(d, _mm512_cvtepi32_ps(lo));
    w1 = _mm512_mul_ps(d, _mm512_cvtepi32_ps(hi));
  }
}

// Weights [c, c + 16) of a float-type row under `mask` (the row's end), zeros in other lanes.
template <DType D>
inline __m512 load16_masked(const uint8_t* row, int64_t c, __mmask16 mask) {
  if constexpr (D == DType::kF32) {
    return _mm512_maskz_loadu_ps(mask, reinterpret_cast<const float*>(row) + c);
  } else {
    const __m256i h = _mm256_maskz_loadu_epi16(mask, reinterpret_cast<const uint16_t*>(row) + c);
    if constexpr (D == DType::kF16) {
      return _mm512_cvtph_ps(h);
    } else {
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    }
  }
}

// Per output two accumulators, over 32 weights a step (even and odd 16), then the row's end
// 16 at a time into the first; the sum of the two, reduced. Every output sees the same
// operations in the same order whatever NR is.
template <DType D, int M, int NR>
void dot_rows_exact(const float* x, int64_t k, const uint8_t* w, size_t row_bytes, const uint8_t* ahead,
                    float* sums) {
  constexpr int64_t step_bytes = NR * kBytesPer32<D>;
  __m512 acc[NR][M][2];
  for (int j = 0; j < NR; ++j) {
    for (int r = 0; r < M; ++r) acc[j][r][0] = acc[j][r][1] = _mm512_setzero_ps();
  }
  int64_t i = 0;
  for (; i + 32 <= k; i += 32) {
    if (ahead) prefetch_span_avx512<step_bytes>(ahead + (i / 32) * step_bytes);
    __m512 x0[M], x1[M];
    for (int r = 0; r < M; ++r) {
      x0[r] = _mm512_loadu_ps(x + r * k + i);
      x1[r] = _mm512_loadu_ps(x + r * k + i + 16);
    }
    for (int j = 0; j < NR; ++j) {
      __m512 w0, w1;
      load32<D>(w + j * row_bytes, i, w0, w1);
      for (int r = 0; r < M; ++r) {
        acc[j][r][0] = _mm512_fmadd_ps(w0, x0[r], acc[j][r][0]);
        acc[j][r][1] = _mm512_fmadd_ps(w1, x1[r], acc[j][r][1]);
      }
    }
  }
  if (ahead) prefetch_rest(ahead, (k / 32) * step_bytes, NR * static_cast<int64_t>(row_bytes));
  if constexpr (D == DType::kF32 || D == DType::kF16 || D == DType::kBF16) {
    for (; i < k; i += 16) {  // block types have k % 32 == 0
      const __mmask16 mask = tail_mask(k - i);
      __m512 xv[M];
      for (int r = 0; r < M; ++r) xv[r] = _mm512_maskz_loadu_ps(mask, x + r * k + i);
      for (int j = 0; j < NR; ++j) {
        const __m512 w0 = load16_masked<D>(w + j * row_bytes, i, mask);
        for (int r = 0; r < M; ++r) acc[j][r][0] = _mm512_fmadd_ps(w0, xv[r], acc[j][r][0]);
      }
    }
  }
  for (int j = 0; j < NR; ++j) {
    for (int r = 0; r < M; ++r) sums[j * M + r] = _mm512_reduce_add_ps(_mm512_add_ps(acc[j][r][0], acc[j][r][1]));
  }
}

// ---------------------------------------------------------------------------------------------
// GEMV, int8: Q8_0 / Q4_0 weights times x quantized per block, with vpdpbusd.

// The f16 scales of 4 consecutive blocks as fp32 lanes 0-3. The 4 scales sit at byte offsets
// 0, 18, 36, 54 (Q4_0) or 0, 34, 68, 102 (Q8_0) of the group, so one or two 64-byte loads and a
// word permute gather them (the group is 72 or 136 bytes long, so the loads stay inside it).
inline __m128 q4_group_scales(const uint8_t* group) {
  const __m512i words = _mm512_loadu_si512(group);
  const __m512i pick = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                        0, 0, 0, 27, 18, 9, 0);
  return _mm_cvtph_ps(_mm512_castsi512_si128(_mm512_permutexvar_epi16(pick, words)));
}
inline __m128 q8_group_scales(const uint8_t* group) {
  const __m512i first = _mm512_loadu_si512(group);
  const __m512i second = _mm512_loadu_si512(group + 64);
  const __m512i pick = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                        0, 0, 0, 51, 34, 17, 0);
  return _mm_cvtph_ps(_mm512_castsi512_si128(_mm512_permutex2var_epi16(first, pick, second)));
}

// Scalar dot of one block (tails): sum(w * q) with the same integer arithmetic as the vectors.
template <DType D>
inline int32_t block_dot_scalar(const uint8_t* block, const int8_t* q) {
  int32_t sum = 0;
  if constexpr (D == DType::kQ8_0) {
    const auto* w = reinterpret_cast<const int8_t*>(block + 2);
    for (int i = 0; i < 32; ++i) sum += static_cast<int32_t>(w[i]) * q[i];
  } else {
    for (int j = 0; j < 16; ++j) {
      sum += ((block[2 + j] & 0x0f) - 8) * q[j];
      sum += ((block[2 + j] >> 4) - 8) * q[j + 16];
    }
  }
  return sum;
}

// Per output one accumulator over groups of 4 blocks (the integer dot products of a group,
// scaled by d_w * d_x per block), reduced, then the tail blocks in scalar. The x side of a
// group (q, corrections, scales) is loaded once per pass and shared by the NR rows.
template <DType D, int M, int NR>
void dot_rows_q8(const uint8_t* w, size_t row_bytes, const uint8_t* ahead, const PreparedActivations& a,
                 float* sums) {
  constexpr bool kQ8 = D == DType::kQ8_0;
  constexpr int64_t block_bytes = kQ8 ? 34 : 18;
  constexpr int64_t step_bytes = NR * 4 * block_bytes;
  const int64_t k = a.k;
  const int64_t nb = k / 32;
  const int64_t groups = nb / 4;
  __m512 acc[NR][M];
  for (int j = 0; j < NR; ++j) {
    for (int r = 0; r < M; ++r) acc[j][r] = _mm512_setzero_ps();
  }
  if constexpr (kQ8) {
    // zmm lo = blocks 4g, 4g+1 (lanes 0-7, 8-15); hi = blocks 4g+2, 4g+3. Weights + 128 as uint8.
    const __m512i flip = _mm512_set1_epi8(static_cast<char>(0x80));
    const __m512i spread_lo = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i spread_hi = _mm512_set_epi32(3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2);
    for (int64_t g = 0; g < groups; ++g) {
      if (ahead) prefetch_span_avx512<step_bytes>(ahead + g * step_bytes);
      __m512i w01[NR], w23[NR];
      __m128 dw[NR];
      for (int j = 0; j < NR; ++j) {
        const uint8_t* group = w + j * row_bytes + g * 4 * 34;
        w01[j] = _mm512_xor_si512(
            _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(group + 2))),
                               _mm256_loadu_si256(reinterpret_cast<const __m256i*>(group + 36)), 1),
            flip);
        w23[j] = _mm512_xor_si512(
            _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(group + 70))),
                               _mm256_loadu_si256(reinterpret_cast<const __m256i*>(group + 104)), 1),
            flip);
        dw[j] = q8_group_scales(group);
      }
      for (int r = 0; r < M; ++r) {
        const int8_t* q = a.q8_rows + r * k + g * 128;
        const __m512i q01 = _mm512_loadu_si512(q), q23 = _mm512_loadu_si512(q + 64);
        // The offset correction, folded into lane 0 of each block's 8 lanes.
        const __m512i corr = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.corr + r * nb + g * 4)));
        const __m512i corr01 = _mm512_maskz_permutexvar_epi32(0x0101, spread_lo, corr);
        const __m512i corr23 = _mm512_maskz_permutexvar_epi32(0x0101, spread_hi, corr);
        const __m128 dx = _mm_loadu_ps(a.scale + r * nb + g * 4);
        for (int j = 0; j < NR; ++j) {
          const __m512i i01 = _mm512_add_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), w01[j], q01), corr01);
          const __m512i i23 = _mm512_add_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), w23[j], q23), corr23);
          const __m512 s = _mm512_castps128_ps512(_mm_mul_ps(dw[j], dx));
          acc[j][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i01), _mm512_permutexvar_ps(spread_lo, s), acc[j][r]);
          acc[j][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(i23), _mm512_permutexvar_ps(spread_hi, s), acc[j][r]);
        }
      }
    }
  } else {
    // One zmm holds the 16 nibble bytes of 4 blocks (one per 128-bit lane); low nibbles meet
    // the "split" x order's first halves, high nibbles the second halves.
    const __m512i low = _mm512_set1_epi8(0x0f);
    const __m512i spread = _mm512_set_epi32(3, 3, 3, 3, 2, 2, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0);
    for (int64_t g = 0; g < groups; ++g) {
      if (ahead) prefetch_span_avx512<step_bytes>(ahead + g * step_bytes);
      __m512i lo[NR], hi[NR];
      __m128 dw[NR];
      for (int j = 0; j < NR; ++j) {
        const uint8_t* group = w + j * row_bytes + g * 4 * 18;
        __m512i packed = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(group + 2)));
        packed = _mm512_inserti32x4(packed, _mm_loadu_si128(reinterpret_cast<const __m128i*>(group + 20)), 1);
        packed = _mm512_inserti32x4(packed, _mm_loadu_si128(reinterpret_cast<const __m128i*>(group + 38)), 2);
        packed = _mm512_inserti32x4(packed, _mm_loadu_si128(reinterpret_cast<const __m128i*>(group + 56)), 3);
        lo[j] = _mm512_and_si512(packed, low);
        hi[j] = _mm512_and_si512(_mm512_srli_epi16(packed, 4), low);
        dw[j] = q4_group_scales(group);
      }
      for (int r = 0; r < M; ++r) {
        const int8_t* q = a.q8_rows + r * k + g * 128;
        const __m512i q0 = _mm512_loadu_si512(q), q1 = _mm512_loadu_si512(q + 64);
        const __m512i init = _mm512_maskz_permutexvar_epi32(
            0x1111, spread, _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a.corr + r * nb + g * 4))));
        const __m128 dx = _mm_loadu_ps(a.scale + r * nb + g * 4);
        for (int j = 0; j < NR; ++j) {
          const __m512i isum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(init, lo[j], q0), hi[j], q1);
          const __m512 s = _mm512_castps128_ps512(_mm_mul_ps(dw[j], dx));
          acc[j][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_permutexvar_ps(spread, s), acc[j][r]);
        }
      }
    }
  }
  if (ahead) prefetch_rest(ahead, groups * step_bytes, NR * static_cast<int64_t>(row_bytes));
  for (int j = 0; j < NR; ++j) {
    const uint8_t* row = w + j * row_bytes;
    for (int r = 0; r < M; ++r) {
      float sum = _mm512_reduce_add_ps(acc[j][r]);
      for (int64_t b = groups * 4; b < nb; ++b) {  // tail blocks, natural x order
        const uint8_t* block = row + b * block_bytes;
        sum += f16_scalar(block) * a.scale[r * nb + b] *
               static_cast<float>(block_dot_scalar<D>(block, a.q8_rows + r * k + b * 32));
      }
      sums[j * M + r] = sum;
    }
  }
}

template <DType D, int M, int NR>
inline void dot_rows(const PreparedActivations& a, const uint8_t* w, size_t row_bytes, const uint8_t* ahead,
                     float* sums) {
  if constexpr (D == DType::kQ8_0 || D == DType::kQ4_0) {
    if (a.q8_rows != nullptr) {
      dot_rows_q8<D, M, NR>(w, row_bytes, ahead, a, sums);
      return;
    }
  }
  dot_rows_exact<D, M, NR>(a.x, a.k, w, row_bytes, ahead, sums);
}

template <DType D, int M>
void gemv_rows(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
               int64_t n1) {
  // Rows per pass: the exact path holds 2 * NR * M accumulators and 2 * M x vectors, within
  // the 32 zmm registers (m = 4: 16 + 8); as in the AVX2 GEMV, 4 rows, or 2 for m = 3 and 4.
  constexpr int NR = M <= 2 ? 4 : 2;
  // The software prefetch two passes ahead serves the block formats only. Over float weights
  // the hardware prefetchers keep up with the NR streams by themselves, and the extra requests
  // cost. Phi-2 decode on a 2-core Intel Xeon (Sapphire Rapids class), runs alternated:
  // F16 3.94-4.02 tok/s with it, 4.70-5.09 without; Q4_0 12.5 with it, 9.1 without.
  constexpr bool kPrefetch = D == DType::kQ8_0 || D == DType::kQ4_0;
  const size_t row_bytes = w.row_bytes();
  float sums[NR * M];
  int64_t n = n0;
  for (; n + NR <= n1; n += NR) {
    const uint8_t* rows = w.data + static_cast<size_t>(n) * row_bytes;
    const uint8_t* ahead = kPrefetch && n + 3 * NR <= n1 ? rows + 2 * NR * row_bytes : nullptr;
    dot_rows<D, M, NR>(a, rows, row_bytes, ahead, sums);
    for (int j = 0; j < NR; ++j) {
      const float b = bias ? bias[n + j] : 0.0f;
      for (int r = 0; r < M; ++r) y[r * w.rows + n + j] = sums[j * M + r] + b;
    }
  }
  for (; n < n1; ++n) {
    dot_rows<D, M, 1>(a, w.data + static_cast<size_t>(n) * row_bytes, row_bytes, nullptr, sums);
    const float b = bias ? bias[n] : 0.0f;
    for (int r = 0; r < M; ++r) y[r * w.rows + n] = sums[r] + b;
  }
}

template <DType D>
void gemv_typed(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
                int64_t n1) {
  switch (a.m) {
    case 1: gemv_rows<D, 1>(a, w, bias, y, n0, n1); break;
    case 2: gemv_rows<D, 2>(a, w, bias, y, n0, n1); break;
    case 3: gemv_rows<D, 3>(a, w, bias, y, n0, n1); break;
    default: gemv_rows<D, 4>(a, w, bias, y, n0, n1); break;
  }
}

// ---------------------------------------------------------------------------------------------
// GEMM packing.

constexpr int64_t kMr = 12;           // rows of x per micro-kernel tile (fp32, bf16)
constexpr int64_t kKcF32 = 256;       // k per packed fp32 panel: 32 x 256 x 4 B = 32 KB (L1)
constexpr int64_t kKcPairs = 256;     // k pairs per bf16 panel: 32 KB

// panel[kk][j] = W[n0 + j][k0 + kk] as fp32, zero for j >= nn.
void pack_f32(const WeightMatrix& w, int64_t n0, int64_t nn, int64_t k0, int64_t kc, float* panel, float* tmp) {
  for (int64_t j = 0; j < kPanelWidth; ++j) {
    if (j >= nn) {
      for (int64_t kk = 0; kk < kc; ++kk) panel[kk * kPanelWidth + j] = 0.0f;
      continue;
    }
    row_to_f32(w.dtype, w.row(n0 + j), k0, k0 + kc, tmp);
    for (int64_t kk = 0; kk < kc; ++kk) panel[kk * kPanelWidth + j] = tmp[kk];
  }
}

// panel[p][j] = bf16 pair (W[n0+j][k0+2p], W[n0+j][k0+2p+1]) as one 32-bit word.
void pack_bf16(const WeightMatrix& w, int64_t n0, int64_t nn, int64_t k0, int64_t kc, uint32_t* panel, float* tmp,
               uint32_t* words) {
  const int64_t pairs = (kc + 1) / 2;
  for (int64_t j = 0; j < kPanelWidth; ++j) {
    if (j >= nn) {
      for (int64_t p = 0; p < pairs; ++p) panel[p * kPanelWidth + j] = 0;
      continue;
    }
    row_to_f32(w.dtype, w.row(n0 + j), k0, k0 + kc, tmp);
    tmp[kc] = 0.0f;  // odd k: the pair's second weight is zero
    for (int64_t i = 0; i < 2 * pairs; i += 32) {
      const __mmask16 m0 = tail_mask(2 * pairs - i), m1 = tail_mask(2 * pairs - i - 16);
      const __m512 lo = _mm512_maskz_loadu_ps(m0, tmp + i);
      const __m512 hi = _mm512_maskz_loadu_ps(m1, tmp + i + 16);
      _mm512_storeu_si512(words + i / 2, (__m512i)_mm512_cvtne2ps_pbh(hi, lo));
    }
    for (int64_t p = 0; p < pairs; ++p) panel[p * kPanelWidth + j] = words[p];
  }
}

// ---------------------------------------------------------------------------------------------
// GEMM micro-kernels: a [MR x 32] tile of y over kc steps of k.

// y tile += acc, where y starts as the bias `init` (first k block) or, with init null, as
// what earlier k blocks left in y.
template <int MR>
inline void store_tile(const __m512 (&acc)[MR][2], float* c, int64_t ldc, __mmask16 m0, __mmask16 m1,
                       const float* init) {
  for (int r = 0; r < MR; ++r) {
    float* cr = c + r * ldc;
    const __m512 b0 = init ? _mm512_maskz_loadu_ps(m0, init) : _mm512_maskz_loadu_ps(m0, cr);
    const __m512 b1 = init ? _mm512_maskz_loadu_ps(m1, init + 16) : _mm512_maskz_loadu_ps(m1, cr + 16);
    _mm512_mask_storeu_ps(cr, m0, _mm512_add_ps(acc[r][0], b0));
    _mm512_mask_storeu_ps(cr + 16, m1, _mm512_add_ps(acc[r][1], b1));
  }
}

template <int MR>
void micro_f32(const float* x, int64_t ldx, const float* panel, int64_t kc, float* c, int64_t ldc, __mmask16 m0,
               __mmask16 m1, const float* init) {
  __m512 acc[MR][2];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t kk = 0; kk < kc; ++kk) {
    const __m512 w0 = _mm512_load_ps(panel + kk * 32);
    const __m512 w1 = _mm512_load_ps(panel + kk * 32 + 16);
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      const __m512 xb = _mm512_set1_ps(x[r * ldx + kk]);
      acc[r][0] = _mm512_fmadd_ps(xb, w0, acc[r][0]);
      acc[r][1] = _mm512_fmadd_ps(xb, w1, acc[r][1]);
    }
  }
  store_tile<MR>(acc, c, ldc, m0, m1, init);
}

template <int MR>
void micro_bf16(const uint16_t* x, int64_t ldx, const uint32_t* panel, int64_t pairs, float* c, int64_t ldc,
                __mmask16 m0, __mmask16 m1, const float* init) {
  __m512 acc[MR][2];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < pairs; ++p) {
    const __m512bh w0 = (__m512bh)_mm512_load_si512(panel + p * 32);
    const __m512bh w1 = (__m512bh)_mm512_load_si512(panel + p * 32 + 16);
#pragma GCC unroll 12
    for (int r = 0; r < MR; ++r) {
      uint32_t pair;
      std::memcpy(&pair, x + r * ldx + 2 * p, 4);
      const __m512bh xb = (__m512bh)_mm512_set1_epi32(static_cast<int>(pair));
      acc[r][0] = _mm512_dpbf16_ps(acc[r][0], w0, xb);
      acc[r][1] = _mm512_dpbf16_ps(acc[r][1], w1, xb);
    }
  }
  store_tile<MR>(acc, c, ldc, m0, m1, init);
}

#define LUMEN_MICRO_SWITCH(KERNEL, MR_VALUE, ...) \
  switch (MR_VALUE) {                             \
    case 1: KERNEL<1>(__VA_ARGS__); break;        \
    case 2: KERNEL<2>(__VA_ARGS__); break;        \
    case 3: KERNEL<3>(__VA_ARGS__); break;        \
    case 4: KERNEL<4>(__VA_ARGS__); break;        \
    case 5: KERNEL<5>(__VA_ARGS__); break;        \
    case 6: KERNEL<6>(__VA_ARGS__); break;        \
    case 7: KERNEL<7>(__VA_ARGS__); break;        \
    case 8: KERNEL<8>(__VA_ARGS__); break;        \
    case 9: KERNEL<9>(__VA_ARGS__); break;        \
    case 10: KERNEL<10>(__VA_ARGS__); break;      \
    case 11: KERNEL<11>(__VA_ARGS__); break;      \
    default: KERNEL<12>(__VA_ARGS__); break;      \
  }

// Bias (or zeros) for panel columns [n0, n0 + 32), padded.
void panel_bias(const float* bias, int64_t n0, int64_t nn, float* out) {
  for (int64_t j = 0; j < kPanelWidth; ++j) out[j] = (bias && j < nn) ? bias[n0 + j] : 0.0f;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

namespace {

// Seconds for `iterations` steps of 12 independent chains of `step`; the chains' sum goes to
// `sink` so the loop is kept.
template <typename Step>
double time_chains(int64_t iterations, Step step, float* sink) {
  __m512 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm512_set1_ps(static_cast<float>(i) * 1e-3f);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t t = 0; t < iterations; ++t) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = step(acc[i]);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  __m512 sum = acc[0];
  for (int i = 1; i < 12; ++i) sum = _mm512_add_ps(sum, acc[i]);
  *sink += _mm512_reduce_add_ps(sum);
  return seconds;
}

}  // namespace

double bf16_dot_gain_avx512() {
  constexpr int64_t kIterations = 32768;  // 393k instructions of each kind: 0.1-0.2 ms a timing
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-4f);
  const __m512bh ones = (__m512bh)_mm512_set1_epi32(0x3f803f80);  // bf16 pairs (1, 1)
  float sink = 0.0f;
  double fma_best = 1e30, dot_best = 1e30;
  for (int round = 0; round < 5; ++round) {
    fma_best = std::min(fma_best, time_chains(kIterations, [&](__m512 x) { return _mm512_fmadd_ps(x, a, b); }, &sink));
    dot_best = std::min(dot_best, time_chains(kIterations, [&](__m512 x) { return _mm512_dpbf16_ps(x, ones, ones); }, &sink));
  }
  __asm__ volatile("" : : "g"(sink));
  // Per instruction: vfmadd231ps does 16 multiply-adds (32 flops), vdpbf16ps 32 (64 flops).
  return (64.0 / dot_best) / (32.0 / fma_best);
}

void gemv_avx512(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
                 int64_t n1) {
  switch (w.dtype) {
    case DType::kF32: gemv_typed<DType::kF32>(a, w, bias, y, n0, n1); break;
    case DType::kF16: gemv_typed<DType::kF16>(a, w, bias, y, n0, n1); break;
    case DType::kBF16: gemv_typed<DType::kBF16>(a, w, bias, y, n0, n1); break;
    case DType::kQ8_0: gemv_typed<DType::kQ8_0>(a, w, bias, y, n0, n1); break;
    case DType::kQ4_0: gemv_typed<DType::kQ4_0>(a, w, bias, y, n0, n1); break;
    default: break;  // unreachable: loaders reject other dtypes
  }
}

// Both float GEMMs run rows of x in blocks of at most kMcRows, then k blocks, then the
// thread's panels: the block's slice of x (at most 480 x 512 bf16 or 480 x 256 fp32 values,
// 480 KB) stays in L2 while every panel passes over it, and each panel is packed once per row
// block. With panels outermost, all of x came from memory again for every 32 features (8 MB
// of fp32 per panel for a Phi-2 prefill): on a 2-core Intel Xeon the exact F16 GEMM at Phi-2's
// shapes ran at 275-315 GFLOP/s that way and runs at 316-361 now. Every output still sums its
// k blocks in order, the first adding the bias, so the results do not depend on the blocking.
namespace {

constexpr int64_t kMcRows = 480;  // a multiple of kMr

// Rows per block: m cut into equal blocks of at most kMcRows, rounded up to whole tiles.
int64_t row_block(int64_t m) {
  const int64_t blocks = (m + kMcRows - 1) / kMcRows;
  return ((m + blocks - 1) / blocks + kMr - 1) / kMr * kMr;
}

// The micro-kernel call adds to a y tile last touched one k block ago, a row block of panels
// back, so it has left the caches: fetching its rows first hides that miss behind the k steps.
inline void prefetch_tile(const float* c, int64_t ldc, int64_t rows) {
  for (int64_t r = 0; r < rows; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 31), _MM_HINT_T0);
  }
}

}  // namespace

void gemm_f32_avx512(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
                     int64_t n1, void* scratch) {
  auto* base = static_cast<float*>(scratch);
  float* panel = base;                              // 32 x kKcF32
  float* tmp = panel + kPanelWidth * kKcF32;        // kKcF32 + 16
  float* init = tmp + kKcF32 + 16;                  // 32
  const int64_t k = a.k, ldc = w.rows, mc = row_block(a.m);
  for (int64_t b0 = 0; b0 < a.m; b0 += mc) {
    const int64_t b1 = min64(a.m, b0 + mc);
    for (int64_t k0 = 0; k0 < k; k0 += kKcF32) {
      const int64_t kc = min64(kKcF32, k - k0);
      for (int64_t p0 = n0; p0 < n1; p0 += kPanelWidth) {
        const int64_t nn = min64(kPanelWidth, w.rows - p0);
        const __mmask16 m0 = tail_mask(nn), m1 = tail_mask(nn - 16);
        if (k0 == 0) panel_bias(bias, p0, nn, init);
        pack_f32(w, p0, nn, k0, kc, panel, tmp);
        for (int64_t i0 = b0; i0 < b1; i0 += kMr) {
          const int64_t mr = min64(kMr, b1 - i0);
          if (k0 != 0) prefetch_tile(y + i0 * ldc + p0, ldc, mr);
          LUMEN_MICRO_SWITCH(micro_f32, mr, a.x + i0 * k + k0, k, panel, kc, y + i0 * ldc + p0, ldc, m0, m1,
                             k0 == 0 ? init : nullptr)
        }
      }
    }
  }
}

void gemm_bf16_avx512(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
                      int64_t n1, void* scratch) {
  auto* panel = static_cast<uint32_t*>(scratch);                      // 32 x kKcPairs words
  float* tmp = reinterpret_cast<float*>(panel + kPanelWidth * kKcPairs);  // 2 * kKcPairs + 32
  uint32_t* words = reinterpret_cast<uint32_t*>(tmp + 2 * kKcPairs + 32);  // kKcPairs + 16
  float* init = reinterpret_cast<float*>(words + kKcPairs + 16);
  const int64_t k = a.k, ldc = w.rows, ldx = 2 * a.k_pairs, mc = row_block(a.m);
  for (int64_t b0 = 0; b0 < a.m; b0 += mc) {
    const int64_t b1 = min64(a.m, b0 + mc);
    for (int64_t k0 = 0; k0 < k; k0 += 2 * kKcPairs) {
      const int64_t kc = min64(2 * kKcPairs, k - k0);
      const int64_t pairs = (kc + 1) / 2;
      for (int64_t p0 = n0; p0 < n1; p0 += kPanelWidth) {
        const int64_t nn = min64(kPanelWidth, w.rows - p0);
        const __mmask16 m0 = tail_mask(nn), m1 = tail_mask(nn - 16);
        if (k0 == 0) panel_bias(bias, p0, nn, init);
        pack_bf16(w, p0, nn, k0, kc, panel, tmp, words);
        for (int64_t i0 = b0; i0 < b1; i0 += kMr) {
          const int64_t mr = min64(kMr, b1 - i0);
          if (k0 != 0) prefetch_tile(y + i0 * ldc + p0, ldc, mr);
          LUMEN_MICRO_SWITCH(micro_bf16, mr, a.bf16 + i0 * ldx + k0, ldx, panel, pairs, y + i0 * ldc + p0, ldc, m0,
                             m1, k0 == 0 ? init : nullptr)
        }
      }
    }
  }
}

// int8 GEMM. For one panel of 32 features the whole k is packed (block b: 8 steps of 4 k, each
// 32 features x 4 uint8 = two zmm; then 32 fp32 weight scales), then rows of x are processed in
// tiles of kRowTile whose [rows x 32] fp32 outputs stay in L1 while the blocks stream from L2.
void gemm_q8_avx512(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
                    int64_t n1, void* scratch) {
  constexpr int64_t kBlockPanelBytes = 8 * 2 * 64 + 32 * 4;  // 1152
  constexpr int64_t kRowTile = 48;
  const int64_t nb = a.k / 32;
  const int64_t block_bytes = w.dtype == DType::kQ8_0 ? 34 : 18;
  auto* panel = static_cast<uint8_t*>(scratch);  // nb * 1152 bytes (k <= 28k fits in 1 MB)
  const int64_t ldc = w.rows;
  alignas(64) float tile[kRowTile * 32];
  for (int64_t p0 = n0; p0 < n1; p0 += kPanelWidth) {
    const int64_t nn = min64(kPanelWidth, w.rows - p0);
    // Pack: bytes[b][g][j][t] = weight (4g + t) of block b of row j, made unsigned.
    for (int64_t j = 0; j < kPanelWidth; ++j) {
      for (int64_t b = 0; b < nb; ++b) {
        uint8_t* dst = panel + b * kBlockPanelBytes;
        float* scales = reinterpret_cast<float*>(dst + 1024);
        if (j >= nn) {
          for (int g = 0; g < 8; ++g) std::memset(dst + g * 128 + j * 4, 0, 4);
          scales[j] = 0.0f;
          continue;
        }
        const uint8_t* block = w.row(p0 + j) + b * block_bytes;
        alignas(32) uint8_t u[32];
        if (w.dtype == DType::kQ8_0) {
          const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 2));
          _mm256_store_si256(reinterpret_cast<__m256i*>(u), _mm256_xor_si256(q, _mm256_set1_epi8(static_cast<char>(0x80))));
        } else {
          const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2));
          _mm_store_si128(reinterpret_cast<__m128i*>(u), _mm_and_si128(q, _mm_set1_epi8(0x0f)));
          _mm_store_si128(reinterpret_cast<__m128i*>(u + 16), _mm_and_si128(_mm_srli_epi16(q, 4), _mm_set1_epi8(0x0f)));
        }
        for (int g = 0; g < 8; ++g) std::memcpy(dst + g * 128 + j * 4, u + g * 4, 4);
        scales[j] = f16_scalar(block);
      }
    }
    const __mmask16 m0 = tail_mask(nn), m1 = tail_mask(nn - 16);
    float init[32];
    panel_bias(bias, p0, nn, init);
    for (int64_t i0 = 0; i0 < a.m; i0 += kRowTile) {
      const int64_t rows = min64(kRowTile, a.m - i0);
      for (int64_t r = 0; r < rows; ++r) {
        _mm512_store_ps(tile + r * 32, _mm512_loadu_ps(init));
        _mm512_store_ps(tile + r * 32 + 16, _mm512_loadu_ps(init + 16));
      }
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* src = panel + b * kBlockPanelBytes;
        __m512i wv[8][2];
#pragma GCC unroll 8
        for (int g = 0; g < 8; ++g) {
          wv[g][0] = _mm512_load_si512(src + g * 128);
          wv[g][1] = _mm512_load_si512(src + g * 128 + 64);
        }
        const __m512 dw0 = _mm512_load_ps(reinterpret_cast<const float*>(src + 1024));
        const __m512 dw1 = _mm512_load_ps(reinterpret_cast<const float*>(src + 1024) + 16);
        const int8_t* xq = a.q8_blocks + (b * a.m + i0) * 32;
        for (int64_t r = 0; r < rows; ++r) {
          const int32_t* q32 = reinterpret_cast<const int32_t*>(xq + r * 32);
          const __m512i init_sum = _mm512_set1_epi32(a.corr[(i0 + r) * nb + b]);
          __m512i s0 = init_sum, s1 = init_sum;
#pragma GCC unroll 8
          for (int g = 0; g < 8; ++g) {
            const __m512i xb = _mm512_set1_epi32(q32[g]);
            s0 = _mm512_dpbusd_epi32(s0, wv[g][0], xb);
            s1 = _mm512_dpbusd_epi32(s1, wv[g][1], xb);
          }
          const __m512 dx = _mm512_set1_ps(a.scale[(i0 + r) * nb + b]);
          float* t = tile + r * 32;
          _mm512_store_ps(t, _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0), _mm512_mul_ps(dw0, dx), _mm512_load_ps(t)));
          _mm512_store_ps(t + 16,
                          _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1), _mm512_mul_ps(dw1, dx), _mm512_load_ps(t + 16)));
        }
      }
      for (int64_t r = 0; r < rows; ++r) {
        float* cr = y + (i0 + r) * ldc + p0;
        _mm512_mask_storeu_ps(cr, m0, _mm512_load_ps(tile + r * 32));
        _mm512_mask_storeu_ps(cr + 16, m1, _mm512_load_ps(tile + r * 32 + 16));
      }
    }
  }
}

void convert_to_bf16_avx512(const float* x, int64_t m, int64_t k, int64_t k_pairs, uint16_t* out) {
  const int64_t width = 2 * k_pairs;
  for (int64_t i = 0; i < m; ++i) {
    const float* xi = x + i * k;
    uint16_t* oi = out + i * width;
    for (int64_t c = 0; c < width; c += 32) {
      const __m512 lo = _mm512_maskz_loadu_ps(tail_mask(k - c), xi + c);
      const __m512 hi = _mm512_maskz_loadu_ps(tail_mask(k - c - 16), xi + c + 16);
      const __m512i packed = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
      const int64_t left = width - c;
      const __mmask32 mask = left >= 32 ? __mmask32(0xffffffffu) : __mmask32((1u << left) - 1);
      _mm512_mask_storeu_epi16(oi + c, mask, packed);
    }
  }
}

}  // namespace lumen::kernels
