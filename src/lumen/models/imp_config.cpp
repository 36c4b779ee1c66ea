#include "lumen/models/imp_config.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <regex>

#include "lumen/core/error.h"
#include "lumen/core/mapped_file.h"
#include "lumen/formats/json_util.h"
#include "lumen/models/llava_config.h"
#include "lumen/models/registry.h"

namespace lumen {

namespace {

// Bounds that no real checkpoint of this family comes near; they stop absurd configs
// (hidden_size 10^9) from turning into huge allocations.
constexpr int64_t kMaxWidth = 65536;
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxVocab = 1 << 22;
constexpr int64_t kMaxPositions = 1 << 20;

using json_util::get_int;
using json_util::get_number;
using json_util::get_string;

// Every key of MILVLG/imp-v1-3b's config.json, of the Phi configs Imp builds on (current and
// phi-msft) and of SigLIP's vision config, sorted into what Lumen does with it. A key that is
// in none of the lists ends up in ImpConfig::unrecognised_keys.
const char* const kReadKeys[] = {
    "model_type", "architectures", "mm_projector_type", "mm_vision_select_feature", "mm_hidden_size",
    "mm_vision_select_layer", "vision_tower_config", "image_aspect_ratio", "hidden_size", "n_embd",
    "num_hidden_layers", "n_layer", "num_attention_heads", "n_head", "num_key_value_heads", "n_head_kv",
    "intermediate_size", "n_inner", "vocab_size", "max_position_embeddings", "n_positions", "layer_norm_eps",
    "layer_norm_epsilon", "rms_norm_eps", "rope_theta", "sliding_window", "use_sliding_window", "hidden_act", "activation_function", "rotary_dim", "partial_rotary_factor",
    "image_token_index", "eos_token_id", "pad_token_id", "torch_dtype", "dtype"};
const char* const kIgnoredKeys[] = {
    // bookkeeping and loading hints
    "_name_or_path", "auto_map", "transformers_version", "use_cache", "image_token", "mm_vision_tower",
    "img_processor", "bos_token_id", "tokenizer_model_max_length", "tokenizer_padding_side", "initializer_range",
    "model_max_length", "tune_mm_mlp_adapter", "freeze_mm_mlp_adapter", "mm_projector_lr", "unfreeze_vision_tower",
    "mm_vision_tower_lr", "fused_dense", "flash_attn", "flash_rotary", "checkpointing",
    // Qwen2's per-layer window switch (only with use_sliding_window); Phi-3's LongRoPE base
    // length (only with rope_scaling, which is refused)
    "max_window_layers", "original_max_position_embeddings",
    // dropout: off at inference
    "attn_pdrop", "embd_pdrop", "resid_pdrop", "attention_dropout", "hidden_dropout", "summary_first_dropout"};
// Refused unless absent, null, or their neutral value (false; "flat"; true for use_mm_proj).
const char* const kRefusedKeys[] = {"rope_scaling", "qk_layernorm", "mm_use_im_start_end", "mm_use_im_patch_token",
                                    "mm_patch_merge_type", "tie_word_embeddings", "use_mm_proj"};
const char* const kVisionReadKeys[] = {"model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
                                       "num_attention_heads", "num_channels", "image_size", "patch_size",
                                       "layer_norm_eps", "hidden_act"};
const char* const kVisionIgnoredKeys[] = {"attention_dropout", "_name_or_path", "transformers_version",
                                          "torch_dtype", "dtype", "projection_dim", "vision_use_head"};

template <size_t N>
bool listed(const char* const (&keys)[N], const std::string& key) {
  for (const char* k : keys) {
    if (key == k) return true;
  }
  return false;
}

// A value for an error message: its JSON, cut short if long.
std::string shown(const nlohmann::json& value) {
  std::string text = value.dump();
  return text.size() > 80 ? text.substr(0, 77) + "..." : text;
}

// Refuses the keys that would change the computation in ways Lumen does not implement, each
// with its value; one line each, naming the key.
void refuse_unsupported_keys(const nlohmann::json& c, const std::string& label) {
  auto refuse = [&](const char* key, const nlohmann::json& value, const char* what) {
    fail(label, ": ", key, " = ", shown(value), " is not supported: ", what);
  };
  auto present = [&](const char* key) -> const nlohmann::json* {
    auto it = c.find(key);
    return it == c.end() || it->is_null() ? nullptr : &*it;
  };
  auto is_false = [](const nlohmann::json& v) { return v.is_boolean() && !v.get<bool>(); };
  if (auto* v = present("rope_scaling")) {
    refuse("rope_scaling", *v, "Lumen implements unscaled rotary embeddings only");
  }
  if (auto* v = present("qk_layernorm"); v && !is_false(*v)) {
    refuse("qk_layernorm", *v, "Lumen's Phi layer has no LayerNorm on queries and keys");
  }
  if (auto* v = present("mm_use_im_start_end"); v && !is_false(*v)) {
    refuse("mm_use_im_start_end", *v, "images wrapped in <im_start>/<im_end> tokens are not implemented");
  }
  if (auto* v = present("mm_use_im_patch_token"); v && !is_false(*v)) {
    refuse("mm_use_im_patch_token", *v, "per-patch <im_patch> tokens are not implemented");
  }
  if (auto* v = present("mm_patch_merge_type"); v && !(v->is_string() && v->get<std::string>() == "flat")) {
    refuse("mm_patch_merge_type", *v, "only \"flat\" (one row per patch) is implemented");
  }
  if (auto* v = present("tie_word_embeddings"); v && !is_false(*v)) {
    refuse("tie_word_embeddings", *v, "Lumen reads a separate lm_head (Phi's, with its bias)");
  }
  if (auto* v = present("use_mm_proj"); v && !(v->is_boolean() && v->get<bool>())) {
    refuse("use_mm_proj", *v, "Lumen needs the multimodal projector");
  }
}

std::vector<int32_t> read_token_ids(const nlohmann::json& value, const std::string& label, const char* key) {
  std::vector<int32_t> ids;
  auto check = [&](const nlohmann::json& v) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= kMaxVocab) {
      fail(label, ": '", key, "' must be a token id or a list of token ids");
    }
    ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
  };
  if (value.is_array()) {
    for (const auto& v : value) check(v);
  } else {
    check(value);
  }
  return ids;
}

