// Scaled dot-product attention over one sequence, multi-head, with grouped KV heads.
#pragma once

#include <cstdint>

namespace lumen {

struct AttentionShape {
  int64_t n_queries = 0;     // Tq
  int64_t n_keys = 0;        // Tk (keys 0..Tk-1)
  int64_t n_heads = 0;       // query heads
  int64_t n_kv_heads = 0;    // key/value heads; n_heads % n_kv_heads == 0
  int64_t head_dim = 0;
  int64_t q_stride = 0;      // floats between consecutive query tokens
  int64_t kv_stride = 0;     // floats between consecutive key (and value) tokens
  int64_t out_stride = 0;    // floats between consecutive output tokens
  bool causal = false;       // query i sees keys 0..(Tk - Tq + i)
  float scale = 1.0f;
};

// q: [Tq, n_heads, D], k/v: [Tk, n_kv_heads, D], out: [Tq, n_heads, D] (each with its stride).
// Online softmax over key tiles: nothing larger than one tile of scores is materialised.
void attention(const float* q, const float* k, const float* v, float* out, const AttentionShape& shape);

// Plain two-pass reference (full score rows in double), used by tests.
void attention_reference(const float* q, const float* k, const float* v, float* out, const AttentionShape& shape);

}  // namespace lumen
