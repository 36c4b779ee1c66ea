// AVX2 + FMA + F16C matmul for x86-64 CPUs without AVX-512, exact fp32 arithmetic over every
// stored weight type (the reduced-precision int8 kernels for Q8_0/Q4_0 are in
// linear_int8_avx2.cpp).
//
// GEMV (m <= 4, decode): bandwidth bound, so each weight is read once, straight from its stored
// layout, widened in registers (F16 with vcvtph2ps, BF16 by a shift, Q8_0/Q4_0 scale times
// integer) and applied to every row of x. Several weight rows per pass share each x load and
// give the FMAs independent chains.
// GEMM (m > 4, prefill and vision): a panel of 16 output features is packed for 256 steps of k
// (16 x 256 fp32 = 16 KB, per thread) as panel[k][16], widening while packing (8x8 transposes),
// then a 6 x 16 register micro-kernel (12 ymm accumulators, 2 panel loads and 6 broadcasts of
// x per k step for 12 FMAs) walks x in tiles of 6 rows. The loops run rows of x in blocks of
// at most 480, then k blocks, then panels: the block's slice of x, packed in 6-row tiles
// (pack_rows; at most 480 KB), stays in L2 while every panel of the thread's columns passes
// over it. (Panels outermost read all of x, m x k x 4 bytes, from memory again for each 16
// features: 8 MB per panel for a Phi-2 prefill.)
// Like linear_avx512.cpp this file gets plain pointers (see linear_kernels.h for why).
#include <immintrin.h>

#include <cstring>

#include "lumen/kernels/cpu/linear_kernels.h"
#include "lumen/kernels/cpu/vec_math_avx2.h"

namespace lumen::kernels {

namespace {

// ---------------------------------------------------------------------------------------------
// Weights [c, c + 8) of a stored row as fp32 (exact). c is a multiple of 8, so for the block
// types the eight lie in one block of 32.

template <DType D>
inline __m256 load8(const uint8_t* row, int64_t c);

template <>
inline __m256 load8<DType::kF32>(const uint8_t* row, int64_t c) {
  return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + c);
}
template <>
inline __m256 load8<DType::kF16>(const uint8_t* row, int64_t c) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * c)));
}
template <>
inline __m256 load8<DType::kBF16>(const uint8_t* row, int64_t c) {
  const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * c)));
  return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
}
template <>  // block: f16 scale d, 32 int8 q; value = d * q
inline __m256 load8<DType::kQ8_0>(const uint8_t* row, int64_t c) {
  const uint8_t* block = row + (c / 32) * 34;
  const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(block + 2 + c % 32));
  return _mm256_mul_ps(_mm256_set1_ps(f16_scalar(block)), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q)));
}
template <>  // block: f16 d, 16 bytes; byte j = weight j (low nibble), j + 16 (high); d * (nibble - 8)
inline __m256 load8<DType::kQ4_0>(const uint8_t* row, int64_t c) {
  const uint8_t* block = row + (c / 32) * 18;
  const int64_t at = c % 32;
  __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(block + 2 + (at & 15))));
  if (at >= 16) v = _mm256_srli_epi32(v, 4);
  v = _mm256_sub_epi32(_mm256_and_si256(v, _mm256_set1_epi32(0x0f)), _mm256_set1_epi32(8));
  return _mm256_mul_ps(_mm256_set1_ps(f16_scalar(block)), _mm256_cvtepi32_ps(v));
}

// Weights [c, c + count) of a float-type row (count < 8, the row's end), zeros after.
template <DType D>
inline __m256 load_tail(const uint8_t* row, int64_t c, int64_t count) {
  constexpr int64_t size = D == DType::kF32 ? 4 : 2;
  alignas(32) uint8_t part[32] = {};
  std::memcpy(part, row + c * size, static_cast<size_t>(count * size));
  return load8<D>(part, 0);
}

// ---------------------------------------------------------------------------------------------
// GEMV: NR stored rows (row_bytes apart) times M rows of x; sums[j * M + r] = row j . x row r.

// Stored bytes of NR rows per 8 weights (for the block types their scales spread evenly).
template <DType D, int NR>
constexpr int64_t kPassBytesPer8 = D == DType::kF32    ? NR * 32
                                   : D == DType::kQ8_0 ? NR * 34 / 4
                                   : D == DType::kQ4_0 ? NR * 18 / 4
                                                       : NR * 16;

