#include "lumen/models/phi.h"

#include "lumen/core/error.h"

namespace lumen {

namespace {

// The tensor-name table: prefixes of weight/bias pairs.
struct PhiNames {
  std::string embed, final_norm, lm_head;
  bool fused_qkv = false;
  std::string layer(int64_t i) const { return layer_root + std::to_string(i); }
  std::string layer_root, input_norm, q, k, v, qkv, dense, fc1, fc2;  // layer parts, after layer(i)
};

const PhiNames& phi_names(WeightLayout layout) {
  static const PhiNames hf{"model.embed_tokens", "model.final_layernorm", "lm_head", false, "model.layers.",
                           ".input_layernorm", ".self_attn.q_proj", ".self_attn.k_proj", ".self_attn.v_proj", "",
                           ".self_attn.dense", ".mlp.fc1", ".mlp.fc2"};
  static const PhiNames msft{"transformer.embd.wte", "lm_head.ln", "lm_head.linear", true, "transformer.h.",
                             ".ln", "", "", "", ".mixer.Wqkv", ".mixer.out_proj", ".mlp.fc1", ".mlp.fc2"};
  return layout == WeightLayout::kPhiMsft ? msft : hf;
}

void phi_tensor_specs(const ImpConfig& config, WeightLayout layout, std::vector<TensorSpec>& out) {
  const PhiConfig& c = config.text;
  const PhiNames& n = phi_names(layout);
  const int64_t d = c.hidden_size, kv = c.num_kv_heads * c.head_dim();
  out.push_back({n.embed + ".weight", {c.vocab_size, d}});
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = n.layer(i);
    append_norm_specs(out, p + n.input_norm, d);
    if (n.fused_qkv) {
      append_linear_specs(out, p + n.qkv, d + 2 * kv, d);
    } else {
      append_linear_specs(out, p + n.q, d, d);
      append_linear_specs(out, p + n.k, kv, d);
      append_linear_specs(out, p + n.v, kv, d);
    }
    append_linear_specs(out, p + n.dense, d, d);
    append_linear_specs(out, p + n.fc1, c.intermediate_size, d);
    append_linear_specs(out, p + n.fc2, d, c.intermediate_size);
  }
  append_norm_specs(out, n.final_norm, d);
  append_linear_specs(out, n.lm_head, c.vocab_size, d);
}

HostDecoder load_phi(const TensorStore& store, const ImpConfig& config, WeightLayout layout) {
  const PhiConfig& c = config.text;
  const PhiNames& n = phi_names(layout);
  const int64_t d = c.hidden_size, kv = c.num_kv_heads * c.head_dim();
  HostDecoder decoder;
  decoder.geometry = decoder_geometry(c, /*gated_mlp=*/false, /*parallel_residual=*/true);
  decoder.vocab_size = c.vocab_size;
  decoder.embed_tokens = load_matrix(store, n.embed + ".weight", c.vocab_size, d);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = n.layer(i);
    HostLayer layer;
    layer.norm1 = {NormKind::kLayerNorm, load_layer_norm(store, p + n.input_norm, d, c.layer_norm_eps)};
    if (n.fused_qkv) {
      layer.qkv.push_back(load_linear(store, p + n.qkv, d + 2 * kv, d));  // rows [q (d); k (kv); v (kv)]
    } else {
      layer.qkv.push_back(load_linear(store, p + n.q, d, d));
      layer.qkv.push_back(load_linear(store, p + n.k, kv, d));
      layer.qkv.push_back(load_linear(store, p + n.v, kv, d));
    }
    layer.out = load_linear(store, p + n.dense, d, d);
    layer.up.push_back(load_linear(store, p + n.fc1, c.intermediate_size, d));
    layer.down = load_linear(store, p + n.fc2, d, c.intermediate_size);
    decoder.layers.push_back(std::move(layer));
  }
  decoder.final_norm = {NormKind::kLayerNorm, load_layer_norm(store, n.final_norm, d, c.layer_norm_eps)};
  decoder.lm_head = load_linear(store, n.lm_head, c.vocab_size, d);
  return decoder;
}

}  // namespace

const DecoderFamily& phi_decoder_family() {
  static const DecoderFamily family{"phi", 0.4, phi_tensor_specs, load_phi};
  return family;
}

}  // namespace lumen
