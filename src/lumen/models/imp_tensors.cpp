#include "lumen/models/imp_tensors.h"

namespace lumen {

std::vector<TensorSpec> imp_tensor_specs(const ImpConfig& c) {
  std::vector<TensorSpec> specs;
  auto linear = [&](const std::string& prefix, int64_t out, int64_t in) {
    specs.push_back({prefix + ".weight", {out, in}});
    specs.push_back({prefix + ".bias", {out}});
  };
  auto norm = [&](const std::string& prefix, int64_t n) {
    specs.push_back({prefix + ".weight", {n}});
    specs.push_back({prefix + ".bias", {n}});
  };
  const SiglipVisionConfig& v = c.vision;
  const std::string vm = "model.vision_tower.vision_tower.vision_model";
  specs.push_back({vm + ".embeddings.patch_embedding.weight", {v.hidden_size, v.num_channels, v.patch_size, v.patch_size}});
  specs.push_back({vm + ".embeddings.patch_embedding.bias", {v.hidden_size}});
  specs.push_back({vm + ".embeddings.position_embedding.weight", {v.num_patches(), v.hidden_size}});
  for (int64_t i = 0; i < c.vision_layers_to_run; ++i) {
    const std::string p = vm + ".encoder.layers." + std::to_string(i);
    norm(p + ".layer_norm1", v.hidden_size);
    norm(p + ".layer_norm2", v.hidden_size);
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      linear(p + ".self_attn." + proj, v.hidden_size, v.hidden_size);
    }
    linear(p + ".mlp.fc1", v.intermediate_size, v.hidden_size);
    linear(p + ".mlp.fc2", v.hidden_size, v.intermediate_size);
  }
  const PhiConfig& t = c.text;
  for (int64_t i = 0; i < c.projector_depth; ++i) {
    linear("model.mm_projector." + std::to_string(2 * i), t.hidden_size, i == 0 ? v.hidden_size : t.hidden_size);
  }
  const int64_t kv = t.num_kv_heads * t.head_dim();
  specs.push_back({"model.embed_tokens.weight", {t.vocab_size, t.hidden_size}});
  for (int64_t i = 0; i < t.num_layers; ++i) {
    const std::string p = "model.layers." + std::to_string(i);
    norm(p + ".input_layernorm", t.hidden_size);
    linear(p + ".self_attn.q_proj", t.hidden_size, t.hidden_size);
    linear(p + ".self_attn.k_proj", kv, t.hidden_size);
    linear(p + ".self_attn.v_proj", kv, t.hidden_size);
    linear(p + ".self_attn.dense", t.hidden_size, t.hidden_size);
    linear(p + ".mlp.fc1", t.intermediate_size, t.hidden_size);
    linear(p + ".mlp.fc2", t.hidden_size, t.intermediate_size);
  }
  norm("model.final_layernorm", t.hidden_size);
  linear("lm_head", t.vocab_size, t.hidden_size);
  return specs;
}

}  // namespace lumen