// The NR rows are contiguous, and interleaved reads of NR short streams train the hardware
// prefetchers poorly, so each step of 8 weights also prefetches its share of the NR rows two
// passes ahead (`ahead`, null for none).
template <DType D, int M, int NR>
void dot_rows(const float* x, int64_t k, const uint8_t* w, size_t row_bytes, const uint8_t* ahead, float* sums) {
  __m256 acc[NR][M];
  for (int j = 0; j < NR; ++j) {
    for (int r = 0; r < M; ++r) acc[j][r] = _mm256_setzero_ps();
  }
  int64_t c = 0;
  constexpr int64_t step_bytes = kPassBytesPer8<D, NR>;
  for (; c + 8 <= k; c += 8) {
    if (ahead) prefetch_span_avx2<step_bytes>(ahead + (c / 8) * step_bytes);
    __m256 xv[M];
    for (int r = 0; r < M; ++r) xv[r] = _mm256_loadu_ps(x + r * k + c);
    for (int j = 0; j < NR; ++j) {
      const __m256 wv = load8<D>(w + j * row_bytes, c);
      for (int r = 0; r < M; ++r) acc[j][r] = _mm256_fmadd_ps(wv, xv[r], acc[j][r]);
    }
  }
  if constexpr (D == DType::kF32 || D == DType::kF16 || D == DType::kBF16) {
    if (c < k) {  // k % 8 values left (block types have k % 32 == 0)
      const __m256i mask = tail_mask_avx2(k - c);
      __m256 xv[M];
      for (int r = 0; r < M; ++r) xv[r] = _mm256_maskload_ps(x + r * k + c, mask);
      for (int j = 0; j < NR; ++j) {
        const __m256 wv = load_tail<D>(w + j * row_bytes, c, k - c);
        for (int r = 0; r < M; ++r) acc[j][r] = _mm256_fmadd_ps(wv, xv[r], acc[j][r]);
      }
    }
  }
  for (int j = 0; j < NR; ++j) {
    for (int r = 0; r < M; ++r) sums[j * M + r] = hsum_avx2(acc[j][r]);
  }
}

