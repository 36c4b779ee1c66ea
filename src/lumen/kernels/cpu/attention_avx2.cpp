// AVX2 + FMA + F16C attention for x86-64 CPUs without AVX-512: the algorithms of
// attention_avx512.cpp on 8-float vectors, fp32 throughout (f16 caches widened exactly with
// vcvtph2ps), so exact to the reference's tolerance.
//
// Prefill and vision (many queries): each KV head is packed once per call as fp32 (f16
// widened here, once): its keys transposed tile by tile, kt[tile][c][j] (head_dim x 64 keys
// per tile, 8 x 8 blocks transposed in registers), so 8 consecutive scores are one vector,
// S[i, j:j+8] = sum_c q[i, c] * kt[c, j:j+8]; its values as rows [key][head_dim rounded up to
// 8]. Both layouts keep a key tile contiguous: cache rows are kv_stride apart and a plain
// [head_dim][keys] transpose has rows ld apart, strides that for the usual shapes (multiples
// of 1 KB) fold a tile onto a few L1 sets. Over key tiles of kKeyTile the softmax is online
// (running max and sum, accumulators rescaled when the max grows; Milakov & Gimelshein 2018,
// "Online normalizer calculation for softmax"), so no more than a [kRows x kKeyTile] tile of
// scores exists at a time. A task's rows are walked key tile by key tile, every block of
// kRows rows meeting the tile while its keys and values are in L1. Both products are register
// blocked for the 16 ymm registers:
//   scores S = Q K^T: kRows query rows x kKeyVecs vectors of keys (6 x 2 = 12 accumulators,
//     2 key vectors, 1 broadcast), so each kt load feeds 6 FMAs;
//   output O += P V:  kRows rows x kValVecs vectors of head components (6 x 2 accumulators),
//     so each value load feeds 6 FMAs; the rows' o stay in scratch and are rescaled by the
//     online-softmax correction as they are loaded.
// (6 x 2 measured faster than 4 x 2 and 4 x 3 on Zen 3.)
// Decode (a few queries over a long cache): split over keys ("flash-decoding"), as in
// attention_avx512.cpp. One task covers a chunk of keys for every head and walks the cache row
// by row (following one head down the cache would stride by the whole row). Scores are kept
// as [key][head] so that 8 heads' dot products are reduced with one hsum8_avx2 and the
// chunk's softmax runs over 8 heads per vector. Each chunk leaves an unnormalised partial
// (its max, its sum, its o), merged by attention_decode_combine_avx2 with the same rescaling
// as the online softmax.
// Like the other kernel files this one gets plain pointers (see linear_kernels.h for why).
#include <immintrin.h>

#include <cmath>

#include "lumen/kernels/cpu/attention_kernels.h"
#include "lumen/kernels/cpu/vec_math_avx2.h"

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace lumen::kernels {

namespace {

constexpr int64_t kKeyTile = kAvx2KeyTile;  // keys per online-softmax step
constexpr int kRows = 6;                    // query rows per register block
constexpr int kKeyVecs = 2;                 // 8-key vectors per score block
constexpr int kValVecs = 2;                 // 8-component vectors per P V block
constexpr int64_t kPrefetchRows = 8;        // decode: cache rows fetched ahead of use
static_assert(kKeyTile % (8 * kKeyVecs) == 0, "score blocks must tile a key tile");

inline int64_t visible(const AttentionShape& s, int64_t query) {
  if (!s.causal) return s.n_keys;
  const int64_t v = s.n_keys - s.n_queries + query + 1;
  return v < s.n_keys ? v : s.n_keys;
}

// 8 keys/values of the cache's element type as fp32; f16 widens exactly.
inline __m256 load8(const float* p) { return _mm256_loadu_ps(p); }
inline __m256 load8(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
// The first n (1..7) elements, zero above, never reading past them: f32 by a masked load, f16
// through a zeroed copy (AVX2 has no 16-bit masked load). Only head dims that are not a
// multiple of 8 take this path.
inline __m256 load_part(const float* p, int64_t n) { return _mm256_maskload_ps(p, tail_mask_avx2(n)); }
inline __m256 load_part(const uint16_t* p, int64_t n) {
  alignas(16) uint16_t buf[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  for (int64_t i = 0; i < n; ++i) buf[i] = p[i];
  return _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(buf)));
}

// Prefetches [p, p + bytes) into L1, one request per 64-byte line.
inline void prefetch_span(const void* p, int64_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (int64_t off = 0; off < bytes; off += 64) _mm_prefetch(c + off, _MM_HINT_T0);
}

// In place: row i of the 8 x 8 block r becomes column i.
inline void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);      // r0_0 r1_0 r0_1 r1_1 | r0_4 ..
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);  // r0_2 r1_2 r0_3 r1_3 | r0_6 ..
  }
  for (int i = 0; i < 2; ++i) {
    const __m256* ti = t + 4 * i;  // rows 4i .. 4i + 3
    u[4 * i] = _mm256_shuffle_ps(ti[0], ti[2], 0x44);      // components 0 | 4
    u[4 * i + 1] = _mm256_shuffle_ps(ti[0], ti[2], 0xee);  // 1 | 5
    u[4 * i + 2] = _mm256_shuffle_ps(ti[1], ti[3], 0x44);  // 2 | 6
    u[4 * i + 3] = _mm256_shuffle_ps(ti[1], ti[3], 0xee);  // 3 | 7
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x20);
    r[4 + i] = _mm256_permute2f128_ps(u[i], u[4 + i], 0x31);
  }
}

