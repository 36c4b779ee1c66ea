#include "lumen/models/phi_decoder.h"

#include <cmath>

#include "lumen/core/error.h"

namespace lumen {

AttentionShape phi_attention_shape(const PhiConfig& c, int64_t n_queries, int64_t n_keys) {
  AttentionShape shape;
  shape.n_queries = n_queries;
  shape.n_keys = n_keys;
  shape.n_heads = c.num_heads;
  shape.n_kv_heads = c.num_kv_heads;
  shape.head_dim = c.head_dim();
  shape.q_stride = c.hidden_size;
  shape.kv_stride = c.num_kv_heads * c.head_dim();
  shape.out_stride = c.hidden_size;
  shape.causal = true;
  // softmax(q k^T / sqrt(head_dim)), as in HF PhiAttention.
  shape.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.head_dim())));
  return shape;
}

PhiDecoder PhiDecoder::load(const TensorStore& store, const PhiConfig& c, WeightLayout layout) {
  PhiDecoder decoder;
  decoder.config_ = c;
  const int64_t d = c.hidden_size;
  const int64_t kv = c.num_kv_heads * c.head_dim();
  const bool msft = layout == WeightLayout::kPhiMsft;
  decoder.embed_tokens_ =
      load_matrix(store, msft ? "transformer.embd.wte.weight" : "model.embed_tokens.weight", c.vocab_size, d);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    PhiLayer layer;
    if (msft) {
      const std::string p = "transformer.h." + std::to_string(i);
      layer.input_layernorm = load_layer_norm(store, p + ".ln", d, c.layer_norm_eps);
      // Fused Wqkv: rows [q (d); k (kv); v (kv)].
      Linear qkv = load_linear(store, p + ".mixer.Wqkv", d + 2 * kv, d);
      layer.q_proj = {slice_rows(qkv.weight, 0, d), {qkv.bias.begin(), qkv.bias.begin() + d}};
      layer.k_proj = {slice_rows(qkv.weight, d, kv), {qkv.bias.begin() + d, qkv.bias.begin() + d + kv}};
      layer.v_proj = {slice_rows(qkv.weight, d + kv, kv), {qkv.bias.begin() + d + kv, qkv.bias.end()}};
      layer.dense = load_linear(store, p + ".mixer.out_proj", d, d);
      layer.fc1 = load_linear(store, p + ".mlp.fc1", c.intermediate_size, d);
      layer.fc2 = load_linear(store, p + ".mlp.fc2", d, c.intermediate_size);
    } else {
      const std::string p = "model.layers." + std::to_string(i);
      layer.input_layernorm = load_layer_norm(store, p + ".input_layernorm", d, c.layer_norm_eps);
      layer.q_proj = load_linear(store, p + ".self_attn.q_proj", d, d);
      layer.k_proj = load_linear(store, p + ".self_attn.k_proj", kv, d);
      layer.v_proj = load_linear(store, p + ".self_attn.v_proj", kv, d);
      layer.dense = load_linear(store, p + ".self_attn.dense", d, d);
      layer.fc1 = load_linear(store, p + ".mlp.fc1", c.intermediate_size, d);
      layer.fc2 = load_linear(store, p + ".mlp.fc2", d, c.intermediate_size);
    }
    decoder.layers_.push_back(std::move(layer));
  }
  decoder.final_layernorm_ =
      load_layer_norm(store, msft ? "lm_head.ln" : "model.final_layernorm", d, c.layer_norm_eps);
  decoder.lm_head_ = load_linear(store, msft ? "lm_head.linear" : "lm_head", c.vocab_size, d);
  return decoder;
}

void PhiDecoder::embed(const int32_t* ids, int64_t n, float* out) const {
  const int64_t d = config_.hidden_size;
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= config_.vocab_size) {
      fail("token id ", ids[i], " is outside the vocabulary of ", config_.vocab_size);
    }
    convert_row_to_f32(embed_tokens_.dtype, embed_tokens_.row(ids[i]), d, out + i * d);
  }
}

}  // namespace lumen
