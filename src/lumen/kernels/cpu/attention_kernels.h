// Internal interface between attention.cpp (threading, scratch, dispatch) and the AVX-512
// attention kernels (see linear_kernels.h for why kernel files get plain pointers).
#pragma once

#include <cstdint>

#include "lumen/kernels/cpu/attention.h"

namespace lumen::kernels {

// Keys and values arrive as shape.kv_dtype (f32 or f16), hence the void pointers.

// kt[c * ld + j] = key j of `kv_head`, component c, for j < n_keys; zero up to ld (a multiple
// of 64 >= n_keys).
void transpose_keys_avx512(const void* k, const AttentionShape& s, int64_t kv_head, float* kt, int64_t ld);

// Output rows [i0, i1) of query head `head`, from that head's transposed keys. scratch:
// at least attention_scratch_floats(head_dim) floats.
void attention_rows_avx512(const float* q, const float* kt, int64_t ld, const void* v, float* out,
                           const AttentionShape& s, int64_t head, int64_t i0, int64_t i1, float* scratch);

// Decode, split over keys: the partial result of query `query` over keys [j0, j1) for every
// head, read row by row from the cache. scores: n_heads * (j1 - j0) floats of scratch.
// partial[h * decode_partial_stride(d)]: o[d rounded up to 16] (unnormalised), then max, sum.
void attention_decode_keys_avx512(const float* q, const void* k, const void* v, const AttentionShape& s,
                                  int64_t query, int64_t j0, int64_t j1, float* scores, float* partial);

// Merges `chunks` consecutive partials (each n_heads * decode_partial_stride) into out's row.
void attention_decode_combine_avx512(const float* partials, int64_t chunks, const AttentionShape& s, int64_t query,
                                     float* out);

// dst[i] = src[i] as IEEE half, round to nearest even (vcvtps2ph).
void f32_to_f16_avx512(const float* src, int64_t count, uint16_t* dst);

inline int64_t decode_partial_stride(int64_t head_dim) { return (head_dim + 15) / 16 * 16 + 16; }

inline int64_t attention_scratch_floats(int64_t head_dim) { return 4 * 64 + 4 * ((head_dim + 15) / 16 * 16); }

}  // namespace lumen::kernels