inline float widen(float x) { return x; }
inline float widen(uint16_t h) { return _cvtsh_ss(h); }

// kt holds the keys tile by tile: [ld / kKeyTile][d][kKeyTile], so the kt rows a score block
// walks are consecutive (a plain [d][ld] layout strides them by ld, which for ld * 4 a
// multiple of 1 KB puts them all in a few L1 sets).
template <typename T>
void transpose_keys(const T* k, const AttentionShape& s, int64_t kv_head, float* kt, int64_t ld) {
  const int64_t d = s.head_dim;
  const T* kh = k + kv_head * d;
  auto at = [&](int64_t c, int64_t j) -> float& {
    return kt[j / kKeyTile * d * kKeyTile + c * kKeyTile + j % kKeyTile];
  };
  int64_t j = 0;
  for (; j + 8 <= s.n_keys; j += 8) {  // 8 keys never straddle a tile
    float* tile = kt + j / kKeyTile * d * kKeyTile + j % kKeyTile;
    int64_t c = 0;
    for (; c + 8 <= d; c += 8) {
      __m256 r[8];
      for (int i = 0; i < 8; ++i) r[i] = load8(kh + (j + i) * s.kv_stride + c);
      transpose8(r);
      for (int i = 0; i < 8; ++i) _mm256_storeu_ps(tile + (c + i) * kKeyTile, r[i]);
    }
    for (; c < d; ++c) {
      for (int64_t i = 0; i < 8; ++i) tile[c * kKeyTile + i] = widen(kh[(j + i) * s.kv_stride + c]);
    }
  }
  for (; j < s.n_keys; ++j) {
    for (int64_t c = 0; c < d; ++c) at(c, j) = widen(kh[j * s.kv_stride + c]);
  }
  for (; j < ld; ++j) {
    for (int64_t c = 0; c < d; ++c) at(c, j) = 0.0f;
  }
}

