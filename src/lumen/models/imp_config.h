// Imp's config.json (MILVLG/imp-v1-3b and checkpoints that follow its rules), in both key
// styles: current HF (`hidden_size`, `num_hidden_layers`, `partial_rotary_factor`, ...) and the
// legacy phi-msft style (`n_embd`, `n_layer`, `rotary_dim`, ...). LLM keys absent for
// `model_type: imp` take Phi-2's values, as ImpConfig's defaults do.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "lumen/core/activation.h"
#include "lumen/vision/image_preprocess.h"  // ImageAspect

namespace lumen {

struct SiglipVisionConfig {
  int64_t hidden_size = 1152;
  int64_t intermediate_size = 4304;
  int64_t num_layers = 27;
  int64_t num_heads = 16;
  int64_t num_channels = 3;
  int64_t image_size = 384;
  int64_t patch_size = 14;
  double layer_norm_eps = 1e-6;
  Activation activation = Activation::kGeluTanh;

  int64_t patches_per_side() const { return image_size / patch_size; }
  int64_t num_patches() const { return patches_per_side() * patches_per_side(); }
  int64_t head_dim() const { return hidden_size / num_heads; }
};

struct PhiConfig {
  int64_t hidden_size = 2560;
  int64_t intermediate_size = 10240;
  int64_t num_layers = 32;
  int64_t num_heads = 32;
  int64_t num_kv_heads = 32;
  int64_t rotary_dim = 32;  // partial_rotary_factor 0.4 of head_dim 80
  int64_t vocab_size = 51200;
  int64_t max_positions = 3072;
  double layer_norm_eps = 1e-5;  // LayerNorm's eps (Phi), or RMSNorm's (rms_norm_eps: Phi-3, Qwen2)
  double rope_theta = 10000.0;
  Activation activation = Activation::kGeluTanh;
  // Phi-3's sliding_window (Qwen2's when use_sliding_window): keys more than this many positions
  // behind a query would be masked. Lumen has no windowed attention, so max_positions is capped
  // at it instead (no position ever reaches the window). 0: none.
  int64_t sliding_window = 0;

  int64_t head_dim() const { return hidden_size / num_heads; }
};

enum class WeightLayout { kHf, kPhiMsft };  // model.* vs transformer.* with fused Wqkv
// "model" or "transformer": the root the vision tower and projector sit under.
inline const char* imp_checkpoint_root(WeightLayout layout) {
  return layout == WeightLayout::kPhiMsft ? "transformer" : "model";
}

struct ImpConfig {
  SiglipVisionConfig vision;
  PhiConfig text;
  int64_t vision_select_layer = -2;  // mm_vision_select_layer
  int64_t vision_layers_to_run = 26; // derived: L + s + 1 for s < 0, s for s >= 0
  int64_t projector_depth = 2;       // mlp{N}x_gelu; 1 means a single Linear ("linear")
  std::string projector_type = "mlp2x_gelu";
  int32_t image_token_id = 50296;
  std::vector<int32_t> eos_token_ids = {50295};
  int32_t pad_token_id = 50256;
  std::string model_type = "imp";
  std::vector<std::string> architectures;
  std::string family = "imp";  // models/registry's name for it
  std::string torch_dtype = "float16";
  ImageAspect image_aspect = ImageAspect::kSquare;  // config.json "image_aspect_ratio" (square, pad)
  // Keys of config.json (and "vision_tower_config.KEY") that Lumen neither reads nor knows
  // to be irrelevant to inference; `lumen info` lists them.
  std::vector<std::string> unrecognised_keys;
};

// How Lumen treats each config.json key it knows (the README's table is made from these).
struct ConfigKeyPolicy {
  std::vector<std::string> read;      // change the computation; implemented
  std::vector<std::string> ignored;   // do not change inference (training, dropout, bookkeeping)
  std::vector<std::string> refused;   // refused at load unless they hold their neutral value
};
const ConfigKeyPolicy& imp_config_key_policy();

// Parses config.json text. Throws Error naming the problem (unsupported architecture or
// projector, sizes out of range, select layer out of range, a key that changes the
// computation in a way Lumen does not implement, named with its value).
ImpConfig parse_imp_config(const std::string& json_text, const std::string& label = "config.json");
// Parses a SigLIP vision config object (Imp's vision_tower_config, or SiglipModel's
// vision_config) over `out`'s defaults. Throws Error naming the problem.
void parse_siglip_vision_config(const nlohmann::json& object, const std::string& label, SiglipVisionConfig* out);

// Reads DIR/config.json, then DIR/generation_config.json (its eos_token_id wins) if present.
ImpConfig load_imp_config(const std::filesystem::path& model_dir);

}  // namespace lumen
