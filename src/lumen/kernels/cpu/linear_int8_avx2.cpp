// AVX2 int8 matmul for MatmulPrecision::kReduced over Q8_0/Q4_0 weights: x quantized per
// 32-block to int8 (quantize_activations_q8_avx2), each block's integer dot product computed
// with vpmaddubsw (u8 x s8 -> pairs summed to int16, saturating) and vpmaddwd (int16 pairs ->
// int32), then scaled by d_w * d_x in fp32, as in llama.cpp. The integer sums are exact, so the
// results follow linear_reference_reduced.
//
// Operand arrangement, chosen so vpmaddubsw cannot saturate (|q_x| <= 127 by construction):
//   Q8_0: unsigned operand |w| (<= 128, even for a stored -128), signed operand q_x with w's
//         sign (vpsignb): a pair is at most 2 * 128 * 127 = 32512 < 32767.
//   Q4_0: unsigned operand the raw nibble w + 8 in 0..15, signed q_x: a pair is at most
//         2 * 15 * 127 = 3810, so the GEMM adds 8 of them (one block, 30480) in int16 before
//         widening; -8 * sum(q_x) per block (PreparedActivations::corr) removes the offset.
//
// GEMV (m <= 4): one block of a weight row at a time (a Q4_0 block's 16 bytes unpack to one ymm
// of 16 low then 16 high nibbles, lined up with x's natural order), applied to every x row.
// GEMM (m > 4): a panel of 16 features is packed over the whole k, per block of 32:
// panel[block][step g of 4 k][16 features][4 bytes] (two ymm per step), then the 16 weight
// scales; x (block-major, [nb][m][32]) is broadcast 4 bytes at a time, so each vpmaddubsw
// gives 8 features x 2 pairs of k and each block ends as 8 int32 lanes per feature ymm.
#include <immintrin.h>

#include <cstring>

#include "lumen/kernels/cpu/linear_kernels.h"
#include "lumen/kernels/cpu/vec_math_avx2.h"

namespace lumen::kernels {

namespace {

// A Q4_0 block's nibbles as 32 bytes in value order: bytes 0-15 = low nibbles (weights 0-15),
// bytes 16-31 = high nibbles (weights 16-31), each 0..15.
inline __m256i unpack_q4(const uint8_t* block) {
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2));
  const __m256i both = _mm256_inserti128_si256(_mm256_castsi128_si256(q), _mm_srli_epi16(q, 4), 1);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

// ---------------------------------------------------------------------------------------------
// GEMV: NR weight rows times M rows of x; sums[j * M + r].

// The NR rows are contiguous; as interleaved reads of NR short streams train the hardware
// prefetchers poorly, each block step also prefetches its share (NR blocks' bytes) of the rows
// two passes ahead (`ahead`, null for none).
template <bool Q4, int M, int NR>
void dot_rows_int8(const uint8_t* w, size_t row_bytes, const uint8_t* ahead, const PreparedActivations& a,
                   float* sums) {
  constexpr int64_t block_bytes = Q4 ? 18 : 34;
  const int64_t k = a.k, nb = k / 32;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[NR][M];
  for (int j = 0; j < NR; ++j) {
    for (int r = 0; r < M; ++r) acc[j][r] = _mm256_setzero_ps();
  }
  for (int64_t b = 0; b < nb; ++b) {
    if (ahead) prefetch_span_avx2<NR * block_bytes>(ahead + b * NR * block_bytes);
    __m256i xq[M];
    for (int r = 0; r < M; ++r) xq[r] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.q8_rows + r * k + b * 32));
    for (int j = 0; j < NR; ++j) {
      const uint8_t* block = w + j * row_bytes + b * block_bytes;
      const float dw = f16_scalar(block);
      if constexpr (Q4) {
        const __m256i u = unpack_q4(block);
        for (int r = 0; r < M; ++r) {
          __m256i isum = _mm256_madd_epi16(_mm256_maddubs_epi16(u, xq[r]), ones);
          isum = _mm256_add_epi32(isum, _mm256_setr_epi32(a.corr[r * nb + b], 0, 0, 0, 0, 0, 0, 0));
          acc[j][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(dw * a.scale[r * nb + b]), acc[j][r]);
        }
      } else {
        const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 2));
        const __m256i u = _mm256_abs_epi8(q);
        for (int r = 0; r < M; ++r) {
          const __m256i isum = _mm256_madd_epi16(_mm256_maddubs_epi16(u, _mm256_sign_epi8(xq[r], q)), ones);
          acc[j][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum), _mm256_set1_ps(dw * a.scale[r * nb + b]), acc[j][r]);
        }
      }
    }
  }
  for (int j = 0; j < NR; ++j) {
    for (int r = 0; r < M; ++r) sums[j * M + r] = hsum_avx2(acc[j][r]);
  }
}

