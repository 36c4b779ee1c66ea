#include "models/synthetic_checkpoint.h"

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "lumen/formats/safetensors.h"
#include "lumen/kernels/cpu/quantize.h"
#include "test_data.h"

namespace lumen::testing {

namespace fs = std::filesystem;

namespace {

struct Builder {
  std::mt19937 rng;
  std::map<std::string, std::pair<std::vector<int64_t>, std::vector<float>>> tensors;

  std::vector<float> random(size_t n, float scale) {
    std::normal_distribution<float> normal(0.0f, scale);
    std::vector<float> v(n);
    // Rounded to bf16 so F32, F16-free comparisons and BF16 storage hold identical values.
    for (float& x : v) x = bf16_to_f32(f32_to_bf16(normal(rng)));
    return v;
  }
  void add(const std::string& name, std::vector<int64_t> shape, std::vector<float> values) {
    tensors[name] = {std::move(shape), std::move(values)};
  }
  void linear(const std::string& prefix, int out, int in) {
    add(prefix + ".weight", {out, in}, random(static_cast<size_t>(out) * in, 1.0f / std::sqrt(float(in))));
    add(prefix + ".bias", {out}, random(static_cast<size_t>(out), 0.1f));
  }
  void norm(const std::string& prefix, int n) {
    auto w = random(static_cast<size_t>(n), 0.1f);
    for (float& x : w) x = bf16_to_f32(f32_to_bf16(1.0f + x));
    add(prefix + ".weight", {n}, w);
    add(prefix + ".bias", {n}, random(static_cast<size_t>(n), 0.1f));
  }
};

}  // namespace

void write_synthetic_imp(const fs::path& dir, const SyntheticImpSpec& s) {
  fs::create_directories(dir);
  Builder b{std::mt19937(s.seed), {}};
  const int vocab = 51200;
  const std::string root = s.legacy_layout ? "transformer" : "model";
  const std::string vt = root + ".vision_tower.vision_tower.vision_model";
  const int patches = (s.image_size / s.patch_size) * (s.image_size / s.patch_size);
  b.add(vt + ".embeddings.patch_embedding.weight", {s.vision_hidden, 3, s.patch_size, s.patch_size},
        b.random(static_cast<size_t>(s.vision_hidden) * 3 * s.patch_size * s.patch_size, 0.05f));
  b.add(vt + ".embeddings.patch_embedding.bias", {s.vision_hidden}, b.random(s.vision_hidden, 0.1f));
  b.add(vt + ".embeddings.position_embedding.weight", {patches, s.vision_hidden},
        b.random(static_cast<size_t>(patches) * s.vision_hidden, 0.5f));
  const int run = s.select_layer < 0 ? s.vision_layers + 1 + s.select_layer : s.select_layer;
  for (int i = 0; i < run; ++i) {
    const std::string p = vt + ".encoder.layers." + std::to_string(i);
    b.norm(p + ".layer_norm1", s.vision_hidden);
    b.norm(p + ".layer_norm2", s.vision_hidden);
    for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"}) {
      b.linear(p + ".self_attn." + proj, s.vision_hidden, s.vision_hidden);
    }
    b.linear(p + ".mlp.fc1", s.vision_intermediate, s.vision_hidden);
    b.linear(p + ".mlp.fc2", s.vision_hidden, s.vision_intermediate);
  }
  b.norm(vt + ".post_layernorm", s.vision_hidden);
  for (int i = 0; i < s.projector_depth; ++i) {
    b.linear(root + ".mm_projector." + std::to_string(2 * i), s.hidden, i == 0 ? s.vision_hidden : s.hidden);
  }