void parse_vision(const nlohmann::json& v, const std::string& l, const char* expected_type, SiglipVisionConfig* out) {
  if (auto model_type = get_string(v, {"model_type"}, l); model_type && *model_type != expected_type) {
    fail(l, ": vision tower '", *model_type, "' is not supported here (expected ", expected_type, ")");
  }
  out->hidden_size = get_int(v, {"hidden_size"}, l, 1, kMaxWidth).value_or(out->hidden_size);
  out->intermediate_size = get_int(v, {"intermediate_size"}, l, 1, 4 * kMaxWidth).value_or(out->intermediate_size);
  out->num_layers = get_int(v, {"num_hidden_layers"}, l, 1, kMaxLayers).value_or(out->num_layers);
  out->num_heads = get_int(v, {"num_attention_heads"}, l, 1, 4096).value_or(out->num_heads);
  out->num_channels = get_int(v, {"num_channels"}, l, 1, 4).value_or(out->num_channels);
  out->image_size = get_int(v, {"image_size"}, l, 1, 4096).value_or(out->image_size);
  out->patch_size = get_int(v, {"patch_size"}, l, 1, 1024).value_or(out->patch_size);
  out->layer_norm_eps = get_number(v, {"layer_norm_eps"}, l).value_or(out->layer_norm_eps);
  if (auto act = get_string(v, {"hidden_act"}, l)) out->activation = parse_activation(*act, l);
  if (out->num_channels != 3) fail(l, ": num_channels must be 3 (RGB), got ", out->num_channels);
  if (out->hidden_size % out->num_heads != 0) {
    fail(l, ": hidden_size ", out->hidden_size, " is not divisible by num_attention_heads ", out->num_heads);
  }
  // The patch conv has stride = kernel and no padding, so a remainder (384 px / patch 14 in
  // so400m) is simply dropped: 27 x 27 patches.
  if (out->image_size < out->patch_size) {
    fail(l, ": image_size ", out->image_size, " is smaller than patch_size ", out->patch_size);
  }
}

}  // namespace

