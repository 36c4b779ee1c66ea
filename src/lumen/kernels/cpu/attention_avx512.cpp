// AVX-512 attention (fp32 throughout, so exact to the reference's tolerance).
//
// Prefill and vision (many queries): the keys of one KV head are first transposed to
// kt[c][j] (head_dim x keys, done once per call), so 16 consecutive scores are one vector:
// S[i, j:j+16] = sum_c q[i, c] * kt[c, j:j+16]. Four query rows share each kt load. Over key
// tiles of 64 the softmax is online (running max and sum, accumulators rescaled when the max
// grows; Milakov & Gimelshein 2018, "Online normalizer calculation for softmax"), so no more
// than a [4 x 64] tile of scores exists at a time.
// Decode (a few queries over a long cache): no transpose; one dot product per key along
// head_dim, then the same online softmax.
#include <immintrin.h>

#include <cmath>

#include "lumen/kernels/cpu/attention_kernels.h"
#include "lumen/kernels/cpu/vec_math_avx512.h"

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace lumen::kernels {

namespace {

constexpr int64_t kKeyTile = 64;
constexpr int kRows = 4;  // query rows per score tile

inline __mmask16 lanes(int64_t n) {
  return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}
inline int64_t visible(const AttentionShape& s, int64_t query) {
  if (!s.causal) return s.n_keys;
  const int64_t v = s.n_keys - s.n_queries + query + 1;
  return v < s.n_keys ? v : s.n_keys;
}

// Online-softmax state of one query row: running max, running sum, output accumulator o[d].
struct RowState {
  float max, sum;
  float* o;
};

// Folds a tile of raw scores (already scaled, -inf where masked) into a row's state:
// o = o * e^(old_max - new_max) + sum_j e^(s_j - new_max) v_j.
void fold_tile(RowState& st, float* scores, int64_t count, const float* v, int64_t kv_stride, int64_t d) {
  const __m512 neg_inf = _mm512_set1_ps(-INFINITY);
  __m512 vmax = neg_inf;
  for (int64_t j = 0; j < count; j += 16) {
    vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(neg_inf, lanes(count - j), scores + j));
  }
  const float tile_max = _mm512_reduce_max_ps(vmax);
  if (tile_max == -INFINITY) return;  // nothing visible in this tile
  const float new_max = st.max > tile_max ? st.max : tile_max;
  const float correction = std::exp(st.max - new_max);
  __m512 vsum = _mm512_setzero_ps();
  const __m512 shift = _mm512_set1_ps(new_max);
  for (int64_t j = 0; j < count; j += 16) {
    const __mmask16 m = lanes(count - j);
    const __m512 p = _mm512_maskz_mov_ps(m, exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, scores + j), shift)));
    _mm512_mask_storeu_ps(scores + j, m, p);
    vsum = _mm512_add_ps(vsum, p);
  }
  st.sum = st.sum * correction + _mm512_reduce_add_ps(vsum);
  st.max = new_max;
  const __m512 corr = _mm512_set1_ps(correction);
  for (int64_t c = 0; c < d; c += 16) {
    const __mmask16 m = lanes(d - c);
    __m512 acc = _mm512_mul_ps(_mm512_maskz_loadu_ps(m, st.o + c), corr);
    int64_t j = 0;
    for (; j + 2 <= count; j += 2) {
      acc = _mm512_fmadd_ps(_mm512_set1_ps(scores[j]), _mm512_maskz_loadu_ps(m, v + j * kv_stride + c), acc);
      acc = _mm512_fmadd_ps(_mm512_set1_ps(scores[j + 1]), _mm512_maskz_loadu_ps(m, v + (j + 1) * kv_stride + c), acc);
    }
    for (; j < count; ++j) acc = _mm512_fmadd_ps(_mm512_set1_ps(scores[j]), _mm512_maskz_loadu_ps(m, v + j * kv_stride + c), acc);
    _mm512_mask_storeu_ps(st.o + c, m, acc);
  }
}

void finish_row(const RowState& st, float* out, int64_t d) {
  const float inv = st.sum > 0.0f ? 1.0f / st.sum : 0.0f;
  for (int64_t c = 0; c < d; ++c) out[c] = st.o[c] * inv;
}

}  // namespace

void transpose_keys_avx512(const float* k, const AttentionShape& s, int64_t kv_head, float* kt, int64_t ld) {
  const int64_t d = s.head_dim;
  for (int64_t j = 0; j < s.n_keys; ++j) {
    const float* kj = k + j * s.kv_stride + kv_head * d;
    for (int64_t c = 0; c < d; ++c) kt[c * ld + j] = kj[c];
  }
  for (int64_t c = 0; c < d; ++c) {
    for (int64_t j = s.n_keys; j < ld; ++j) kt[c * ld + j] = 0.0f;
  }
}