  const int head_dim = s.hidden / s.heads;
  const int stored_kv_heads = s.duplicate_kv_heads_as_mha ? s.heads : s.kv_heads;
  const int kv = s.kv_heads * head_dim;
  b.add(s.legacy_layout ? "transformer.embd.wte.weight" : "model.embed_tokens.weight", {vocab, s.hidden},
        b.random(static_cast<size_t>(vocab) * s.hidden, 1.0f));
  for (int i = 0; i < s.layers; ++i) {
    const std::string p = s.legacy_layout ? "transformer.h." + std::to_string(i) : "model.layers." + std::to_string(i);
    b.norm(p + (s.legacy_layout ? ".ln" : ".input_layernorm"), s.hidden);
    b.linear(p + ".q", s.hidden, s.hidden);
    b.linear(p + ".k", kv, s.hidden);
    b.linear(p + ".v", kv, s.hidden);
    if (s.duplicate_kv_heads_as_mha) {
      // Each KV head serves heads / kv_heads query heads: repeat its rows for each of them.
      const int group = s.heads / s.kv_heads;
      for (const char* which : {".k", ".v"}) {
        for (const char* part : {".weight", ".bias"}) {
          auto& [shape, values] = b.tensors[p + which + part];
          const size_t row = part == std::string(".weight") ? static_cast<size_t>(s.hidden) : 1;
          std::vector<float> expanded;
          for (int h = 0; h < s.heads; ++h) {
            const size_t src = static_cast<size_t>(h / group) * head_dim * row;
            expanded.insert(expanded.end(), values.begin() + src, values.begin() + src + head_dim * row);
          }
          values = expanded;
          shape[0] = s.heads * head_dim;
        }
      }
    }
    auto take = [&](const std::string& name) {
      auto t = b.tensors[name];
      b.tensors.erase(name);
      return t;
    };
    auto q_w = take(p + ".q.weight"), q_b = take(p + ".q.bias");
    auto k_w = take(p + ".k.weight"), k_b = take(p + ".k.bias");
    auto v_w = take(p + ".v.weight"), v_b = take(p + ".v.bias");
    if (s.legacy_layout) {
      std::vector<float> w = q_w.second, bias = q_b.second;
      w.insert(w.end(), k_w.second.begin(), k_w.second.end());
      w.insert(w.end(), v_w.second.begin(), v_w.second.end());
      bias.insert(bias.end(), k_b.second.begin(), k_b.second.end());
      bias.insert(bias.end(), v_b.second.begin(), v_b.second.end());
      const int rows = s.hidden + 2 * stored_kv_heads * head_dim;
      b.add(p + ".mixer.Wqkv.weight", {rows, s.hidden}, w);
      b.add(p + ".mixer.Wqkv.bias", {rows}, bias);
      b.linear(p + ".mixer.out_proj", s.hidden, s.hidden);
    } else {
      b.tensors[p + ".self_attn.q_proj.weight"] = q_w;
      b.tensors[p + ".self_attn.q_proj.bias"] = q_b;
      b.tensors[p + ".self_attn.k_proj.weight"] = k_w;
      b.tensors[p + ".self_attn.k_proj.bias"] = k_b;
      b.tensors[p + ".self_attn.v_proj.weight"] = v_w;
      b.tensors[p + ".self_attn.v_proj.bias"] = v_b;
      b.linear(p + ".self_attn.dense", s.hidden, s.hidden);
    }
    b.linear(p + ".mlp.fc1", s.intermediate, s.hidden);
    b.linear(p + ".mlp.fc2", s.hidden, s.intermediate);
  }
  b.norm(s.legacy_layout ? "lm_head.ln" : "model.final_layernorm", s.hidden);
  b.linear(s.legacy_layout ? "lm_head.linear" : "lm_head", vocab, s.hidden);

  // Store: every tensor in the requested dtype.
  std::vector<std::vector<uint8_t>> storage;
  std::vector<TensorToWrite> first, second;
  size_t index = 0;
  nlohmann::json weight_map = nlohmann::json::object();
  for (const auto& [name, tensor] : b.tensors) {
    const auto& [shape, values] = tensor;
    int64_t cols = shape.back();
    int64_t rows = static_cast<int64_t>(values.size()) / cols;
    storage.push_back(quantize_matrix(values.data(), rows, cols, s.dtype));
    TensorToWrite t{name, s.dtype, shape, storage.back().data(), storage.back().size()};
    const bool to_second = s.sharded && (index++ % 2 == 1);
    (to_second ? second : first).push_back(t);
    weight_map[name] = to_second ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors";
  }
  if (s.sharded) {
    write_safetensors(dir / "model-00001-of-00002.safetensors", first);
    write_safetensors(dir / "model-00002-of-00002.safetensors", second);
    std::ofstream(dir / "model.safetensors.index.json") << nlohmann::json{{"metadata", nlohmann::json::object()}, {"weight_map", weight_map}}.dump(1);
  } else {
    write_safetensors(dir / "model.safetensors", first);
  }

  nlohmann::json config = {
      {"architectures", {"ImpForCausalLM"}},
      {"model_type", "imp"},
      {"eos_token_id", 50295},
      {"image_token_index", 50296},
      {"mm_hidden_size", s.vision_hidden},
      {"mm_projector_type", s.projector_depth == 1 ? "linear" : "mlp" + std::to_string(s.projector_depth) + "x_gelu"},
      {"mm_vision_select_layer", s.select_layer},
      {"mm_vision_select_feature", "patch"},
      {"vocab_size", vocab},
      {"vision_tower_config",
       {{"hidden_act", "gelu_pytorch_tanh"}, {"hidden_size", s.vision_hidden}, {"image_size", s.image_size},
        {"intermediate_size", s.vision_intermediate}, {"layer_norm_eps", 1e-6}, {"model_type", "siglip_vision_model"},
        {"num_attention_heads", s.vision_heads}, {"num_channels", 3}, {"num_hidden_layers", s.vision_layers},
        {"patch_size", s.patch_size}}}};
  if (s.legacy_layout) {
    config.update({{"n_embd", s.hidden}, {"n_head", s.heads}, {"n_head_kv", stored_kv_heads}, {"n_inner", s.intermediate},
                   {"n_layer", s.layers}, {"n_positions", 512}, {"rotary_dim", static_cast<int>(s.partial_rotary_factor * head_dim) / 2 * 2},
                   {"layer_norm_epsilon", 1e-5}, {"activation_function", "gelu_new"}});
  } else {
    config.update({{"hidden_size", s.hidden}, {"num_attention_heads", s.heads}, {"num_key_value_heads", stored_kv_heads},
                   {"intermediate_size", s.intermediate}, {"num_hidden_layers", s.layers},
                   {"max_position_embeddings", 512}, {"partial_rotary_factor", s.partial_rotary_factor},
                   {"layer_norm_eps", 1e-5}, {"hidden_act", "gelu_new"}, {"rope_theta", 10000.0}});
  }
  std::ofstream(dir / "config.json") << config.dump(2);
  for (const char* file : {"vocab.json", "merges.txt", "added_tokens.json", "tokenizer_config.json", "special_tokens_map.json"}) {
    fs::copy_file(bundled_model_dir() / file, dir / file, fs::copy_options::overwrite_existing);
  }
}

}  // namespace lumen::testing
