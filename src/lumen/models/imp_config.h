// Imp's config.json (MILVLG/imp-v1-3b and checkpoints that follow its rules), in both key
// styles: current HF (`hidden_size`, `num_hidden_layers`, `partial_rotary_factor`, ...) and the
// legacy phi-msft style (`n_embd`, `n_layer`, `rotary_dim`, ...). LLM keys absent for
// `model_type: imp` take Phi-2's values, as ImpConfig's defaults do.
#pragma once

#include <array>
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
  // CLIP (LLaVA's tower) differs from SigLIP in three places: a learned class token prepended to
  // each image's patches (position 0), a patch conv without bias, and a LayerNorm
  // (`pre_layrnorm`) before the first layer.
  bool class_token = false;
  bool patch_bias = true;
  bool pre_layernorm = false;
  // vision_feature_select_strategy "full" keeps the class row among the features; "default"
  // (and SigLIP, which has none) gives only the patch rows.
  bool keep_class_feature = false;

  int64_t patches_per_side() const { return image_size / patch_size; }
  int64_t num_patches() const { return patches_per_side() * patches_per_side(); }
  int64_t sequence_length() const { return num_patches() + (class_token ? 1 : 0); }  // rows per image
  int64_t feature_tokens() const { return num_patches() + (class_token && keep_class_feature ? 1 : 0); }
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

// How a checkpoint names its tensors. Imp: model.* (kHf) or the legacy transformer.* with fused
// Wqkv (kPhiMsft). LLaVA (llava-hf): as published, language_model.model.*,
// language_model.lm_head, vision_tower.vision_model.*, multi_modal_projector.* (kLlavaHf); as
// transformers >= 4.52 saves it, model.language_model.*, lm_head, model.vision_tower.*,
// model.multi_modal_projector.* (kLlavaHfNested).
enum class WeightLayout { kHf, kPhiMsft, kLlavaHf, kLlavaHfNested };
// "model" or "transformer": the root Imp's vision tower and projector sit under.
inline const char* imp_checkpoint_root(WeightLayout layout) {
  return layout == WeightLayout::kPhiMsft ? "transformer" : "model";
}
const char* weight_layout_name(WeightLayout layout);

// How images become pixel values (the checkpoint's image processor).
struct ImageProcessorConfig {
  // kSquash: SigLIP's processor, a bicubic resize to image_size x image_size (Imp).
  // kShortestEdgeCrop: CLIPImageProcessor, as preprocessor_config.json says: a bicubic resize
  // keeping the aspect ratio so the shorter side is `shortest_edge`, then a centre crop (LLaVA).
  enum class Resize { kSquash, kShortestEdgeCrop };
  Resize resize = Resize::kSquash;
  int64_t shortest_edge = 0;
  int64_t crop_width = 0, crop_height = 0;
  std::array<float, 3> mean = {0.5f, 0.5f, 0.5f}, std = {0.5f, 0.5f, 0.5f};
};

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
  ImageProcessorConfig image_processor;
  // LLaVA's processor writes one <image> id per feature row into the prompt; Imp's prompts hold
  // one id per image. Lumen's runtime carries one marker per image either way
  // (runtime/generator.h collapse_image_runs).
  bool prompt_expands_images = false;
  bool projector_bias = true;  // LLaVA's multimodal_projector_bias
  // Rows each image becomes in the decoder's input.
  int64_t tokens_per_image() const { return vision.feature_tokens(); }

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
// The same for any ViT tower config whose model_type, when present, is `model_type`
// ("siglip_vision_model", "clip_vision_model").
void parse_vision_tower_config(const nlohmann::json& object, const std::string& label, const char* model_type,
                               SiglipVisionConfig* out);
// Parses a decoder's keys (HF and legacy phi-msft spellings) over `out`'s defaults;
// default_rotary_fraction applies when neither rotary_dim nor partial_rotary_factor is given.
void parse_text_config(const nlohmann::json& object, const std::string& label, double default_rotary_fraction,
                       PhiConfig* out);

// Reads DIR/config.json, then DIR/generation_config.json (its eos_token_id wins) if present.
ImpConfig load_imp_config(const std::filesystem::path& model_dir);

}  // namespace lumen
