#include "models/synthetic_checkpoint.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <vector>

#include "lumen/core/error.h"
#include "lumen/formats/safetensors.h"
#include "lumen/kernels/cpu/quantize.h"
#include "lumen/models/imp_config.h"
#include "lumen/models/imp_tensors.h"
#include "test_data.h"

namespace lumen::testing {

namespace fs = std::filesystem;

namespace {

constexpr int kVocab = 51200;

struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

// config.json for the spec, with `kv_heads` key-value heads (the stored count, or the grouped
// one the values are drawn for).
nlohmann::json config_json(const SyntheticImpSpec& s, int kv_heads) {
  const int head_dim = s.hidden / s.heads;
  if (s.family == "llava") {
    return {{"architectures", {"LlavaForConditionalGeneration"}},
            {"model_type", "llava"},
            {"image_token_index", 50296},
            {"projector_hidden_act", "gelu"},
            {"vision_feature_layer", s.select_layer},
            {"vision_feature_select_strategy", s.llava_keep_class_feature ? "full" : "default"},
            {"vision_config",
             {{"hidden_size", s.vision_hidden}, {"image_size", s.image_size}, {"intermediate_size", s.vision_intermediate},
              {"model_type", "clip_vision_model"}, {"num_attention_heads", s.vision_heads},
              {"num_hidden_layers", s.vision_layers}, {"patch_size", s.patch_size}}},
            {"text_config",
             {{"model_type", "llama"}, {"hidden_size", s.hidden}, {"intermediate_size", s.intermediate},
              {"num_attention_heads", s.heads}, {"num_key_value_heads", kv_heads}, {"num_hidden_layers", s.layers},
              {"vocab_size", kVocab}, {"max_position_embeddings", 512}, {"rms_norm_eps", 1e-5},
              {"eos_token_id", 50295}}}};
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
      {"vocab_size", kVocab},
      {"vision_tower_config",
       {{"hidden_act", "gelu_pytorch_tanh"}, {"hidden_size", s.vision_hidden}, {"image_size", s.image_size},
        {"intermediate_size", s.vision_intermediate}, {"layer_norm_eps", 1e-6}, {"model_type", "siglip_vision_model"},
        {"num_attention_heads", s.vision_heads}, {"num_channels", 3}, {"num_hidden_layers", s.vision_layers},
        {"patch_size", s.patch_size}}}};
  if (s.family != "imp") {
    const bool phi3 = s.family == "imp_phi3";
    config.update({{"model_type", s.family}, {"architectures", {phi3 ? "ImpPhi3ForCausalLM" : "ImpQwen2ForCausalLM"}},
                   {"hidden_size", s.hidden}, {"num_attention_heads", s.heads}, {"num_key_value_heads", kv_heads},
                   {"intermediate_size", s.intermediate}, {"num_hidden_layers", s.layers},
                   {"max_position_embeddings", 512}, {"rms_norm_eps", phi3 ? 1e-5 : 1e-6}, {"hidden_act", "silu"},
                   {"rope_theta", phi3 ? 10000.0 : 1000000.0}, {"tie_word_embeddings", false}});
    if (phi3) config["sliding_window"] = 2047;
  } else if (s.legacy_layout) {
    config.update({{"n_embd", s.hidden}, {"n_head", s.heads}, {"n_head_kv", kv_heads}, {"n_inner", s.intermediate},
                   {"n_layer", s.layers}, {"n_positions", 512}, {"rotary_dim", static_cast<int>(s.partial_rotary_factor * head_dim) / 2 * 2},
                   {"layer_norm_epsilon", 1e-5}, {"activation_function", "gelu_new"}});
  } else {
    config.update({{"hidden_size", s.hidden}, {"num_attention_heads", s.heads}, {"num_key_value_heads", kv_heads},
                   {"intermediate_size", s.intermediate}, {"num_hidden_layers", s.layers},
                   {"max_position_embeddings", 512}, {"partial_rotary_factor", s.partial_rotary_factor},
                   {"layer_norm_eps", 1e-5}, {"hidden_act", "gelu_new"}, {"rope_theta", 10000.0}});
  }
  return config;
}

// The tensor table (models/imp_tensors.h) of `c` in `layout`, plus the vision tower's
// post_layernorm: real Imp checkpoints hold it, Imp does not use it (so it is not in the table),
// and the loader must ignore it. It goes right after the vision layers.
std::vector<TensorSpec> checkpoint_specs(const ImpConfig& c, WeightLayout layout) {
  std::vector<TensorSpec> specs = imp_tensor_specs(c, layout);
  const std::string& first = specs.front().name;  // VISION.embeddings.patch_embedding.weight
  const std::string vision = first.substr(0, first.find(".embeddings."));
  auto after = specs.begin();
  for (auto it = specs.begin(); it != specs.end(); ++it) {
    if (it->name.starts_with(vision + ".")) after = it + 1;
  }
  const int64_t d = c.vision.hidden_size;
  specs.insert(after, {{vision + ".post_layernorm.weight", {d}}, {vision + ".post_layernorm.bias", {d}}});
  return specs;
}

// Draws a spec's values in the HF layout, in table order: matrices ~ N(0, 1/in), biases and norm
// shifts ~ N(0, 0.1), norm scales ~ 1 + N(0, 0.1), patch embedding ~ N(0, 0.05), position
// embeddings ~ N(0, 0.5), token embeddings ~ N(0, 1). Every value is rounded to bf16 so F32,
// F16 and BF16 storage hold identical values.
struct ValueDrawer {
  std::mt19937 rng;
  std::vector<float> random(size_t n, float scale) {
    std::normal_distribution<float> normal(0.0f, scale);
    std::vector<float> v(n);
    for (float& x : v) x = bf16_to_f32(f32_to_bf16(normal(rng)));
    return v;
  }
  std::vector<float> draw(const TensorSpec& spec) {
    size_t n = 1;
    for (int64_t dim : spec.shape) n *= static_cast<size_t>(dim);
    const bool weight = spec.name.ends_with(".weight");
    if (spec.shape.size() == 1) {
      if (!weight) return random(n, 0.1f);
      std::vector<float> gamma = random(n, 0.1f);  // the only 1-D weights are norm scales
      for (float& x : gamma) x = bf16_to_f32(f32_to_bf16(1.0f + x));
      return gamma;
    }
    if (spec.shape.size() == 4) return random(n, 0.05f);  // the patch embedding's convolution
    if (spec.name.find("position_embedding") != std::string::npos) return random(n, 0.5f);
    if (spec.name.find("embed_tokens") != std::string::npos) return random(n, 1.0f);
    return random(n, 1.0f / std::sqrt(static_cast<float>(spec.shape.back())));
  }
};

// A grouped-KV tensor ([kv_heads * head_dim] or [kv_heads * head_dim, in]) as the equivalent
// full-MHA one: each KV head serves heads / kv_heads query heads, so its rows are repeated for
// each of them.
std::vector<float> repeat_kv_heads(const std::vector<float>& values, int64_t rows, int64_t stored_rows,
                                   int64_t head_dim) {
  const size_t row = values.size() / static_cast<size_t>(rows);
  const int64_t group = stored_rows / rows;
  std::vector<float> out;
  for (int64_t h = 0; h < stored_rows / head_dim; ++h) {
    const size_t src = static_cast<size_t>(h / group * head_dim) * row;
    out.insert(out.end(), values.begin() + src, values.begin() + src + head_dim * row);
  }
  return out;
}

// The legacy layout's tensors from the HF layout's: the two tables list the same tensors in the
// same order, except that each layer's q, k and v projections (weight, bias, weight, bias, weight,
// bias) are one fused Wqkv (weight, bias) with rows [q; k; v] (models/phi.h).
std::vector<Tensor> to_legacy_layout(std::vector<Tensor> hf, const std::vector<TensorSpec>& legacy) {
  std::vector<Tensor> out;
  size_t j = 0;
  for (size_t i = 0; i < legacy.size(); ++i) {
    if (j < hf.size() && hf[j].shape == legacy[i].shape) {
      out.push_back({legacy[i].name, legacy[i].shape, std::move(hf[j++].values)});
      continue;
    }
    // legacy[i], legacy[i + 1]: Wqkv's weight and bias; hf[j .. j + 5]: q, k, v weight and bias.
    for (size_t part = 0; part < 2; ++part) {
      const TensorSpec& spec = legacy.at(i + part);
      std::vector<float> fused;
      int64_t rows = 0;
      for (size_t k = j + part; k < j + 6 && k < hf.size(); k += 2) {
        fused.insert(fused.end(), hf[k].values.begin(), hf[k].values.end());
        rows += hf[k].shape[0];
      }
      if (rows != spec.shape[0]) fail("synthetic checkpoint: no q, k, v rows for ", spec.name);
      out.push_back({spec.name, spec.shape, std::move(fused)});
    }
    i += 1;
    j += 6;
  }
  if (j != hf.size()) fail("synthetic checkpoint: the legacy table left ", hf.size() - j, " tensors unmatched");
  return out;
}

}  // namespace

void write_synthetic_imp(const fs::path& dir, const SyntheticImpSpec& s) {
  fs::create_directories(dir);
  const int stored_kv_heads = s.duplicate_kv_heads_as_mha ? s.heads : s.kv_heads;
  const nlohmann::json config = config_json(s, stored_kv_heads);
  const ImpConfig stored = parse_imp_config(config.dump(), "synthetic config.json");

  // 1. The model's values (its own KV heads, HF names), drawn in table order: every layout, file
  // arrangement and KV encoding of one seed holds the same weights.
  const ImpConfig model = parse_imp_config(config_json(s, s.kv_heads).dump(), "synthetic config.json");
  const WeightLayout layout = s.llava_nested_layout ? WeightLayout::kLlavaHfNested : default_weight_layout(model);
  std::map<std::string, std::vector<float>> drawn;
  ValueDrawer drawer{std::mt19937(s.seed)};
  for (const TensorSpec& spec : checkpoint_specs(model, layout)) drawn[spec.name] = drawer.draw(spec);

  // 2. As stored, with HF names: a K or V projection whose table rows grew (the grouped model
  // kept as full MHA) repeats each KV head's rows.
  std::vector<Tensor> tensors;
  for (const TensorSpec& spec : checkpoint_specs(stored, layout)) {
    std::vector<float> values = std::move(drawn.at(spec.name));
    int64_t row = 1;  // elements per row: the product of every dimension after the first
    for (size_t k = 1; k < spec.shape.size(); ++k) row *= spec.shape[k];
    const int64_t rows = static_cast<int64_t>(values.size()) / row;
    if (rows != spec.shape[0]) values = repeat_kv_heads(values, rows, spec.shape[0], stored.text.head_dim());
    tensors.push_back({spec.name, spec.shape, std::move(values)});
  }
  // 3. In the legacy layout: renamed, q/k/v fused.
  if (s.legacy_layout) tensors = to_legacy_layout(std::move(tensors), checkpoint_specs(stored, WeightLayout::kPhiMsft));

  // Store: every tensor in the requested dtype.
  std::vector<std::vector<uint8_t>> storage;
  std::vector<TensorToWrite> first, second;
  size_t index = 0;
  nlohmann::json weight_map = nlohmann::json::object();
  std::sort(tensors.begin(), tensors.end(), [](const Tensor& a, const Tensor& b) { return a.name < b.name; });
  for (const Tensor& t : tensors) {
    const int64_t cols = t.shape.back();
    const int64_t rows = static_cast<int64_t>(t.values.size()) / cols;
    storage.push_back(quantize_matrix(t.values.data(), rows, cols, s.dtype));
    TensorToWrite w{t.name, s.dtype, t.shape, storage.back().data(), storage.back().size()};
    const bool to_second = s.sharded && (index++ % 2 == 1);
    (to_second ? second : first).push_back(w);
    weight_map[t.name] = to_second ? "model-00002-of-00002.safetensors" : "model-00001-of-00002.safetensors";
  }
  if (s.sharded) {
    write_safetensors(dir / "model-00001-of-00002.safetensors", first);
    write_safetensors(dir / "model-00002-of-00002.safetensors", second);
    std::ofstream(dir / "model.safetensors.index.json") << nlohmann::json{{"metadata", nlohmann::json::object()}, {"weight_map", weight_map}}.dump(1);
  } else {
    write_safetensors(dir / "model.safetensors", first);
  }

  std::ofstream(dir / "config.json") << config.dump(2);
  for (const char* file : {"vocab.json", "merges.txt", "added_tokens.json", "tokenizer_config.json", "special_tokens_map.json"}) {
    fs::copy_file(bundled_model_dir() / file, dir / file, fs::copy_options::overwrite_existing);
  }
}

}  // namespace lumen::testing