template <bool Q4, int M>
void gemv_rows_int8(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
                    int64_t n1) {
  // Rows per pass: independent FMA chains for m = 1 and one x load shared by NR rows.
  constexpr int NR = M <= 2 ? 4 : 2;
  const size_t row_bytes = w.row_bytes();
  float sums[NR * M];
  int64_t n = n0;
  for (; n + NR <= n1; n += NR) {
    const uint8_t* rows = w.data + static_cast<size_t>(n) * row_bytes;
    dot_rows_int8<Q4, M, NR>(rows, row_bytes, n + 3 * NR <= n1 ? rows + 2 * NR * row_bytes : nullptr, a, sums);
    for (int j = 0; j < NR; ++j) {
      const float b = bias ? bias[n + j] : 0.0f;
      for (int r = 0; r < M; ++r) y[r * w.rows + n + j] = sums[j * M + r] + b;
    }
  }
  for (; n < n1; ++n) {
    dot_rows_int8<Q4, M, 1>(w.data + static_cast<size_t>(n) * row_bytes, row_bytes, nullptr, a, sums);
    const float b = bias ? bias[n] : 0.0f;
    for (int r = 0; r < M; ++r) y[r * w.rows + n] = sums[r] + b;
  }
}

template <bool Q4>
void gemv_typed(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
                int64_t n1) {
  switch (a.m) {
    case 1: gemv_rows_int8<Q4, 1>(a, w, bias, y, n0, n1); break;
    case 2: gemv_rows_int8<Q4, 2>(a, w, bias, y, n0, n1); break;
    case 3: gemv_rows_int8<Q4, 3>(a, w, bias, y, n0, n1); break;
    default: gemv_rows_int8<Q4, 4>(a, w, bias, y, n0, n1); break;
  }
}

// ---------------------------------------------------------------------------------------------
// GEMM.

constexpr int64_t kNr = 16;        // features per panel (2 ymm of 8)
constexpr int64_t kRowTile = 48;   // rows of x whose [rows x 16] fp32 outputs stay in L1

// Packs features [n0, n0 + nn) of every block: for block b at panel + b * kAvx2Int8BlockPanelBytes,
// bytes [g * 64 + j * 4, + 4) = weights 4g..4g+3 of feature j (signed int8 for Q8_0, nibbles
// 0..15 for Q4_0), then 16 fp32 scales d_w at byte 512; zero for j >= nn. Eight features' 32
// bytes are transposed as 8 x 8 dwords at a time.
template <bool Q4>
void pack_panel_int8(const WeightMatrix& w, int64_t n0, int64_t nn, int64_t nb, uint8_t* panel) {
  constexpr int64_t block_bytes = Q4 ? 18 : 34;
  const size_t row_bytes = w.row_bytes();
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* dst = panel + b * kAvx2Int8BlockPanelBytes;
    float* scales = reinterpret_cast<float*>(dst + 512);
    for (int64_t jb = 0; jb < kNr; jb += 8) {
      __m256 r[8];
      for (int64_t t = 0; t < 8; ++t) {
        const int64_t j = jb + t;
        if (j >= nn) {
          r[t] = _mm256_setzero_ps();
          scales[j] = 0.0f;
          continue;
        }
        const uint8_t* block = w.data + static_cast<size_t>(n0 + j) * row_bytes + b * block_bytes;
        const __m256i bytes = Q4 ? unpack_q4(block) : _mm256_loadu_si256(reinterpret_cast<const __m256i*>(block + 2));
        r[t] = _mm256_castsi256_ps(bytes);
        scales[j] = f16_scalar(block);
      }
      transpose8x8_avx2(r);
      for (int64_t g = 0; g < 8; ++g) _mm256_store_ps(reinterpret_cast<float*>(dst + g * 64 + jb * 4), r[g]);
    }
  }
}

// Marks the accumulators as live in registers at the end of a step. Integer adds associate, so
// without it GCC 12 regroups the 8 steps' accumulation chains: it computes all 96 products of a
// 6-row tile first, spills them to the stack and sums them afterwards, which ran the GEMM at
// 130 GOP/s (Q4_0, one thread, Imp shapes) instead of 171 with the chains kept. The empty asm
// costs no instruction.
template <int MR>
inline void keep_accumulators(__m256i (&acc)[MR][2]) {
  for (int r = 0; r < MR; ++r) __asm__("" : "+x"(acc[r][0]), "+x"(acc[r][1]));
}

