// AVX-512 attention (fp32 throughout, so exact to the reference's tolerance).
//
// Prefill and vision (many queries): the keys of one KV head are first transposed to
// kt[c][j] (head_dim x keys, done once per call), so 16 consecutive scores are one vector:
// S[i, j:j+16] = sum_c q[i, c] * kt[c, j:j+16]. Four query rows share each kt load. Over key
// tiles of 64 the softmax is online (running max and sum, accumulators rescaled when the max
// grows; Milakov & Gimelshein 2018, "Online normalizer calculation for softmax"), so no more
// than a [4 x 64] tile of scores exists at a time.
// Decode (a few queries over a long cache): split over keys ("flash-decoding"). One task
// covers a chunk of keys for every head and walks the cache row by row: a head's slice of a
// row is only head_dim floats, so following one head down the cache would stride by the whole
// row (10 KB for Phi-2) and run at a third of the memory bandwidth. Each chunk leaves an
// unnormalised partial (its max, its sum, its o); the partials are merged with the same
// rescaling as the online softmax.
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
constexpr int64_t kPrefetchRows = 8;  // decode: cache rows fetched ahead of use

inline __mmask16 lanes(int64_t n) {
  return n >= 16 ? __mmask16(0xffff) : n <= 0 ? __mmask16(0) : __mmask16((1u << n) - 1);
}
inline int64_t visible(const AttentionShape& s, int64_t query) {
  if (!s.causal) return s.n_keys;
  const int64_t v = s.n_keys - s.n_queries + query + 1;
  return v < s.n_keys ? v : s.n_keys;
}

// 16 (masked) keys/values of the cache's element type as fp32; f16 widens exactly.
inline __m512 load_kv(__mmask16 m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
inline __m512 load_kv(__mmask16 m, const uint16_t* p) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }

// Online-softmax state of one query row: running max, running sum, output accumulator o[d].
struct RowState {
  float max, sum;
  float* o;
};

// Folds a tile of raw scores (already scaled, -inf where masked) into a row's state:
// o = o * e^(old_max - new_max) + sum_j e^(s_j - new_max) v_j.
template <typename T>
void fold_tile(RowState& st, float* scores, int64_t count, const T* v, int64_t kv_stride, int64_t d) {
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
      acc = _mm512_fmadd_ps(_mm512_set1_ps(scores[j]), load_kv(m, v + j * kv_stride + c), acc);
      acc = _mm512_fmadd_ps(_mm512_set1_ps(scores[j + 1]), load_kv(m, v + (j + 1) * kv_stride + c), acc);
    }
    for (; j < count; ++j) acc = _mm512_fmadd_ps(_mm512_set1_ps(scores[j]), load_kv(m, v + j * kv_stride + c), acc);
    _mm512_mask_storeu_ps(st.o + c, m, acc);
  }
}

void finish_row(const RowState& st, float* out, int64_t d) {
  const float inv = st.sum > 0.0f ? 1.0f / st.sum : 0.0f;
  for (int64_t c = 0; c < d; ++c) out[c] = st.o[c] * inv;
}

}  // namespace

namespace {

template <typename T>
void transpose_keys(const T* k, const AttentionShape& s, int64_t kv_head, float* kt, int64_t ld) {
  const int64_t d = s.head_dim;
  for (int64_t j = 0; j < s.n_keys; ++j) {
    const T* kj = k + j * s.kv_stride + kv_head * d;
    for (int64_t c = 0; c < d; ++c) {
      if constexpr (sizeof(T) == 2) {
        kt[c * ld + j] = _cvtsh_ss(kj[c]);
      } else {
        kt[c * ld + j] = kj[c];
      }
    }
  }
  for (int64_t c = 0; c < d; ++c) {
    for (int64_t j = s.n_keys; j < ld; ++j) kt[c * ld + j] = 0.0f;
  }
}

}  // namespace

void transpose_keys_avx512(const void* k, const AttentionShape& s, int64_t kv_head, float* kt, int64_t ld) {
  if (s.kv_dtype == DType::kF16) {
    transpose_keys(static_cast<const uint16_t*>(k), s, kv_head, kt, ld);
  } else {
    transpose_keys(static_cast<const float*>(k), s, kv_head, kt, ld);
  }
}