// default_rotary_fraction: of head_dim, when the config names neither rotary_dim nor
// partial_rotary_factor (Phi-2 0.4; Phi-3, Qwen2, Llama 1).
void parse_text_config(const nlohmann::json& c, const std::string& label, double default_rotary_fraction,
                       PhiConfig* out) {
  out->hidden_size = get_int(c, {"hidden_size", "n_embd"}, label, 1, kMaxWidth).value_or(out->hidden_size);
  out->num_layers = get_int(c, {"num_hidden_layers", "n_layer"}, label, 1, kMaxLayers).value_or(out->num_layers);
  out->num_heads = get_int(c, {"num_attention_heads", "n_head"}, label, 1, 4096).value_or(out->num_heads);
  out->num_kv_heads = get_int(c, {"num_key_value_heads", "n_head_kv"}, label, 1, 4096).value_or(out->num_heads);
  // Legacy configs write n_inner: null to mean 4 * n_embd.
  out->intermediate_size = get_int(c, {"intermediate_size", "n_inner"}, label, 1, 4 * kMaxWidth)
                               .value_or(c.contains("n_embd") ? 4 * out->hidden_size : out->intermediate_size);
  out->vocab_size = get_int(c, {"vocab_size"}, label, 1, kMaxVocab).value_or(out->vocab_size);
  out->max_positions =
      get_int(c, {"max_position_embeddings", "n_positions"}, label, 1, kMaxPositions).value_or(out->max_positions);
  out->layer_norm_eps = get_number(c, {"layer_norm_eps", "layer_norm_epsilon", "rms_norm_eps"}, label).value_or(out->layer_norm_eps);
  out->rope_theta = get_number(c, {"rope_theta"}, label).value_or(out->rope_theta);
  if (auto act = get_string(c, {"hidden_act", "activation_function"}, label)) out->activation = parse_activation(*act, label);
  if (out->hidden_size % out->num_heads != 0) {
    fail(label, ": hidden_size ", out->hidden_size, " is not divisible by num_attention_heads ", out->num_heads);
  }
  if (out->num_heads % out->num_kv_heads != 0) {
    fail(label, ": num_attention_heads ", out->num_heads, " is not a multiple of num_key_value_heads ",
         out->num_kv_heads);
  }
  const int64_t head_dim = out->head_dim();
  if (auto rotary = get_int(c, {"rotary_dim"}, label, 0, kMaxWidth)) {
    out->rotary_dim = *rotary;
  } else if (auto factor = get_number(c, {"partial_rotary_factor"}, label)) {
    if (!(*factor >= 0.0 && *factor <= 1.0)) fail(label, ": 'partial_rotary_factor' must be in [0, 1]");
    out->rotary_dim = static_cast<int64_t>(*factor * static_cast<double>(head_dim));  // int() as in HF Phi
  } else {
    out->rotary_dim = static_cast<int64_t>(default_rotary_fraction * static_cast<double>(head_dim));
  }
  if (out->rotary_dim > head_dim || out->rotary_dim % 2 != 0) {
    fail(label, ": rotary dims ", out->rotary_dim, " must be even and at most head_dim ", head_dim);
  }
  if (!(out->layer_norm_eps > 0.0) || !(out->rope_theta > 0.0)) fail(label, ": layer_norm_eps and rope_theta must be positive");
  const auto use_window = c.find("use_sliding_window");
  const bool window_on = use_window == c.end() || use_window->is_null() || (use_window->is_boolean() && use_window->get<bool>());
  if (auto window = get_int(c, {"sliding_window"}, label, 1, kMaxPositions); window && window_on) {
    out->sliding_window = *window;
    out->max_positions = std::min(out->max_positions, *window);
  }
}