// tile[r][0, 16) += d_w * d_x[r] * (block b's dot products) for MR rows of x. xq: the rows'
// 32 bytes of block b, consecutive; dx, corr: their scale / correction, nb apart.
template <bool Q4, int MR>
inline void micro_int8(const uint8_t* bp, const int8_t* xq, const float* dx, const int32_t* corr, int64_t nb,
                       float* tile) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[MR][2];  // Q4: int16 pair sums (8 steps stay below 32767); Q8: int32
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
#pragma GCC unroll 8
  for (int g = 0; g < 8; ++g) {
    const __m256i w0 = _mm256_load_si256(reinterpret_cast<const __m256i*>(bp + g * 64));
    const __m256i w1 = _mm256_load_si256(reinterpret_cast<const __m256i*>(bp + g * 64 + 32));
    if constexpr (Q4) {
      for (int r = 0; r < MR; ++r) {
        int32_t word;
        std::memcpy(&word, xq + r * 32 + g * 4, 4);
        const __m256i xb = _mm256_set1_epi32(word);
        acc[r][0] = _mm256_add_epi16(acc[r][0], _mm256_maddubs_epi16(w0, xb));
        acc[r][1] = _mm256_add_epi16(acc[r][1], _mm256_maddubs_epi16(w1, xb));
      }
      keep_accumulators(acc);
    } else {
      const __m256i u0 = _mm256_abs_epi8(w0), u1 = _mm256_abs_epi8(w1);
      for (int r = 0; r < MR; ++r) {
        int32_t word;
        std::memcpy(&word, xq + r * 32 + g * 4, 4);
        const __m256i xb = _mm256_set1_epi32(word);
        acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(u0, _mm256_sign_epi8(xb, w0)), ones));
        acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(u1, _mm256_sign_epi8(xb, w1)), ones));
      }
      keep_accumulators(acc);
    }
  }
  const __m256 dw0 = _mm256_load_ps(reinterpret_cast<const float*>(bp + 512));
  const __m256 dw1 = _mm256_load_ps(reinterpret_cast<const float*>(bp + 512) + 8);
  for (int r = 0; r < MR; ++r) {
    __m256i i0 = acc[r][0], i1 = acc[r][1];
    if constexpr (Q4) {
      const __m256i c = _mm256_set1_epi32(corr[r * nb]);
      i0 = _mm256_add_epi32(_mm256_madd_epi16(i0, ones), c);
      i1 = _mm256_add_epi32(_mm256_madd_epi16(i1, ones), c);
    }
    const __m256 s = _mm256_set1_ps(dx[r * nb]);
    float* t = tile + r * kNr;
    _mm256_store_ps(t, _mm256_fmadd_ps(_mm256_cvtepi32_ps(i0), _mm256_mul_ps(dw0, s), _mm256_load_ps(t)));
    _mm256_store_ps(t + 8, _mm256_fmadd_ps(_mm256_cvtepi32_ps(i1), _mm256_mul_ps(dw1, s), _mm256_load_ps(t + 8)));
  }
}

