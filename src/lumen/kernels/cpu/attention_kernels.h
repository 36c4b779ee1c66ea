// Internal interface between attention.cpp (threading, scratch, dispatch) and the AVX-512
// attention kernels (see linear_kernels.h for why kernel files get plain pointers).
#pragma once

#include <cstdint>

#include "lumen/kernels/cpu/attention.h"

namespace lumen::kernels {

// kt[c * ld + j] = key j of `kv_head`, component c, for j < n_keys; zero up to ld (a multiple
// of 64 >= n_keys).
void transpose_keys_avx512(const float* k, const AttentionShape& s, int64_t kv_head, float* kt, int64_t ld);

// Output rows [i0, i1) of query head `head`, from that head's transposed keys. scratch:
// at least attention_scratch_floats(head_dim) floats.
void attention_rows_avx512(const float* q, const float* kt, int64_t ld, const float* v, float* out,
                           const AttentionShape& s, int64_t head, int64_t i0, int64_t i1, float* scratch);

// One query row of one head straight from the row-major cache (decode).
void attention_decode_avx512(const float* q, const float* k, const float* v, float* out, const AttentionShape& s,
                             int64_t head, int64_t query, float* scratch);

inline int64_t attention_scratch_floats(int64_t head_dim) { return 4 * 64 + 4 * ((head_dim + 15) / 16 * 16); }

}  // namespace lumen::kernels