ImpConfig parse_imp_config(const std::string& json_text, const std::string& label) {
  nlohmann::json c = json_util::parse(json_text, label);
  if (!c.is_object()) fail(label, ": expected a JSON object");
  ImpConfig config;
  config.model_type = get_string(c, {"model_type"}, label).value_or("");
  if (auto arch = c.find("architectures"); arch != c.end() && arch->is_array()) {
    for (const auto& a : *arch) {
      if (a.is_string()) config.architectures.push_back(a.get<std::string>());
    }
  }
  const ModelFamily& family = find_model_family(config.model_type, config.architectures, label);
  config.family = family.name;
  config.image_token_id = family.default_image_token_id;
  if (family.nested_config) {  // LLaVA: vision_config and text_config objects
    parse_llava_config(c, label, family, &config);
    return config;
  }

  for (const auto& [key, value] : c.items()) {
    if (!listed(kReadKeys, key) && !listed(kIgnoredKeys, key) && !listed(kRefusedKeys, key)) {
      config.unrecognised_keys.push_back(key);
    }
  }
  if (auto it = c.find("vision_tower_config"); it != c.end() && it->is_object()) {
    for (const auto& [key, value] : it->items()) {
      if (!listed(kVisionReadKeys, key) && !listed(kVisionIgnoredKeys, key)) {
        config.unrecognised_keys.push_back("vision_tower_config." + key);
      }
    }
  }

  refuse_unsupported_keys(c, label);

  config.projector_type = get_string(c, {"mm_projector_type"}, label).value_or("linear");
  static const std::regex kMlpGelu(R"(^mlp([1-9][0-9]?)x_gelu$)");
  std::smatch match;
  if (config.projector_type == "linear") {
    config.projector_depth = 1;
  } else if (std::regex_match(config.projector_type, match, kMlpGelu)) {
    config.projector_depth = std::stoi(match[1].str());
  } else {
    fail(label, ": unsupported projector '", config.projector_type, "' (supported: linear, mlpNx_gelu)");
  }
  if (auto feature = get_string(c, {"mm_vision_select_feature"}, label); feature && *feature != "patch") {
    fail(label, ": mm_vision_select_feature '", *feature, "' is not supported (SigLIP has no CLS token; use \"patch\")");
  }

  if (auto it = c.find("vision_tower_config"); it != c.end() && !it->is_null()) {
    if (!it->is_object()) fail(label, ": 'vision_tower_config' must be an object");
    parse_vision(*it, label + " vision_tower_config", "siglip_vision_model", &config.vision);
  }
  const int64_t mm_hidden = get_int(c, {"mm_hidden_size"}, label, 1, kMaxWidth).value_or(config.vision.hidden_size);
  if (mm_hidden != config.vision.hidden_size) {
    fail(label, ": mm_hidden_size ", mm_hidden, " differs from the vision tower's hidden_size ",
         config.vision.hidden_size);
  }

  const int64_t layers = config.vision.num_layers;
  config.vision_select_layer = get_int(c, {"mm_vision_select_layer"}, label, -kMaxLayers, kMaxLayers).value_or(-2);
  // hidden_states[k] is the output after k encoder layers (k = 0: embeddings), so a negative
  // select s means L + 1 + s layers.
  int64_t run = config.vision_select_layer < 0 ? layers + 1 + config.vision_select_layer : config.vision_select_layer;
  if (run < 1 || run > layers) {
    fail(label, ": mm_vision_select_layer ", config.vision_select_layer, " is out of range for a tower of ", layers,
         " layers");
  }
  config.vision_layers_to_run = run;

  parse_text_config(c, label, family.decoder.default_rotary_fraction, &config.text);
  config.image_token_id = static_cast<int32_t>(
      get_int(c, {"image_token_index"}, label, 0, kMaxVocab).value_or(config.image_token_id));
  if (auto eos = c.find("eos_token_id"); eos != c.end() && !eos->is_null()) {
    config.eos_token_ids = read_token_ids(*eos, label, "eos_token_id");
  }
  config.pad_token_id = static_cast<int32_t>(get_int(c, {"pad_token_id"}, label, 0, kMaxVocab).value_or(50256));
  config.torch_dtype = get_string(c, {"torch_dtype", "dtype"}, label).value_or("float16");
  // LLaVA's process_images: "pad" runs expand2square, anything else not listed here ("anyres"
  // tiling) would need more than one view per image.
  const std::string aspect = get_string(c, {"image_aspect_ratio"}, label).value_or("square");
  if (aspect == "pad") {
    config.image_aspect = ImageAspect::kPad;
  } else if (aspect != "square") {
    fail(label, ": image_aspect_ratio = \"", aspect, "\" is not supported: Lumen implements \"square\" and \"pad\"");
  }
  return config;
}