namespace {

template <typename T>
void attention_rows(const float* q, const float* kt, int64_t ld, const T* v, float* out, const AttentionShape& s,
                    int64_t head, int64_t i0, int64_t i1, float* scratch) {
  const int64_t d = s.head_dim;
  const int64_t kvh = head / (s.n_heads / s.n_kv_heads);
  const T* vh = v + kvh * d;
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

}  // namespace

void attention_rows_avx512(const float* q, const float* kt, int64_t ld, const void* v, float* out,
                           const AttentionShape& s, int64_t head, int64_t i0, int64_t i1, float* scratch) {
  if (s.kv_dtype == DType::kF16) {
    attention_rows(q, kt, ld, static_cast<const uint16_t*>(v), out, s, head, i0, i1, scratch);
  } else {
    attention_rows(q, kt, ld, static_cast<const float*>(v), out, s, head, i0, i1, scratch);
  }
}

namespace {

// Lane i of the result = sum of the lanes of acc[(i % 4) * 4 + i / 4]: 16 horizontal sums in
// 15 adds. Each level adds the two halves of pairs of vectors (256-bit, 128-bit, then 64- and
// 32-bit halves within 128-bit lanes); tracing the lanes through the four levels shows that
// input slot 4t + b lands in lane 4b + t, hence the transposed slot order.
inline __m512 sum16_transposed(__m512 acc[16]) {
  __m512 w[8], x[4], y[2];
  for (int i = 0; i < 8; ++i) {
    w[i] = _mm512_add_ps(_mm512_shuffle_f32x4(acc[2 * i], acc[2 * i + 1], 0x44),
                         _mm512_shuffle_f32x4(acc[2 * i], acc[2 * i + 1], 0xee));
  }
  for (int i = 0; i < 4; ++i) {
    x[i] = _mm512_add_ps(_mm512_shuffle_f32x4(w[2 * i], w[2 * i + 1], 0x88),
                         _mm512_shuffle_f32x4(w[2 * i], w[2 * i + 1], 0xdd));
  }
  for (int i = 0; i < 2; ++i) {
    y[i] = _mm512_add_ps(_mm512_shuffle_ps(x[2 * i], x[2 * i + 1], 0x44), _mm512_shuffle_ps(x[2 * i], x[2 * i + 1], 0xee));
  }
  return _mm512_add_ps(_mm512_shuffle_ps(y[0], y[1], 0x88), _mm512_shuffle_ps(y[0], y[1], 0xdd));
}
inline int transposed_slot(int head) { return (head % 4) * 4 + head / 4; }

// Everything the decode kernel needs about one head's slice of a row: CH vectors of 16
// floats, the last one masked when head_dim is not a multiple of 16. CH == 0: chunk count
// known only at run time.
template <int CH>
struct HeadSlice {
  int64_t chunks;
  __mmask16 last;
  int64_t count() const { return CH > 0 ? CH : chunks; }
  __mmask16 mask(int64_t c) const { return c + 1 == count() ? last : __mmask16(0xffff); }
};

template <int CH, typename T>
inline __m512 dot_slice(const HeadSlice<CH>& hs, const float* qh, const T* kh, const T* prefetch) {
  __m512 acc = _mm512_setzero_ps();
  for (int64_t c = 0; c < hs.count(); ++c) {
    const __mmask16 m = hs.mask(c);
    acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, qh + 16 * c), load_kv(m, kh + 16 * c), acc);
    _mm_prefetch(reinterpret_cast<const char*>(prefetch + 16 * c), _MM_HINT_T0);
  }
  return acc;
}