template <DType D, int M>
void gemv_rows(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
               int64_t n1) {
  // Rows per pass: NR * M accumulators plus M x vectors stay within the 16 ymm registers.
  constexpr int NR = M <= 2 ? 4 : 2;
  const size_t row_bytes = w.row_bytes();
  float sums[NR * M];
  int64_t n = n0;
  for (; n + NR <= n1; n += NR) {
    const uint8_t* rows = w.data + static_cast<size_t>(n) * row_bytes;
    dot_rows<D, M, NR>(a.x, a.k, rows, row_bytes, n + 3 * NR <= n1 ? rows + 2 * NR * row_bytes : nullptr, sums);
    for (int j = 0; j < NR; ++j) {
      const float b = bias ? bias[n + j] : 0.0f;
      for (int r = 0; r < M; ++r) y[r * w.rows + n + j] = sums[j * M + r] + b;
    }
  }
  for (; n < n1; ++n) {
    dot_rows<D, M, 1>(a.x, a.k, w.data + static_cast<size_t>(n) * row_bytes, row_bytes, nullptr, sums);
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
// GEMM.

constexpr int64_t kMr = 6;     // rows of x per micro-kernel tile
constexpr int64_t kNr = kAvx2PanelWidth;  // 16 features = 2 ymm
constexpr int64_t kKc = 256;   // k per packed panel: 16 x 256 x 4 B = 16 KB
// Rows of x per block at most (a multiple of kMr): 480 x 256 x 4 B = 480 KB packed. m is cut
// into equal blocks (a Phi-2 prefill of 789 rows into two of 396), as each block packs every
// weight panel again.
constexpr int64_t kMc = 480;
// The panel, the bias row, the packed rows and the 8 floats pack_rows' last store runs past.
static_assert((kKc * kNr + kNr + kMc * kKc + 8) * 4 <= kScratchBytes, "the GEMM's packing fits the scratch");

// panel[kk][j] = W[n0 + j][k0 + kk] as fp32 for kk < kc rounded up to 8, zero for j >= nn and
// past the row's end. Eight rows of eight weights are loaded and transposed at a time.
template <DType D>
void pack_panel(const WeightMatrix& w, int64_t n0, int64_t nn, int64_t k0, int64_t kc, float* panel) {
  const size_t row_bytes = w.row_bytes();
  for (int64_t jb = 0; jb < kNr; jb += 8) {
    for (int64_t c = 0; c < kc; c += 8) {
      __m256 r[8];
      for (int64_t t = 0; t < 8; ++t) {
        const int64_t j = jb + t;
        if (j >= nn) {
          r[t] = _mm256_setzero_ps();
          continue;
        }
        const uint8_t* row = w.data + static_cast<size_t>(n0 + j) * row_bytes;
        if constexpr (D == DType::kF32 || D == DType::kF16 || D == DType::kBF16) {
          r[t] = c + 8 <= kc ? load8<D>(row, k0 + c) : load_tail<D>(row, k0 + c, kc - c);
        } else {
          r[t] = load8<D>(row, k0 + c);  // kc is a multiple of 32 for block types
        }
      }
      transpose8x8_avx2(r);
      for (int64_t t = 0; t < 8; ++t) _mm256_store_ps(panel + (c + t) * kNr + jb, r[t]);
    }
  }
}

// Lane masks for panel columns [0, 8) and [8, 16) of a panel with nn real columns.
struct PanelMasks {
  __m256i lo, hi;
  bool full;
};

// c[r][0, nn) = acc[r] + init (the bias, first k block) or + what earlier k blocks left in c.
template <int MR>
inline void store_tile(const __m256 (&acc)[MR][2], float* c, int64_t ldc, const PanelMasks& masks,
                       const float* init) {
  for (int r = 0; r < MR; ++r) {
    float* cr = c + r * ldc;
    if (masks.full) {
      const __m256 b0 = _mm256_loadu_ps(init ? init : cr), b1 = _mm256_loadu_ps(init ? init + 8 : cr + 8);
      _mm256_storeu_ps(cr, _mm256_add_ps(acc[r][0], b0));
      _mm256_storeu_ps(cr + 8, _mm256_add_ps(acc[r][1], b1));
    } else {
      const __m256 b0 = init ? _mm256_loadu_ps(init) : _mm256_maskload_ps(cr, masks.lo);
      const __m256 b1 = init ? _mm256_loadu_ps(init + 8) : _mm256_maskload_ps(cr + 8, masks.hi);
      _mm256_maskstore_ps(cr, masks.lo, _mm256_add_ps(acc[r][0], b0));
      _mm256_maskstore_ps(cr + 8, masks.hi, _mm256_add_ps(acc[r][1], b1));
    }
  }
}

// [MR x 16] tile of y over kc steps of k: per step 2 panel loads, MR broadcasts, 2 * MR FMAs.
// x row r, step kk is at x[r * ldx + kk], or with Packed (pack_rows) at x[kk * MR + r].
template <int MR, bool Packed = false>
void micro_f32(const float* x, int64_t ldx, const float* panel, int64_t kc, float* c, int64_t ldc,
               const PanelMasks& masks, const float* init) {
  __m256 acc[MR][2];
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  // The tile of y this call adds to (store_tile, after the k loop) was last touched one k
  // block ago, a whole row block of panels back, so it has left the caches; fetching it now
  // hides that miss behind the kc steps. Phi-2 shapes, m = 789, F16, 2 threads, 2-core Intel
  // Xeon: 215 -> 239 GFLOP/s at n = 10240, k = 2560; 211 -> 227 at n = 2560, k = 10240.
  for (int r = 0; r < MR; ++r) {
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + 15), _MM_HINT_T0);
  }
#pragma GCC unroll 4
  for (int64_t kk = 0; kk < kc; ++kk) {
    const __m256 w0 = _mm256_load_ps(panel + kk * kNr);
    const __m256 w1 = _mm256_load_ps(panel + kk * kNr + 8);
#pragma GCC unroll 6
    for (int r = 0; r < MR; ++r) {
      const __m256 xb = _mm256_broadcast_ss(Packed ? x + kk * MR + r : x + r * ldx + kk);
      acc[r][0] = _mm256_fmadd_ps(xb, w0, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(xb, w1, acc[r][1]);
    }
  }
  store_tile<MR>(acc, c, ldc, masks, init);
}

// The whole 6-row tiles of x rows [i0, i1), steps [0, kc) (x already offset to the k block),
// as packed[tile][kk][6]: the micro-kernel's broadcasts then read one contiguous stream
// instead of six rows a row of x apart.
// Eight steps at a time: the six rows (and two zero rows) transposed in registers, each step's
// six values stored with an 8-wide store that the next one overwrites past its sixth.
void pack_rows(const float* x, int64_t k, int64_t i0, int64_t i1, int64_t kc, float* packed) {
  for (int64_t i = i0; i + kMr <= i1; i += kMr) {
    int64_t kk = 0;
    for (; kk + 8 <= kc; kk += 8) {
      __m256 r[8];
      for (int64_t t = 0; t < kMr; ++t) r[t] = _mm256_loadu_ps(x + (i + t) * k + kk);
      r[6] = r[7] = _mm256_setzero_ps();
      transpose8x8_avx2(r);
      for (int64_t t = 0; t < 8; ++t) _mm256_storeu_ps(packed + (kk + t) * kMr, r[t]);
    }
    for (; kk < kc; ++kk) {
      for (int64_t r = 0; r < kMr; ++r) packed[kk * kMr + r] = x[(i + r) * k + kk];
    }
    packed += kc * kMr;
  }
}

// Rows [i0, i1) of x against one packed panel: 6-row tiles (from pack_rows' `packed`), then the
// rows left (fewer than 6) straight from x.
void panel_rows(const float* x, int64_t k, int64_t i0, int64_t i1, const float* packed, const float* panel,
                int64_t kc, float* y, int64_t ldc, const PanelMasks& masks, const float* init) {
  int64_t i = i0;
  for (; i + kMr <= i1; i += kMr, packed += kc * kMr) {
    micro_f32<kMr, true>(packed, 0, panel, kc, y + i * ldc, ldc, masks, init);
  }
  const float* xt = x + i * k;
  float* yt = y + i * ldc;
  switch (i1 - i) {
    case 1: micro_f32<1>(xt, k, panel, kc, yt, ldc, masks, init); break;
    case 2: micro_f32<2>(xt, k, panel, kc, yt, ldc, masks, init); break;
    case 3: micro_f32<3>(xt, k, panel, kc, yt, ldc, masks, init); break;
    case 4: micro_f32<4>(xt, k, panel, kc, yt, ldc, masks, init); break;
    case 5: micro_f32<5>(xt, k, panel, kc, yt, ldc, masks, init); break;
    default: break;
  }
}

// Every output still sums its k blocks in order, the first adding the bias, as before the row
// blocking: the results do not depend on kMc.
template <DType D>
void gemm_typed(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
                int64_t n1, void* scratch) {
  float* panel = static_cast<float*>(scratch);  // kKc x 16, 64-byte aligned
  float* init = panel + kKc * kNr;               // 16
  float* packed = init + kNr;                    // kMc x kKc (pack_rows)
  const int64_t k = a.k, ldc = w.rows;
  const int64_t blocks = (a.m + kMc - 1) / kMc;
  const int64_t mc = ((a.m + blocks - 1) / blocks + kMr - 1) / kMr * kMr;
  for (int64_t i0 = 0; i0 < a.m; i0 += mc) {
    const int64_t i1 = min64(a.m, i0 + mc);
    for (int64_t k0 = 0; k0 < k; k0 += kKc) {
      const int64_t kc = min64(kKc, k - k0);
      pack_rows(a.x + k0, k, i0, i1, kc, packed);
      for (int64_t p0 = n0; p0 < n1; p0 += kNr) {
        const int64_t nn = min64(kNr, w.rows - p0);
        const PanelMasks masks{tail_mask_avx2(nn), tail_mask_avx2(nn - 8), nn == kNr};
        if (k0 == 0) {
          for (int64_t j = 0; j < kNr; ++j) init[j] = (bias && j < nn) ? bias[p0 + j] : 0.0f;
        }
        pack_panel<D>(w, p0, nn, k0, kc, panel);
        panel_rows(a.x + k0, k, i0, i1, packed, panel, kc, y + p0, ldc, masks, k0 == 0 ? init : nullptr);
      }
    }
  }
}

}  // namespace

// ---------------------------------------------------------------------------------------------

void gemv_avx2(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
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

void gemm_f32_avx2(const PreparedActivations& a, const WeightMatrix& w, const float* bias, float* y, int64_t n0,
                   int64_t n1, void* scratch) {
  switch (w.dtype) {
    case DType::kF32: gemm_typed<DType::kF32>(a, w, bias, y, n0, n1, scratch); break;
    case DType::kF16: gemm_typed<DType::kF16>(a, w, bias, y, n0, n1, scratch); break;
    case DType::kBF16: gemm_typed<DType::kBF16>(a, w, bias, y, n0, n1, scratch); break;
    case DType::kQ8_0: gemm_typed<DType::kQ8_0>(a, w, bias, y, n0, n1, scratch); break;
    case DType::kQ4_0: gemm_typed<DType::kQ4_0>(a, w, bias, y, n0, n1, scratch); break;
    default: break;
  }
}

}  // namespace lumen::kernels