const ConfigKeyPolicy& imp_config_key_policy() {
  static const ConfigKeyPolicy policy = [] {
    ConfigKeyPolicy p;
    p.read.assign(std::begin(kReadKeys), std::end(kReadKeys));
    for (const char* k : kVisionReadKeys) p.read.push_back(std::string("vision_tower_config.") + k);
    p.ignored.assign(std::begin(kIgnoredKeys), std::end(kIgnoredKeys));
    for (const char* k : kVisionIgnoredKeys) p.ignored.push_back(std::string("vision_tower_config.") + k);
    p.refused.assign(std::begin(kRefusedKeys), std::end(kRefusedKeys));
    return p;
  }();
  return policy;
}

void parse_siglip_vision_config(const nlohmann::json& object, const std::string& label, SiglipVisionConfig* out) {
  parse_vision(object, label, "siglip_vision_model", out);
}

void parse_vision_tower_config(const nlohmann::json& object, const std::string& label, const char* model_type,
                               SiglipVisionConfig* out) {
  parse_vision(object, label, model_type, out);
}

const char* weight_layout_name(WeightLayout layout) {
  switch (layout) {
    case WeightLayout::kHf: return "HF (model.*)";
    case WeightLayout::kPhiMsft: return "legacy phi-msft (transformer.*)";
    case WeightLayout::kLlavaHf: return "llava-hf (language_model.*, vision_tower.*, multi_modal_projector.*)";
    case WeightLayout::kLlavaHfNested: return "llava-hf nested (model.language_model.*, model.vision_tower.*)";
  }
  return "?";
}

ImpConfig load_imp_config(const std::filesystem::path& model_dir) {
  std::error_code ec;
  if (!std::filesystem::exists(model_dir, ec)) {
    fail_kind(ErrorKind::kNotFound, model_dir.string(), ": no such model directory");
  }
  const auto config_path = model_dir / "config.json";
  if (!std::filesystem::exists(config_path, ec)) {
    fail_kind(ErrorKind::kNotFound, "no model in ", model_dir.string(), ": config.json is missing");
  }
  ImpConfig config = parse_imp_config(read_text_file(config_path, 16u << 20), config_path.string());
  if (config.prompt_expands_images) {  // LLaVA: CLIPImageProcessor's settings
    const auto processor_path = model_dir / "preprocessor_config.json";
    if (std::filesystem::exists(processor_path, ec)) {
      parse_clip_image_processor(json_util::parse(read_text_file(processor_path, 1u << 20), processor_path.string()),
                                 processor_path.string(), &config);
    }
  }
  const auto gen_path = model_dir / "generation_config.json";
  if (std::filesystem::exists(gen_path, ec)) {
    nlohmann::json gen = json_util::parse(read_text_file(gen_path, 16u << 20), gen_path.string());
    if (auto eos = gen.find("eos_token_id"); gen.is_object() && eos != gen.end() && !eos->is_null()) {
      config.eos_token_ids = read_token_ids(*eos, gen_path.string(), "eos_token_id");
    }
  }
  return config;
}

}  // namespace lumen
