// The Phi decoder (Phi-2, as Imp uses it). Each block, with one LayerNorm and parallel
// attention and MLP (HF PhiDecoderLayer):
//   h = LN(x);  x = x + dense(attn(rope(q(h)), rope(k(h)), v(h))) + fc2(gelu_new(fc1(h)))
// then a final LayerNorm and lm_head with bias. Both weight layouts load: current HF
// (`model.layers.N.self_attn.{q,k,v}_proj`, `dense`) and legacy phi-msft
// (`transformer.h.N.mixer.Wqkv` with rows [q; k; v], `out_proj`, `lm_head.ln`/`lm_head.linear`).
#pragma once

#include <vector>

#include "lumen/kernels/cpu/attention.h"
#include "lumen/models/imp_config.h"
#include "lumen/models/weight_loading.h"
#include "lumen/runtime/kv_cache.h"

namespace lumen {

struct PhiLayer {
  LayerNormWeights input_layernorm;
  Linear q_proj, k_proj, v_proj, dense;
  Linear fc1, fc2;
};

// The decoder's causal self-attention over n_keys cached positions, the last n_queries of them
// new; queries, keys and outputs packed per token (strides d, kv width, d).
AttentionShape phi_attention_shape(const PhiConfig& c, int64_t n_queries, int64_t n_keys);

class PhiDecoder {
 public:
  static PhiDecoder load(const TensorStore& store, const PhiConfig& config, WeightLayout layout);

  const PhiConfig& config() const { return config_; }

  // Token embeddings: out [n, hidden].
  void embed(const int32_t* ids, int64_t n, float* out) const;

  // Runs `n` new positions (x: [n, hidden] input embeddings) after the cache's current length,
  // appending their keys and values. logits: [n_logits, vocab] for the last n_logits positions
  // (0 skips the lm_head). Throws Error if the cache has no room.
  void forward(const float* x, int64_t n, KvCache& cache, float* logits, int64_t n_logits = 1) const;

  // The final hidden states (after the final LayerNorm) of the last position, [hidden]; used
  // by prompt-based embeddings. Same contract as forward otherwise.
  void forward_hidden(const float* x, int64_t n, KvCache& cache, float* last_hidden) const;

  // A cache for `capacity` positions. Its rows are f16 when the decoder's matrices run at
  // reduced precision (--quant), fp32 otherwise (exact, as the fixtures check).
  KvCache make_cache(int64_t capacity) const { return make_cache(capacity, kv_dtype_); }
  KvCache make_cache(int64_t capacity, DType dtype) const;  // kF32 or kF16, chosen by the caller
  DType kv_dtype() const { return kv_dtype_; }

  // One decode step for `batch` independent sequences (continuous batching in the server):
  // x: [batch, hidden] holds each sequence's next input embedding, caches[b] is sequence b's
  // own KV cache, each at its own length. Every weight matrix is read once for the whole
  // batch; attention runs per sequence over its own cache. logits: [batch, vocab]. Row b
  // equals forward(x + b * hidden, 1, *caches[b], ...). Throws Error if any cache is full
  // (then no cache is advanced). Defined in phi_decoder_batch.cpp.
  void forward_batch(const float* x, int64_t batch, KvCache* const* caches, float* logits) const;

  // The loaded weights, for device forward paths (models/imp_device_model).
  const WeightMatrix& embed_tokens() const { return embed_tokens_; }
  const std::vector<PhiLayer>& layers() const { return layers_; }
  const LayerNormWeights& final_layernorm() const { return final_layernorm_; }
  const Linear& lm_head() const { return lm_head_; }

 private:
  void run_layers(std::vector<float>& hidden, int64_t n, KvCache& cache) const;

  PhiConfig config_;
  WeightMatrix embed_tokens_;  // [vocab, hidden]
  std::vector<PhiLayer> layers_;
  LayerNormWeights final_layernorm_;
  Linear lm_head_;
  DType kv_dtype_ = DType::kF32;
};

}  // namespace lumen