// scores[r * kKeyTile + 0 : 8 * KV] = scale * sum_c q_r[c] kt[c, 0 : 8 * KV] for kRows rows.
template <int KV>
inline void score_block(const float* const qr[kRows], const float* kt, int64_t ld, int64_t d, __m256 scale,
                        float* scores) {
  __m256 acc[kRows][KV];
  for (int r = 0; r < kRows; ++r) {
    for (int t = 0; t < KV; ++t) acc[r][t] = _mm256_setzero_ps();
  }
  for (int64_t c = 0; c < d; ++c) {
    const float* kc = kt + c * ld;  // tiles are whole (zero past n_keys), so these loads stay in bounds
    __m256 kv[KV];
    for (int t = 0; t < KV; ++t) kv[t] = _mm256_loadu_ps(kc + 8 * t);
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      const __m256 qb = _mm256_broadcast_ss(qr[r] + c);
      for (int t = 0; t < KV; ++t) acc[r][t] = _mm256_fmadd_ps(qb, kv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < kRows; ++r) {
    for (int t = 0; t < KV; ++t) _mm256_storeu_ps(scores + r * kKeyTile + 8 * t, _mm256_mul_ps(acc[r][t], scale));
  }
}

// One row's online-softmax step over a tile of scores sr[0, count), of which the first n are
// visible (causal: the rest lie after the query): sr becomes p_j = e^(s_j - new_max), zero
// from n on; max and sum are updated. Returns the factor e^(old_max - new_max) for o.
inline float softmax_tile(float* sr, int64_t count, int64_t n, float& max, float& sum) {
  const __m256 neg_inf = _mm256_set1_ps(-INFINITY);
  __m256 vmax = neg_inf;
  for (int64_t j = 0; j < n; j += 8) {
    const __m256 keep = _mm256_castsi256_ps(tail_mask_avx2(n - j));
    vmax = _mm256_max_ps(vmax, _mm256_blendv_ps(neg_inf, _mm256_loadu_ps(sr + j), keep));
  }
  const float tile_max = n > 0 ? hmax_avx2(vmax) : -INFINITY;
  if (tile_max == -INFINITY) {  // nothing visible in this tile
    for (int64_t j = 0; j < count; ++j) sr[j] = 0.0f;
    return 1.0f;
  }
  const float new_max = max > tile_max ? max : tile_max;
  const float correction = std::exp(max - new_max);
  const __m256 shift = _mm256_set1_ps(new_max);
  __m256 vsum = _mm256_setzero_ps();
  for (int64_t j = 0; j < count; j += 8) {  // lanes up to count rounded to 8 hold scores
    const __m256 keep = _mm256_castsi256_ps(tail_mask_avx2(n - j));
    const __m256 p = _mm256_and_ps(keep, exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(sr + j), shift)));
    _mm256_storeu_ps(sr + j, p);
    vsum = _mm256_add_ps(vsum, p);
  }
  sum = sum * correction + hsum_avx2(vsum);
  max = new_max;
  return correction;
}

// vt[j * d8 + c] = v_j[c] of `kv_head` as fp32 for j < n_keys, zero from d to d8 and for the
// padding keys up to ld: the values packed once per call, so the P V blocks below read each
// key tile from L1 in order (cache rows are kv_stride apart, which for the usual strides folds
// a tile onto a few L1 sets, and f16 would be widened again for every block of rows).
template <typename T>
void pack_values(const T* v, const AttentionShape& s, int64_t kv_head, float* vt, int64_t ld) {
  const int64_t d = s.head_dim;
  const int64_t d8 = (d + 7) / 8 * 8;
  for (int64_t j = 0; j < s.n_keys; ++j) {
    const T* vj = v + j * s.kv_stride + kv_head * d;
    float* dst = vt + j * d8;
    int64_t c = 0;
    for (; c + 8 <= d; c += 8) _mm256_storeu_ps(dst + c, load8(vj + c));
    if (c < d) _mm256_storeu_ps(dst + c, load_part(vj + c, d - c));
  }
  for (int64_t i = s.n_keys * d8; i < ld * d8; ++i) vt[i] = 0.0f;
}

