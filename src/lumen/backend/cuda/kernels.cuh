// Launchers of the CUDA kernels (host functions, one stream each). Shapes and semantics are
// those of the matching Backend ops in backend/backend.h; pointers are device memory.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "lumen/core/dtype.h"
#include "lumen/kernels/cpu/attention.h"
#include "lumen/core/activation.h"

namespace lumen::cuda {

void layer_norm(const float* x, int64_t rows, int64_t n, const float* gamma, const float* beta, float eps, void* y,
                DType y_dtype, cudaStream_t stream);
void activation(Activation act, void* x, DType dtype, int64_t n, cudaStream_t stream);
void rms_norm(const float* x, int64_t rows, int64_t n, const float* gamma, float eps, void* y, DType y_dtype,
              cudaStream_t stream);
void gated_activation(Activation act, const void* gate_up, int64_t rows, int64_t inner, void* out, DType dtype,
                      cudaStream_t stream);
void add_rows(float* y, const float* table, int64_t rows, int64_t table_rows, int64_t n, cudaStream_t stream);
// y[r, c] (+)= bias[c] over rows of width n, y of y_dtype.
void add_bias(void* y, DType y_dtype, const float* bias, int64_t rows, int64_t n, cudaStream_t stream);
void convert(const void* x, DType from, void* y, DType to, int64_t n, cudaStream_t stream);
void rope_neox(void* x, DType dtype, int64_t n_tokens, int64_t token_stride, int64_t n_heads, int64_t head_dim,
               int64_t rotary_dim, const int32_t* positions, double theta, cudaStream_t stream);
void store_kv(const void* k, const void* v, DType dtype, int64_t n_tokens, int64_t src_stride, void* k_cache,
              void* v_cache, int64_t kv_width, int64_t slot_stride, const int32_t* slots, const int32_t* positions,
              cudaStream_t stream);
void embed(const int32_t* ids, int64_t n, const void* table, DType dtype, int64_t rows, int64_t cols, float* out,
           cudaStream_t stream);
void argmax_rows(const float* x, int64_t rows, int64_t n, int32_t* out, cudaStream_t stream);
void fill_random(void* x, DType dtype, int64_t n, float scale, float offset, uint64_t seed, cudaStream_t stream);

// y[m, n_rows] (+)= x[m, k] W[n_rows, k]^T (+ bias) for small m (decode), W and x of dtype,
// y F32 or dtype. Returns false (nothing launched) when m is too large for this kernel.
bool gemv(const void* x, const void* w, DType dtype, int64_t m, int64_t n_rows, int64_t k, const float* bias, void* y,
          DType y_dtype, bool accumulate, cudaStream_t stream);

// Decode attention: query b attends keys [0, positions[b]] of cache slot b.
void attention_decode(const void* q, const void* k_cache, const void* v_cache, void* out, DType dtype,
                      const AttentionShape& shape, int64_t batch, int64_t slot_stride, int64_t capacity,
                      const int32_t* slots,
                      const int32_t* positions, cudaStream_t stream);
// Row softmax of scores [rows, n_keys] (already scaled) with a causal limit: row r (query
// q0 + r % n_queries of a sequence whose queries are the last n_queries of `total_keys`) sees
// keys [0, total_keys - n_queries + query + 1) when causal. Writes probabilities as dtype.
void softmax_rows(const float* scores, void* probs, DType dtype, int64_t rows, int64_t n_keys, int64_t ld,
                  int64_t rows_per_head, int64_t first_query, int64_t n_queries, int64_t total_keys, bool causal,
                  cudaStream_t stream);

}  // namespace lumen::cuda