// scores[h * count + j] = scale * q_h . k_(j0 + j) for every head, one cache row at a time.
template <int CH, typename T>
void decode_scores(const HeadSlice<CH>& hs, const float* qi, const T* k, const AttentionShape& s, int64_t j0,
                   int64_t count, float* scores) {
  const int64_t d = s.head_dim, heads = s.n_heads, group = s.n_heads / s.n_kv_heads;
  const int64_t ahead = kPrefetchRows * s.kv_stride;
  const __m512 scale = _mm512_set1_ps(s.scale);
  for (int64_t j = 0; j < count; ++j) {
    const T* row = k + (j0 + j) * s.kv_stride;
    int64_t h = 0;
    for (; h + 16 <= heads; h += 16) {
      __m512 acc[16];
      for (int i = 0; i < 16; ++i) {
        const T* kh = row + ((h + i) / group) * d;
        acc[transposed_slot(i)] = dot_slice(hs, qi + (h + i) * d, kh, kh + ahead);
      }
      const __m512 sums = _mm512_mul_ps(sum16_transposed(acc), scale);
      _mm512_i32scatter_ps(scores + h * count + j, _mm512_mullo_epi32(_mm512_set1_epi32(static_cast<int>(count)),
                                                                       _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7,
                                                                                        6, 5, 4, 3, 2, 1, 0)),
                           sums, 4);
    }
    for (; h < heads; ++h) {
      const T* kh = row + (h / group) * d;
      scores[h * count + j] = _mm512_reduce_add_ps(dot_slice(hs, qi + h * d, kh, kh + ahead)) * s.scale;
    }
  }
}

// o_h += sum_j p_hj v_(j0 + j) for every head, rows taken kVRows at a time so each o_h
// vector is loaded and stored once per group of rows.
constexpr int64_t kVRows = 4;
template <int CH, typename T>
void decode_values(const HeadSlice<CH>& hs, const T* v, const AttentionShape& s, int64_t j0, int64_t count,
                   const float* p, float* partial, int64_t stride) {
  const int64_t d = s.head_dim, heads = s.n_heads, group = s.n_heads / s.n_kv_heads;
  const int64_t ahead = kPrefetchRows * s.kv_stride;
  for (int64_t jb = 0; jb < count; jb += kVRows) {
    const int64_t rows = count - jb < kVRows ? count - jb : kVRows;
    const T* block = v + (j0 + jb) * s.kv_stride;
    for (int64_t h = 0; h < heads; ++h) {
      const T* vh = block + (h / group) * d;
      float* o = partial + h * stride;
      for (int64_t c = 0; c < hs.count(); ++c) {
        const __mmask16 m = hs.mask(c);
        __m512 acc = _mm512_loadu_ps(o + 16 * c);
        for (int64_t r = 0; r < rows; ++r) {
          acc = _mm512_fmadd_ps(_mm512_set1_ps(p[h * count + jb + r]),
                                load_kv(m, vh + r * s.kv_stride + 16 * c), acc);
          _mm_prefetch(reinterpret_cast<const char*>(vh + r * s.kv_stride + ahead + 16 * c), _MM_HINT_T0);
        }
        _mm512_storeu_ps(o + 16 * c, acc);
      }
    }
  }
}

template <int CH, typename T>
void decode_keys(const HeadSlice<CH>& hs, const float* q, const T* k, const T* v, const AttentionShape& s,
                 int64_t query, int64_t j0, int64_t count, float* scores, float* partial) {
  const int64_t d16 = (s.head_dim + 15) / 16 * 16;
  const int64_t stride = decode_partial_stride(s.head_dim);
  decode_scores(hs, q + query * s.q_stride, k, s, j0, count, scores);
  // Per head: this chunk's max, p_j = e^(s_j - max) in place, and their sum.
  const __m512 neg_inf = _mm512_set1_ps(-INFINITY);
  for (int64_t h = 0; h < s.n_heads; ++h) {
    float* sh = scores + h * count;
    __m512 vmax = neg_inf;
    for (int64_t j = 0; j < count; j += 16) vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(neg_inf, lanes(count - j), sh + j));
    const __m512 shift = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
    __m512 vsum = _mm512_setzero_ps();
    for (int64_t j = 0; j < count; j += 16) {
      const __mmask16 m = lanes(count - j);
      const __m512 p = _mm512_maskz_mov_ps(m, exp_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, sh + j), shift)));
      _mm512_mask_storeu_ps(sh + j, m, p);
      vsum = _mm512_add_ps(vsum, p);
    }
    float* part = partial + h * stride;
    part[d16] = _mm512_cvtss_f32(shift);
    part[d16 + 1] = _mm512_reduce_add_ps(vsum);
  }
  decode_values(hs, v, s, j0, count, scores, partial, stride);
}

