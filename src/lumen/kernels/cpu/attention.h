// Scaled dot-product attention over one sequence, multi-head, with grouped KV heads.
#pragma once

#include <cstdint>

#include "lumen/core/dtype.h"

namespace lumen {

struct AttentionShape {
  int64_t n_queries = 0;     // Tq
  int64_t n_keys = 0;        // Tk (keys 0..Tk-1)
  int64_t n_heads = 0;       // query heads
  int64_t n_kv_heads = 0;    // key/value heads; n_heads % n_kv_heads == 0
  int64_t head_dim = 0;
  int64_t q_stride = 0;      // floats between consecutive query tokens
  int64_t kv_stride = 0;     // elements between consecutive key (and value) tokens
  int64_t out_stride = 0;    // floats between consecutive output tokens
  bool causal = false;       // query i sees keys 0..(Tk - Tq + i)
  float scale = 1.0f;
  DType kv_dtype = DType::kF32;  // keys and values: kF32 or kF16 (a reduced-precision KV cache)
};

// q: [Tq, n_heads, D] fp32, k/v: [Tk, n_kv_heads, D] of shape.kv_dtype, out: [Tq, n_heads, D]
// fp32 (each with its stride). Online softmax over key tiles: nothing larger than one tile of
// scores is materialised. f16 keys and values are widened exactly; all arithmetic is fp32.
void attention(const float* q, const void* k, const void* v, float* out, const AttentionShape& shape);

// Plain two-pass reference (full score rows in double), used by tests.
void attention_reference(const float* q, const void* k, const void* v, float* out, const AttentionShape& shape);

// Writes n rows of `width` fp32 values (consecutive, src stride = width) into KV cache rows of
// `dtype` at dst (row stride = width): a copy for kF32, round-to-nearest-even for kF16.
void store_kv_rows(const float* src, int64_t n, int64_t width, DType dtype, void* dst);

}  // namespace lumen
