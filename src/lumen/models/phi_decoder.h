// The Phi decoder's weights (Phi-2, as Imp uses it); models/imp_device_model runs them. Each block, with one LayerNorm and parallel
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

  // Token embeddings on the host, from the mapped table: out [n, hidden] (prompt splicing).
  void embed(const int32_t* ids, int64_t n, float* out) const;

  // The loaded weights, which the forward pass (models/imp_device_model) uploads.
  const WeightMatrix& embed_tokens() const { return embed_tokens_; }
  const std::vector<PhiLayer>& layers() const { return layers_; }
  const LayerNormWeights& final_layernorm() const { return final_layernorm_; }
  const Linear& lm_head() const { return lm_head_; }

 private:
  PhiConfig config_;
  WeightMatrix embed_tokens_;  // [vocab, hidden]
  std::vector<PhiLayer> layers_;
  LayerNormWeights final_layernorm_;
  Linear lm_head_;
};

}  // namespace lumen