template <bool Q4>
void gemm_typed(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
                int64_t n1, void* scratch) {
  // Rows per micro-kernel call: the accumulators, weights and broadcasts fit 16 ymm registers.
  // Q4_0: 12 int16 accumulators, 2 weight vectors, a broadcast and a product. Q8_0 also holds
  // |w| twice and the ones vector, so 4 rows.
  constexpr int64_t kMr = Q4 ? 6 : 4;
  const int64_t nb = a.k / 32, m = a.m, ldc = w.rows;
  auto* panel = static_cast<uint8_t*>(scratch);  // nb * kAvx2Int8BlockPanelBytes (checked by the caller)
  alignas(32) float tile[kRowTile * kNr];
  for (int64_t p0 = n0; p0 < n1; p0 += kNr) {
    const int64_t nn = min64(kNr, w.rows - p0);
    pack_panel_int8<Q4>(w, p0, nn, nb, panel);
    alignas(32) float init[kNr];
    for (int64_t j = 0; j < kNr; ++j) init[j] = (bias && j < nn) ? bias[p0 + j] : 0.0f;
    const __m256i lo = tail_mask_avx2(nn), hi = tail_mask_avx2(nn - 8);
    for (int64_t i0 = 0; i0 < m; i0 += kRowTile) {
      const int64_t rows = min64(kRowTile, m - i0);
      for (int64_t r = 0; r < rows; ++r) {
        _mm256_store_ps(tile + r * kNr, _mm256_load_ps(init));
        _mm256_store_ps(tile + r * kNr + 8, _mm256_load_ps(init + 8));
      }
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* bp = panel + b * kAvx2Int8BlockPanelBytes;
        const int8_t* xq = a.q8_blocks + (b * m + i0) * 32;
        const float* dx = a.scale + i0 * nb + b;
        const int32_t* corr = a.corr + i0 * nb + b;
        int64_t r = 0;
        for (; r + kMr <= rows; r += kMr) {
          micro_int8<Q4, kMr>(bp, xq + r * 32, dx + r * nb, corr + r * nb, nb, tile + r * kNr);
        }
        switch (rows - r) {
          case 1: micro_int8<Q4, 1>(bp, xq + r * 32, dx + r * nb, corr + r * nb, nb, tile + r * kNr); break;
          case 2: micro_int8<Q4, 2>(bp, xq + r * 32, dx + r * nb, corr + r * nb, nb, tile + r * kNr); break;
          case 3: micro_int8<Q4, 3>(bp, xq + r * 32, dx + r * nb, corr + r * nb, nb, tile + r * kNr); break;
          case 4: micro_int8<Q4, 4>(bp, xq + r * 32, dx + r * nb, corr + r * nb, nb, tile + r * kNr); break;
          case 5: micro_int8<Q4, 5>(bp, xq + r * 32, dx + r * nb, corr + r * nb, nb, tile + r * kNr); break;
          default: break;
        }
      }
      for (int64_t r = 0; r < rows; ++r) {
        float* cr = y + (i0 + r) * ldc + p0;
        if (nn == kNr) {
          _mm256_storeu_ps(cr, _mm256_load_ps(tile + r * kNr));
          _mm256_storeu_ps(cr + 8, _mm256_load_ps(tile + r * kNr + 8));
        } else {
          _mm256_maskstore_ps(cr, lo, _mm256_load_ps(tile + r * kNr));
          _mm256_maskstore_ps(cr + 8, hi, _mm256_load_ps(tile + r * kNr + 8));
        }
      }
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------

void gemv_int8_avx2(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
                    int64_t n1) {
  if (w.dtype == DType::kQ4_0) {
    gemv_typed<true>(a, w, bias, y, n0, n1);
  } else {
    gemv_typed<false>(a, w, bias, y, n0, n1);
  }
}

void gemm_int8_avx2(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
                    int64_t n1, void* scratch) {
  if (w.dtype == DType::kQ4_0) {
    gemm_typed<true>(a, w, bias, y, n0, n1, scratch);
  } else {
    gemm_typed<false>(a, w, bias, y, n0, n1, scratch);
  }
}

// Same arithmetic as quantize_activations_q8, eight lanes at a time: max|x| by vmaxps (the
// order of a max does not matter), d and 1 / d as scalars exactly as there, q = x * (1 / d)
// rounded by vcvtps2dq under the default round-to-nearest-even mode (what std::nearbyint
// does), and the sum over the exact int32 lanes.
void quantize_activations_q8_avx2(const float* x, int64_t m, int64_t k, int8_t* q, float* scale, int32_t* sums) {
  const int64_t nb = k / 32;
  const __m256 sign = _mm256_set1_ps(-0.0f);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t b = 0; b < nb; ++b) {
      const float* src = x + i * k + b * 32;
      const __m256 v0 = _mm256_loadu_ps(src), v1 = _mm256_loadu_ps(src + 8);
      const __m256 v2 = _mm256_loadu_ps(src + 16), v3 = _mm256_loadu_ps(src + 24);
      const __m256 amax8 = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v0), _mm256_andnot_ps(sign, v1)),
                                         _mm256_max_ps(_mm256_andnot_ps(sign, v2), _mm256_andnot_ps(sign, v3)));
      const float amax = hmax_avx2(amax8);
      const float d = amax / 127.0f;
      const __m256 inv = _mm256_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
      const __m256i i0 = _mm256_cvtps_epi32(_mm256_mul_ps(v0, inv)), i1 = _mm256_cvtps_epi32(_mm256_mul_ps(v1, inv));
      const __m256i i2 = _mm256_cvtps_epi32(_mm256_mul_ps(v2, inv)), i3 = _mm256_cvtps_epi32(_mm256_mul_ps(v3, inv));
      // packs work within 128-bit lanes: the bytes come out as dwords (0-3 of i0, i1, i2, i3,
      // then 4-7 of each); the permute restores value order.
      const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(i0, i1), _mm256_packs_epi32(i2, i3));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + i * k + b * 32), _mm256_permutevar8x32_epi32(packed, order));
      const __m256i s = _mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3));
      __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
      s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
      scale[i * nb + b] = d;
      sums[i * nb + b] = _mm_cvtsi128_si32(s4);
    }
  }
}

}  // namespace lumen::kernels
