// Internal interface between attention.cpp (threading, scratch, dispatch) and the per-level
// attention kernels in attention_avx512.cpp and attention_avx2.cpp (see linear_kernels.h for
// why kernel files get plain pointers). Both levels implement the same five entry points with
// the same contracts, so attention.cpp picks a table of them and shares everything else.
#pragma once

#include <cstdint>

#include "lumen/kernels/cpu/attention.h"

namespace lumen::kernels {

// Keys and values arrive as shape.kv_dtype (f32 or f16), hence the void pointers.

// ---- AVX-512 (attention_avx512.cpp) ----

// kt[c * ld + j] = key j of `kv_head`, component c, for j < n_keys; zero up to ld (a multiple
// of 64 >= n_keys).
void transpose_keys_avx512(const void* k, const AttentionShape& s, int64_t kv_head, float* kt, int64_t ld);

// Output rows [i0, i1) of query head `head`, from that head's transposed keys. scratch:
// at least attention_scratch_floats(head_dim) floats.
void attention_rows_avx512(const float* q, const float* kt, int64_t ld, const void* v, float* out,
                           const AttentionShape& s, int64_t head, int64_t i0, int64_t i1, float* scratch);

// Decode, split over keys: the partial result of query `query` over keys [j0, j1) for every
// head, read row by row from the cache. scores: decode_scores_floats(n_heads, j1 - j0) floats.
// partial[h * decode_partial_stride(d)]: o[d rounded up to 16] (unnormalised), then max, sum.
void attention_decode_keys_avx512(const float* q, const void* k, const void* v, const AttentionShape& s,
                                  int64_t query, int64_t j0, int64_t j1, float* scores, float* partial);

// Merges `chunks` consecutive partials (each n_heads * decode_partial_stride) into out's row.
void attention_decode_combine_avx512(const float* partials, int64_t chunks, const AttentionShape& s, int64_t query,
                                     float* out);

// dst[i] = src[i] as IEEE half, round to nearest even (vcvtps2ph).
void f32_to_f16_avx512(const float* src, int64_t count, uint16_t* dst);

// ---- AVX2 + FMA + F16C (attention_avx2.cpp) ----
// Prefill keeps both keys and values of a KV head packed as fp32 (packed_kv_floats_avx2
// floats per KV head, ld a multiple of kAvx2KeyTile >= n_keys): the keys transposed tile by
// tile, [ld / kAvx2KeyTile][head_dim][kAvx2KeyTile], then the values [ld][head_dim rounded up
// to 8], zero past n_keys and past head_dim. attention_rows_avx2 reads only that buffer
// (its v argument is unused); it works on any range of rows, kAvx2QueryBlock at a time.
// Decode, combine and f32_to_f16 have the AVX-512 contracts.

constexpr int64_t kAvx2KeyTile = 64;
constexpr int64_t kAvx2QueryBlock = 48;  // 8 blocks of the kernel's 6 rows

int64_t packed_kv_floats_avx2(const AttentionShape& s, int64_t ld);
void pack_kv_avx2(const void* k, const void* v, const AttentionShape& s, int64_t kv_head, float* packed, int64_t ld);
// scratch: at least attention_scratch_floats_avx2(head_dim) floats.
int64_t attention_scratch_floats_avx2(int64_t head_dim);
void attention_rows_avx2(const float* q, const float* packed, int64_t ld, const void* v, float* out,
                         const AttentionShape& s, int64_t head, int64_t i0, int64_t i1, float* scratch);
void attention_decode_keys_avx2(const float* q, const void* k, const void* v, const AttentionShape& s, int64_t query,
                                int64_t j0, int64_t j1, float* scores, float* partial);
void attention_decode_combine_avx2(const float* partials, int64_t chunks, const AttentionShape& s, int64_t query,
                                   float* out);
void f32_to_f16_avx2(const float* src, int64_t count, uint16_t* dst);

// ---- Sizes shared by both levels ----

inline int64_t decode_partial_stride(int64_t head_dim) { return (head_dim + 15) / 16 * 16 + 16; }

// AVX-512 prefill scratch per thread: scores [4][64] and o [4][head_dim rounded up to 16].
inline int64_t attention_scratch_floats(int64_t head_dim) { return 4 * 64 + 4 * ((head_dim + 15) / 16 * 16); }

// Decode score scratch for `keys` keys: AVX-512 keeps [n_heads][keys], AVX2 [keys][n_heads
// rounded up to 8]; heads rounded up to 16 covers both.
inline int64_t decode_scores_floats(int64_t n_heads, int64_t keys) { return (n_heads + 15) / 16 * 16 * keys; }

}  // namespace lumen::kernels
