// AVX2 + FMA + F16C matmul for x86-64 CPUs without AVX-512: exact fp32 arithmetic over every
// stored weight type (the portable path's results, vectorised).
//
// A block of up to kAvx2RowsPerBlock weight rows is widened to fp32 once (F16 with vcvtph2ps,
// BF16 by a shift, Q8_0/Q4_0 block by block, scale times integer, as in weights.cpp), then
//   decode (m <= 4): each row meets every x row while it is in L1;
//   prefill (m > 4): a register-blocked kernel computes [4 x rows] x [2 weight rows] dot
//   products at once, 8 accumulators, so each x and w load feeds more than one FMA.
// Like linear_avx512.cpp this file gets plain pointers (see linear_kernels.h for why).
#include <immintrin.h>

#include <cstring>

#include "lumen/kernels/cpu/linear_kernels.h"

namespace lumen::kernels {

namespace {

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline float half_to_float(const uint8_t* p) {
  uint16_t bits;
  std::memcpy(&bits, p, 2);
  return _cvtsh_ss(bits);
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
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i))));
      }
      for (; i < k; ++i) out[i] = half_to_float(row + 2 * i);
      return;
    }
    case DType::kBF16: {
      int64_t i = 0;
      for (; i + 8 <= k; i += 8) {
        const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * i)));
        _mm256_storeu_ps(out + i, _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16)));
      }
      for (; i < k; ++i) {
        uint16_t bits;
        std::memcpy(&bits, row + 2 * i, 2);
        const uint32_t word = static_cast<uint32_t>(bits) << 16;
        std::memcpy(out + i, &word, 4);
      }
      return;
    }
    case DType::kQ8_0:  // per block: f16 scale d, 32 int8 q; value = d * q
      for (int64_t b = 0; b < k / 32; ++b) {
        const uint8_t* block = row + b * 34;
        const __m256 d = _mm256_set1_ps(half_to_float(block));
        for (int j = 0; j < 32; j += 8) {
          const __m128i q = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(block + 2 + j));
          _mm256_storeu_ps(out + b * 32 + j, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q))));
        }
      }
      return;
    case DType::kQ4_0: {  // per block: f16 d, 16 bytes; byte j = weight j (low nibble), j + 16 (high); value = d * (nibble - 8)
      const __m128i low = _mm_set1_epi8(0x0f), eight = _mm_set1_epi8(8);
      for (int64_t b = 0; b < k / 32; ++b) {
        const uint8_t* block = row + b * 18;
        const __m256 d = _mm256_set1_ps(half_to_float(block));
        const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 2));
        const __m128i lo = _mm_sub_epi8(_mm_and_si128(q, low), eight);
        const __m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(q, 4), low), eight);
        float* dst = out + b * 32;
        _mm256_storeu_ps(dst, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo))));
        _mm256_storeu_ps(dst + 8, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)))));
        _mm256_storeu_ps(dst + 16, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi))));
        _mm256_storeu_ps(dst + 24, _mm256_mul_ps(d, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)))));
      }
      return;
    }
    default:
      for (int64_t i = 0; i < k; ++i) out[i] = 0.0f;  // unreachable: loaders reject other dtypes
      return;
  }
}

// sum_i a[i] * b[i] with four accumulators.
inline float dot(const float* a, const float* b, int64_t k) {
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 32 <= k; i += 32) {
    for (int u = 0; u < 4; ++u) {
      acc[u] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8 * u), _mm256_loadu_ps(b + i + 8 * u), acc[u]);
    }
  }
  for (; i + 8 <= k; i += 8) acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc[0]);
  float sum = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
  for (; i < k; ++i) sum += a[i] * b[i];
  return sum;
}

// y[i][n] for i in [i0, i0 + 4) and n in [n0, n0 + 2): rows of x times widened weight rows.
inline void tile_4x2(const float* x, int64_t k, const float* w0, const float* w1, float out[4][2]) {
  __m256 acc[4][2];
  for (int r = 0; r < 4; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    const __m256 a = _mm256_loadu_ps(w0 + i), b = _mm256_loadu_ps(w1 + i);
    for (int r = 0; r < 4; ++r) {
      const __m256 xr = _mm256_loadu_ps(x + r * k + i);
      acc[r][0] = _mm256_fmadd_ps(xr, a, acc[r][0]);
      acc[r][1] = _mm256_fmadd_ps(xr, b, acc[r][1]);
    }
  }
  for (int r = 0; r < 4; ++r) {
    out[r][0] = hsum(acc[r][0]);
    out[r][1] = hsum(acc[r][1]);
    for (int64_t j = i; j < k; ++j) {
      out[r][0] += x[r * k + j] * w0[j];
      out[r][1] += x[r * k + j] * w1[j];
    }
  }
}

}  // namespace

void linear_rows_avx2(const float* x, int64_t m, int64_t k, DType dtype, const uint8_t* w, size_t row_bytes,
                      const float* bias, float* y, int64_t ldy, int64_t n0, int64_t n1, float* scratch) {
  for (int64_t block0 = n0; block0 < n1; block0 += kAvx2RowsPerBlock) {
    const int64_t rows = n1 - block0 < kAvx2RowsPerBlock ? n1 - block0 : kAvx2RowsPerBlock;
    if (m <= 4) {  // decode: each widened row meets the x rows while it is still in L1
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t n = block0 + r;
        widen_row(dtype, w + static_cast<size_t>(n) * row_bytes, k, scratch);
        for (int64_t i = 0; i < m; ++i) y[i * ldy + n] = dot(x + i * k, scratch, k) + (bias ? bias[n] : 0.0f);
      }
      continue;
    }
    for (int64_t r = 0; r < rows; ++r) widen_row(dtype, w + static_cast<size_t>(block0 + r) * row_bytes, k, scratch + r * k);
    int64_t i = 0;
    for (; i + 4 <= m; i += 4) {
      int64_t r = 0;
      for (; r + 2 <= rows; r += 2) {
        float out[4][2];
        tile_4x2(x + i * k, k, scratch + r * k, scratch + (r + 1) * k, out);
        for (int q = 0; q < 4; ++q) {
          for (int c = 0; c < 2; ++c) {
            const int64_t n = block0 + r + c;
            y[(i + q) * ldy + n] = out[q][c] + (bias ? bias[n] : 0.0f);
          }
        }
      }
      for (; r < rows; ++r) {
        const int64_t n = block0 + r;
        for (int q = 0; q < 4; ++q) y[(i + q) * ldy + n] = dot(x + (i + q) * k, scratch + r * k, k) + (bias ? bias[n] : 0.0f);
      }
    }
    for (; i < m; ++i) {  // what is left of m after the 4-row tiles
      for (int64_t r = 0; r < rows; ++r) {
        const int64_t n = block0 + r;
        y[i * ldy + n] = dot(x + i * k, scratch + r * k, k) + (bias ? bias[n] : 0.0f);
      }
    }
  }
}

}  // namespace lumen::kernels