void attention_rows_avx512(const float* q, const float* kt, int64_t ld, const float* v, float* out,
                           const AttentionShape& s, int64_t head, int64_t i0, int64_t i1, float* scratch) {
  const int64_t d = s.head_dim;
  const int64_t kvh = head / (s.n_heads / s.n_kv_heads);
  const float* vh = v + kvh * d;
  // scratch: scores [kRows][kKeyTile], o [kRows][d rounded up to 16].
  float* scores = scratch;
  const int64_t d16 = (d + 15) / 16 * 16;
  float* o = scores + kRows * kKeyTile;
  const __m512 scale = _mm512_set1_ps(s.scale);
  for (int64_t r0 = i0; r0 < i1; r0 += kRows) {
    const int rows = static_cast<int>(i1 - r0 < kRows ? i1 - r0 : kRows);
    RowState st[kRows];
    for (int r = 0; r < rows; ++r) {
      st[r] = {-INFINITY, 0.0f, o + r * d16};
      for (int64_t c = 0; c < d16; ++c) st[r].o[c] = 0.0f;
    }
    const int64_t keys = visible(s, r0 + rows - 1);
    const float* qr[kRows];
    for (int r = 0; r < kRows; ++r) qr[r] = q + (r0 + (r < rows ? r : 0)) * s.q_stride + head * d;
    for (int64_t j0 = 0; j0 < keys; j0 += kKeyTile) {
      const int64_t count = keys - j0 < kKeyTile ? keys - j0 : kKeyTile;
      __m512 acc[kRows][4];
      for (int r = 0; r < kRows; ++r) {
        for (int t = 0; t < 4; ++t) acc[r][t] = _mm512_setzero_ps();
      }
      for (int64_t c = 0; c < d; ++c) {
        const float* kc = kt + c * ld + j0;  // ld is padded, so 64 loads stay in bounds
        const __m512 k0 = _mm512_loadu_ps(kc), k1 = _mm512_loadu_ps(kc + 16);
        const __m512 k2 = _mm512_loadu_ps(kc + 32), k3 = _mm512_loadu_ps(kc + 48);
#pragma GCC unroll 4
        for (int r = 0; r < kRows; ++r) {
          const __m512 qb = _mm512_set1_ps(qr[r][c]);
          acc[r][0] = _mm512_fmadd_ps(qb, k0, acc[r][0]);
          acc[r][1] = _mm512_fmadd_ps(qb, k1, acc[r][1]);
          acc[r][2] = _mm512_fmadd_ps(qb, k2, acc[r][2]);
          acc[r][3] = _mm512_fmadd_ps(qb, k3, acc[r][3]);
        }
      }
      for (int r = 0; r < rows; ++r) {
        float* sr = scores + r * kKeyTile;
        const int64_t row_visible = visible(s, r0 + r) - j0;  // causal: later keys masked
        for (int t = 0; t < 4; ++t) {
          const __mmask16 keep = lanes(row_visible - t * 16);
          _mm512_storeu_ps(sr + t * 16, _mm512_mask_mov_ps(_mm512_set1_ps(-INFINITY), keep, _mm512_mul_ps(acc[r][t], scale)));
        }
        const int64_t n = row_visible < count ? (row_visible > 0 ? row_visible : 0) : count;
        if (n > 0) fold_tile(st[r], sr, n, vh + j0 * s.kv_stride, s.kv_stride, d);
      }
    }
    for (int r = 0; r < rows; ++r) finish_row(st[r], out + (r0 + r) * s.out_stride + head * d, d);
  }
}

void attention_decode_avx512(const float* q, const float* k, const float* v, float* out, const AttentionShape& s,
                             int64_t head, int64_t query, float* scratch) {
  const int64_t d = s.head_dim;
  const int64_t kvh = head / (s.n_heads / s.n_kv_heads);
  const float* qi = q + query * s.q_stride + head * d;
  const int64_t keys = visible(s, query);
  const int64_t d16 = (d + 15) / 16 * 16;
  float* scores = scratch;
  RowState st{-INFINITY, 0.0f, scratch + kKeyTile};
  for (int64_t c = 0; c < d16; ++c) st.o[c] = 0.0f;
  for (int64_t j0 = 0; j0 < keys; j0 += kKeyTile) {
    const int64_t count = keys - j0 < kKeyTile ? keys - j0 : kKeyTile;
    for (int64_t j = 0; j < count; ++j) {
      const float* kj = k + (j0 + j) * s.kv_stride + kvh * d;
      __m512 acc = _mm512_setzero_ps();
      for (int64_t c = 0; c < d; c += 16) {
        const __mmask16 m = lanes(d - c);
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, qi + c), _mm512_maskz_loadu_ps(m, kj + c), acc);
      }
      scores[j] = _mm512_reduce_add_ps(acc) * s.scale;
    }
    fold_tile(st, scores, count, v + j0 * s.kv_stride + kvh * d, s.kv_stride, d);
  }
  finish_row(st, out + query * s.out_stride + head * d, d);
}

}  // namespace lumen::kernels