// For the kRows rows: o_r[0 : 8 * CV] = corr_r o_r + sum_j p_rj vt_j[0 : 8 * CV], where
// p = [kRows][kKeyTile] and vt_j = vt + j * d8 (packed, fp32).
template <int CV>
inline void pv_block(float* const o[kRows], const __m256 corr[kRows], const float* p, int64_t count, const float* vt,
                     int64_t d8) {
  __m256 acc[kRows][CV];
  for (int r = 0; r < kRows; ++r) {
    for (int t = 0; t < CV; ++t) acc[r][t] = _mm256_mul_ps(_mm256_loadu_ps(o[r] + 8 * t), corr[r]);
  }
  for (int64_t j = 0; j < count; ++j) {
    __m256 vv[CV];
    for (int t = 0; t < CV; ++t) vv[t] = _mm256_loadu_ps(vt + j * d8 + 8 * t);
#pragma GCC unroll 8
    for (int r = 0; r < kRows; ++r) {
      const __m256 pb = _mm256_broadcast_ss(p + r * kKeyTile + j);
      for (int t = 0; t < CV; ++t) acc[r][t] = _mm256_fmadd_ps(pb, vv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < kRows; ++r) {
    for (int t = 0; t < CV; ++t) _mm256_storeu_ps(o[r] + 8 * t, acc[r][t]);
  }
}

// Rows are taken kGroupRows at a time, key tile by key tile: each tile's transposed keys and
// packed values are then read from L1 by every block of kRows rows of the group, instead of
// streaming a head's whole kt and V through L1 once per block of rows.
constexpr int64_t kGroupRows = kAvx2QueryBlock;
static_assert(kGroupRows % kRows == 0, "a group is whole blocks of rows");

void attention_rows(const float* q, const float* packed, int64_t ld, float* out, const AttentionShape& s, int64_t head,
                    int64_t i0, int64_t i1, float* scratch) {
  const int64_t d = s.head_dim;
  const int64_t d8 = (d + 7) / 8 * 8;
  const float* kt = packed;
  const float* vt = packed + d * ld;
  // scratch (attention_scratch_floats_avx2): weights [kRows][kKeyTile], o [kGroupRows][d8],
  // then max and sum [kGroupRows].
  float* scores = scratch;
  float* o_all = scores + kRows * kKeyTile;
  float* max = o_all + kGroupRows * d8;
  float* sum = max + kGroupRows;
  const __m256 scale = _mm256_set1_ps(s.scale);
  for (int64_t g0 = i0; g0 < i1; g0 += kGroupRows) {
    const int64_t g1 = i1 - g0 < kGroupRows ? i1 : g0 + kGroupRows;
    // Rows past g1 (the last block's padding) compute duplicates of its first row with zero
    // weights, never stored.
    for (int64_t r = 0; r < kGroupRows; ++r) {
      max[r] = -INFINITY;
      sum[r] = 0.0f;
    }
    for (int64_t c = 0; c < kGroupRows * d8; ++c) o_all[c] = 0.0f;
    const int64_t group_keys = visible(s, g1 - 1);
    for (int64_t j0 = 0; j0 < group_keys; j0 += kKeyTile) {
      const float* tile = kt + j0 * d;  // j0 / kKeyTile * d * kKeyTile
      const float* vtile = vt + j0 * d8;
      for (int64_t r0 = g0; r0 < g1; r0 += kRows) {
        const int rows = static_cast<int>(g1 - r0 < kRows ? g1 - r0 : kRows);
        const int64_t keys = visible(s, r0 + rows - 1);  // causal: the block's last row sees most
        if (keys <= j0) continue;
        const int64_t count = keys - j0 < kKeyTile ? keys - j0 : kKeyTile;
        const float* qr[kRows];
        float* o[kRows];
        for (int r = 0; r < kRows; ++r) {
          qr[r] = q + (r0 + (r < rows ? r : 0)) * s.q_stride + head * d;
          o[r] = o_all + (r0 - g0 + r) * d8;
        }
        for (int64_t jj = 0; jj < count; jj += 8 * kKeyVecs) {
          score_block<kKeyVecs>(qr, tile + jj, kKeyTile, d, scale, scores + jj);
        }
        __m256 corr[kRows];
        for (int r = 0; r < kRows; ++r) {
          const int64_t row = r0 - g0 + r;
          int64_t n = r < rows ? visible(s, r0 + r) - j0 : 0;  // causal: later keys masked
          n = n < count ? n : count;
          corr[r] = _mm256_set1_ps(softmax_tile(scores + r * kKeyTile, count, n, max[row], sum[row]));
        }
        int64_t c = 0;
        for (; c + 8 * kValVecs <= d8; c += 8 * kValVecs) {
          pv_block<kValVecs>(o, corr, scores, count, vtile + c, d8);
          for (int r = 0; r < kRows; ++r) o[r] += 8 * kValVecs;
        }
        for (; c < d8; c += 8) {
          pv_block<1>(o, corr, scores, count, vtile + c, d8);
          for (int r = 0; r < kRows; ++r) o[r] += 8;
        }
      }
    }
    for (int64_t i = g0; i < g1; ++i) {
      const float* oi = o_all + (i - g0) * d8;
      const __m256 inv = _mm256_set1_ps(sum[i - g0] > 0.0f ? 1.0f / sum[i - g0] : 0.0f);
      float* dst = out + i * s.out_stride + head * d;
      int64_t c = 0;
      for (; c + 8 <= d; c += 8) _mm256_storeu_ps(dst + c, _mm256_mul_ps(inv, _mm256_loadu_ps(oi + c)));
      if (c < d) _mm256_maskstore_ps(dst + c, tail_mask_avx2(d - c), _mm256_mul_ps(inv, _mm256_loadu_ps(oi + c)));
    }
  }
}

}  // namespace

int64_t packed_kv_floats_avx2(const AttentionShape& s, int64_t ld) {
  return s.head_dim * ld + ld * ((s.head_dim + 7) / 8 * 8);
}

void pack_kv_avx2(const void* k, const void* v, const AttentionShape& s, int64_t kv_head, float* packed, int64_t ld) {
  float* vt = packed + s.head_dim * ld;
  if (s.kv_dtype == DType::kF16) {
    transpose_keys(static_cast<const uint16_t*>(k), s, kv_head, packed, ld);
    pack_values(static_cast<const uint16_t*>(v), s, kv_head, vt, ld);
  } else {
    transpose_keys(static_cast<const float*>(k), s, kv_head, packed, ld);
    pack_values(static_cast<const float*>(v), s, kv_head, vt, ld);
  }
}

int64_t attention_scratch_floats_avx2(int64_t head_dim) {
  const int64_t d8 = (head_dim + 7) / 8 * 8;
  return kRows * kKeyTile + kGroupRows * d8 + 2 * kGroupRows;
}

void attention_rows_avx2(const float* q, const float* packed, int64_t ld, const void* /*v: packed*/, float* out,
                         const AttentionShape& s, int64_t head, int64_t i0, int64_t i1, float* scratch) {
  attention_rows(q, packed, ld, out, s, head, i0, i1, scratch);
}

namespace {

// One head's slice of a cache row: NF full vectors of 8 (NF == 0: their number known only at
// run time), then `tail` (0..7) components.
template <int NF>
struct HeadSlice {
  int64_t full_vectors;
  int64_t tail;
  int64_t full() const { return NF > 0 ? NF : full_vectors; }
};

template <int NF, typename T>
inline __m256 dot_slice(const HeadSlice<NF>& hs, const float* qh, const T* kh) {
  __m256 acc = _mm256_setzero_ps();
  for (int64_t c = 0; c < hs.full(); ++c) acc = _mm256_fmadd_ps(_mm256_loadu_ps(qh + 8 * c), load8(kh + 8 * c), acc);
  if (hs.tail > 0) {
    const int64_t c = 8 * hs.full();
    acc = _mm256_fmadd_ps(load_part(qh + c, hs.tail), load_part(kh + c, hs.tail), acc);
  }
  return acc;
}

// scores[j * hp + h] = scale * q_h . k_(j0 + j) for every head (zero for the padding heads up
// to hp, a multiple of 8), one cache row at a time, 8 heads per reduction.
template <int NF, typename T>
void decode_scores(const HeadSlice<NF>& hs, const float* qi, const T* k, const AttentionShape& s, int64_t j0,
                   int64_t count, int64_t hp, float* scores) {
  const int64_t d = s.head_dim, heads = s.n_heads, group = s.n_heads / s.n_kv_heads;
  const int64_t row_bytes = s.n_kv_heads * d * static_cast<int64_t>(sizeof(T));
  const __m256 scale = _mm256_set1_ps(s.scale);
  for (int64_t j = 0; j < count; ++j) {
    const T* row = k + (j0 + j) * s.kv_stride;
    prefetch_span(row + kPrefetchRows * s.kv_stride, row_bytes);
    float* sj = scores + j * hp;
    int64_t h = 0;
    for (; h + 8 <= heads; h += 8) {
      __m256 acc[8];
      for (int i = 0; i < 8; ++i) acc[i] = dot_slice(hs, qi + (h + i) * d, row + ((h + i) / group) * d);
      _mm256_storeu_ps(sj + h, _mm256_mul_ps(hsum8_avx2(acc), scale));
    }
    for (; h < heads; ++h) sj[h] = hsum_avx2(dot_slice(hs, qi + h * d, row + (h / group) * d)) * s.scale;
    for (; h < hp; ++h) sj[h] = 0.0f;
  }
}

// o_h += sum_r p[r][h] v_(row r) for every head over ROWS consecutive cache rows, so each o_h
// vector is loaded and stored once per ROWS rows. p: weights of the first row, stride hp.
template <int ROWS, int NF, typename T>
inline void values_rows(const HeadSlice<NF>& hs, const T* block, const AttentionShape& s, const float* p, int64_t hp,
                        float* partial, int64_t stride) {
  const int64_t d = s.head_dim, group = s.n_heads / s.n_kv_heads;
  for (int64_t h = 0; h < s.n_heads; ++h) {
    const T* vh = block + (h / group) * d;
    float* o = partial + h * stride;
    __m256 pr[ROWS];
    for (int r = 0; r < ROWS; ++r) pr[r] = _mm256_broadcast_ss(p + r * hp + h);
    for (int64_t c = 0; c < hs.full(); ++c) {
      __m256 acc = _mm256_loadu_ps(o + 8 * c);
      for (int r = 0; r < ROWS; ++r) acc = _mm256_fmadd_ps(pr[r], load8(vh + r * s.kv_stride + 8 * c), acc);
      _mm256_storeu_ps(o + 8 * c, acc);
    }
    if (hs.tail > 0) {  // o is padded to 16, so its tail vector is whole
      const int64_t c = 8 * hs.full();
      __m256 acc = _mm256_loadu_ps(o + c);
      for (int r = 0; r < ROWS; ++r) acc = _mm256_fmadd_ps(pr[r], load_part(vh + r * s.kv_stride + c, hs.tail), acc);
      _mm256_storeu_ps(o + c, acc);
    }
  }
}

constexpr int64_t kVRows = 4;

template <int NF, typename T>
void decode_values(const HeadSlice<NF>& hs, const T* v, const AttentionShape& s, int64_t j0, int64_t count,
                   int64_t hp, const float* p, float* partial, int64_t stride) {
  const int64_t row_bytes = s.n_kv_heads * s.head_dim * static_cast<int64_t>(sizeof(T));
  int64_t j = 0;
  for (; j + kVRows <= count; j += kVRows) {
    const T* block = v + (j0 + j) * s.kv_stride;
    for (int64_t r = 0; r < kVRows; ++r) prefetch_span(block + (kPrefetchRows + r) * s.kv_stride, row_bytes);
    values_rows<kVRows>(hs, block, s, p + j * hp, hp, partial, stride);
  }
  for (; j < count; ++j) values_rows<1>(hs, v + (j0 + j) * s.kv_stride, s, p + j * hp, hp, partial, stride);
}

template <int NF, typename T>
void decode_keys(const HeadSlice<NF>& hs, const float* q, const T* k, const T* v, const AttentionShape& s,
                 int64_t query, int64_t j0, int64_t count, float* scores, float* partial) {
  const int64_t d16 = (s.head_dim + 15) / 16 * 16;
  const int64_t stride = decode_partial_stride(s.head_dim);
  const int64_t hp = (s.n_heads + 7) / 8 * 8;
  decode_scores(hs, q + query * s.q_stride, k, s, j0, count, hp, scores);
  // Per head, 8 heads per vector: this chunk's max, p_j = e^(s_j - max) in place, their sum.
  // Every key of the chunk is visible (the caller ends the chunk at the query's last key).
  for (int64_t h = 0; h < hp; h += 8) {
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    for (int64_t j = 0; j < count; ++j) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(scores + j * hp + h));
    __m256 vsum = _mm256_setzero_ps();
    for (int64_t j = 0; j < count; ++j) {
      const __m256 p = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(scores + j * hp + h), vmax));
      _mm256_storeu_ps(scores + j * hp + h, p);
      vsum = _mm256_add_ps(vsum, p);
    }
    float m[8], sm[8];
    _mm256_storeu_ps(m, vmax);
    _mm256_storeu_ps(sm, vsum);
    for (int64_t i = 0; i < 8 && h + i < s.n_heads; ++i) {
      float* part = partial + (h + i) * stride;
      part[d16] = m[i];
      part[d16 + 1] = sm[i];
    }
  }
  decode_values(hs, v, s, j0, count, hp, scores, partial, stride);
}