template <typename T>
void decode_keys_any_head(const float* q, const T* k, const T* v, const AttentionShape& s, int64_t query, int64_t j0,
                          int64_t count, float* scores, float* partial) {
  const int64_t chunks = (s.head_dim + 15) / 16;
  const __mmask16 last = lanes(s.head_dim - (chunks - 1) * 16);
  switch (chunks) {  // the head sizes in use: 64 (4), 72 and 80 (5), 96 (6), 128 (8)
    case 4: decode_keys(HeadSlice<4>{4, last}, q, k, v, s, query, j0, count, scores, partial); break;
    case 5: decode_keys(HeadSlice<5>{5, last}, q, k, v, s, query, j0, count, scores, partial); break;
    case 6: decode_keys(HeadSlice<6>{6, last}, q, k, v, s, query, j0, count, scores, partial); break;
    case 8: decode_keys(HeadSlice<8>{8, last}, q, k, v, s, query, j0, count, scores, partial); break;
    default: decode_keys(HeadSlice<0>{chunks, last}, q, k, v, s, query, j0, count, scores, partial); break;
  }
}

}  // namespace

void attention_decode_keys_avx512(const float* q, const void* k, const void* v, const AttentionShape& s,
                                  int64_t query, int64_t j0, int64_t j1, float* scores, float* partial) {
  const int64_t d16 = (s.head_dim + 15) / 16 * 16;
  const int64_t stride = decode_partial_stride(s.head_dim);
  for (int64_t h = 0; h < s.n_heads; ++h) {
    float* part = partial + h * stride;
    for (int64_t c = 0; c < d16; ++c) part[c] = 0.0f;
    part[d16] = -INFINITY;  // max
    part[d16 + 1] = 0.0f;   // sum
  }
  const int64_t count = j1 - j0;
  if (count <= 0) return;
  if (s.kv_dtype == DType::kF16) {
    decode_keys_any_head(q, static_cast<const uint16_t*>(k), static_cast<const uint16_t*>(v), s, query, j0, count,
                         scores, partial);
  } else {
    decode_keys_any_head(q, static_cast<const float*>(k), static_cast<const float*>(v), s, query, j0, count, scores,
                         partial);
  }
}

void attention_decode_combine_avx512(const float* partials, int64_t chunks, const AttentionShape& s, int64_t query,
                                     float* out) {
  const int64_t d = s.head_dim;
  const int64_t d16 = (d + 15) / 16 * 16;
  const int64_t stride = decode_partial_stride(d);
  const int64_t chunk_stride = s.n_heads * stride;
  for (int64_t h = 0; h < s.n_heads; ++h) {
    float max = -INFINITY;
    for (int64_t c = 0; c < chunks; ++c) {
      const float m = partials[c * chunk_stride + h * stride + d16];
      max = m > max ? m : max;
    }
    float* oh = out + query * s.out_stride + h * d;
    if (max == -INFINITY) {  // no visible key
      for (int64_t i = 0; i < d; ++i) oh[i] = 0.0f;
      continue;
    }
    // out = sum_c e^(max_c - max) o_c / sum_c e^(max_c - max) sum_c
    for (int64_t i = 0; i < d; ++i) oh[i] = 0.0f;
    float sum = 0.0f;
    for (int64_t c = 0; c < chunks; ++c) {
      const float* part = partials + c * chunk_stride + h * stride;
      if (part[d16] == -INFINITY) continue;
      const float weight = std::exp(part[d16] - max);
      sum += weight * part[d16 + 1];
      const __m512 w = _mm512_set1_ps(weight);
      for (int64_t i = 0; i < d; i += 16) {
        const __mmask16 m = lanes(d - i);
        _mm512_mask_storeu_ps(oh + i, m, _mm512_fmadd_ps(w, _mm512_loadu_ps(part + i), _mm512_maskz_loadu_ps(m, oh + i)));
      }
    }
    const __m512 inv = _mm512_set1_ps(1.0f / sum);
    for (int64_t i = 0; i < d; i += 16) {
      const __mmask16 m = lanes(d - i);
      _mm512_mask_storeu_ps(oh + i, m, _mm512_mul_ps(inv, _mm512_maskz_loadu_ps(m, oh + i)));
    }
  }
}

void f32_to_f16_avx512(const float* src, int64_t count, uint16_t* dst) {
  for (int64_t i = 0; i < count; i += 16) {
    const __mmask16 m = lanes(count - i);
    _mm256_mask_storeu_epi16(dst + i, m,
                             _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
}

}  // namespace lumen::kernels