template <typename T>
void decode_keys_any_head(const float* q, const T* k, const T* v, const AttentionShape& s, int64_t query, int64_t j0,
                          int64_t count, float* scores, float* partial) {
  const int64_t full = s.head_dim / 8, tail = s.head_dim % 8;
  switch (full) {  // the head sizes in use: 64 (8 vectors), 72 (9), 80 (10), 96 (12), 128 (16)
    case 8: decode_keys(HeadSlice<8>{8, tail}, q, k, v, s, query, j0, count, scores, partial); break;
    case 9: decode_keys(HeadSlice<9>{9, tail}, q, k, v, s, query, j0, count, scores, partial); break;
    case 10: decode_keys(HeadSlice<10>{10, tail}, q, k, v, s, query, j0, count, scores, partial); break;
    case 12: decode_keys(HeadSlice<12>{12, tail}, q, k, v, s, query, j0, count, scores, partial); break;
    case 16: decode_keys(HeadSlice<16>{16, tail}, q, k, v, s, query, j0, count, scores, partial); break;
    default: decode_keys(HeadSlice<0>{full, tail}, q, k, v, s, query, j0, count, scores, partial); break;
  }
}

}  // namespace

void attention_decode_keys_avx2(const float* q, const void* k, const void* v, const AttentionShape& s, int64_t query,
                                int64_t j0, int64_t j1, float* scores, float* partial) {
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

void attention_decode_combine_avx2(const float* partials, int64_t chunks, const AttentionShape& s, int64_t query,
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
    // out = sum_c e^(max_c - max) o_c / sum_c e^(max_c - max) sum_c (o_c is padded to 16, so
    // its vectors are whole; out's last vector may be partial).
    const int64_t full = d / 8 * 8;
    const __m256i tail = tail_mask_avx2(d - full);
    for (int64_t i = 0; i < d; ++i) oh[i] = 0.0f;
    float sum = 0.0f;
    for (int64_t c = 0; c < chunks; ++c) {
      const float* part = partials + c * chunk_stride + h * stride;
      if (part[d16] == -INFINITY) continue;
      const float weight = std::exp(part[d16] - max);
      sum += weight * part[d16 + 1];
      const __m256 w = _mm256_set1_ps(weight);
      for (int64_t i = 0; i < full; i += 8) {
        _mm256_storeu_ps(oh + i, _mm256_fmadd_ps(w, _mm256_loadu_ps(part + i), _mm256_loadu_ps(oh + i)));
      }
      if (full < d) {
        _mm256_maskstore_ps(oh + full, tail,
                            _mm256_fmadd_ps(w, _mm256_loadu_ps(part + full), _mm256_maskload_ps(oh + full, tail)));
      }
    }
    const __m256 inv = _mm256_set1_ps(1.0f / sum);
    for (int64_t i = 0; i < full; i += 8) _mm256_storeu_ps(oh + i, _mm256_mul_ps(inv, _mm256_loadu_ps(oh + i)));
    if (full < d) _mm256_maskstore_ps(oh + full, tail, _mm256_mul_ps(inv, _mm256_maskload_ps(oh + full, tail)));
  }
}

void f32_to_f16_avx2(const float* src, int64_t count, uint16_t* dst) {
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  int64_t i = 0;
  for (; i + 8 <= count; i += 8) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm256_cvtps_ph(_mm256_loadu_ps(src + i), kRound));
  }
  if (i < count) {  // the tail through a zeroed copy: nothing read or written past count
    const int64_t n = count - i;
    const __m256 x = _mm256_maskload_ps(src + i, tail_mask_avx2(n));
    alignas(16) uint16_t buf[8];
    _mm_store_si128(reinterpret_cast<__m128i*>(buf), _mm256_cvtps_ph(x, kRound));
    for (int64_t t = 0; t < n; ++t) dst[i + t] = buf[t];
  }
}

}  // namespace lumen::kernels
