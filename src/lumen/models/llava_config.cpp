#include "lumen/models/llava_config.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <nlohmann/json.hpp>

#include "lumen/core/error.h"
#include "lumen/formats/json_util.h"

namespace lumen {

namespace {

using json_util::get_int;
using json_util::get_number;
using json_util::get_string;

constexpr int64_t kMaxVocab = 1 << 22;
constexpr int64_t kMaxLayers = 1024;
constexpr int64_t kMaxImageSide = 4096;

const char* const kReadKeys[] = {"model_type", "architectures", "vision_config", "text_config",
                                 "vision_feature_layer", "vision_feature_select_strategy", "projector_hidden_act",
                                 "image_token_index", "image_token_id", "image_seq_length",
                                 "multimodal_projector_bias", "pad_token_id", "torch_dtype", "dtype"};
const char* const kIgnoredKeys[] = {"_name_or_path", "transformers_version", "use_cache", "ignore_index",
                                    // the legacy top-level copy of text_config's
                                    "vocab_size"};
const char* const kRefusedKeys[] = {"tie_word_embeddings"};
const char* const kVisionReadKeys[] = {"model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
                                       "num_attention_heads", "num_channels", "image_size", "patch_size",
                                       "layer_norm_eps", "hidden_act"};
const char* const kVisionIgnoredKeys[] = {"projection_dim", "vocab_size", "attention_dropout", "dropout",
                                          "initializer_range", "initializer_factor", "_name_or_path", "torch_dtype",
                                          "dtype", "architectures", "transformers_version"};
const char* const kTextReadKeys[] = {"model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
                                     "num_attention_heads", "num_key_value_heads", "head_dim", "vocab_size",
                                     "max_position_embeddings", "rms_norm_eps", "rope_theta", "hidden_act",
                                     "eos_token_id"};
const char* const kTextIgnoredKeys[] = {"_name_or_path", "architectures", "torch_dtype", "dtype", "bos_token_id",
                                        "pad_token_id", "use_cache", "initializer_range", "attention_dropout",
                                        "transformers_version",
                                        // splits matmuls during pretraining; the same product at inference
                                        "pretraining_tp"};
const char* const kTextRefusedKeys[] = {"rope_scaling", "attention_bias", "mlp_bias", "tie_word_embeddings"};

template <size_t N>
bool listed(const char* const (&keys)[N], const std::string& key) {
  return std::any_of(std::begin(keys), std::end(keys), [&](const char* k) { return key == k; });
}

template <size_t R, size_t I, size_t F>
void collect_unrecognised(const nlohmann::json& object, const std::string& prefix, const char* const (&read)[R],
                          const char* const (&ignored)[I], const char* const (&refused)[F],
                          std::vector<std::string>* out) {
  for (const auto& [key, value] : object.items()) {
    if (!listed(read, key) && !listed(ignored, key) && !listed(refused, key)) out->push_back(prefix + key);
  }
}

const nlohmann::json* present(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() || it->is_null() ? nullptr : &*it;
}

// Refuses `key` unless absent, null or false.
void refuse_true(const nlohmann::json& object, const char* key, const std::string& label, const char* why) {
  if (const nlohmann::json* v = present(object, key); v && !(v->is_boolean() && !v->get<bool>())) {
    fail(label, ": ", key, " = ", v->dump(), " is not supported: ", why);
  }
}

const nlohmann::json& sub_object(const nlohmann::json& c, const char* key, const std::string& label) {
  static const nlohmann::json kEmpty = nlohmann::json::object();
  const nlohmann::json* v = present(c, key);
  if (v == nullptr) return kEmpty;
  if (!v->is_object()) fail(label, ": '", key, "' must be an object");
  return *v;
}

// CLIPVisionConfig's defaults (ViT-B/32), which transformers applies to the keys a
// vision_config leaves out; without any vision_config, LlavaConfig's own (ViT-L/14-336).
SiglipVisionConfig clip_defaults(bool config_given) {
  SiglipVisionConfig v;
  v.hidden_size = config_given ? 768 : 1024;
  v.intermediate_size = config_given ? 3072 : 4096;
  v.num_layers = config_given ? 12 : 24;
  v.num_heads = config_given ? 12 : 16;
  v.num_channels = 3;
  v.image_size = config_given ? 224 : 336;
  v.patch_size = config_given ? 32 : 14;
  v.layer_norm_eps = 1e-5;
  v.activation = Activation::kQuickGelu;
  v.class_token = true;
  v.patch_bias = false;
  v.pre_layernorm = true;
  return v;
}

// LlamaConfig's defaults (Llama-2-7B's sizes).
PhiConfig llama_defaults() {
  PhiConfig t;
  t.hidden_size = 4096;
  t.intermediate_size = 11008;
  t.num_layers = 32;
  t.num_heads = t.num_kv_heads = 32;
  t.vocab_size = 32000;
  t.max_positions = 2048;
  t.layer_norm_eps = 1e-6;
  t.rope_theta = 10000.0;
  t.activation = Activation::kSilu;
  return t;
}

std::array<float, 3> read_triple(const nlohmann::json& p, const char* key, const std::string& label,
                                 std::array<float, 3> fallback) {
  const nlohmann::json* v = present(p, key);
  if (v == nullptr) return fallback;
  if (!v->is_array() || v->size() != 3 || !std::all_of(v->begin(), v->end(), [](const auto& x) { return x.is_number(); })) {
    fail(label, ": '", key, "' must be a list of 3 numbers (one per RGB channel)");
  }
  return {(*v)[0].get<float>(), (*v)[1].get<float>(), (*v)[2].get<float>()};
}

bool read_flag(const nlohmann::json& p, const char* key, const std::string& label, bool fallback) {
  const nlohmann::json* v = present(p, key);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) fail(label, ": '", key, "' must be true or false");
  return v->get<bool>();
}

// The OpenAI CLIP normalisation (CLIPImageProcessor's defaults, OPENAI_CLIP_MEAN / _STD).
constexpr std::array<float, 3> kClipMean = {0.48145466f, 0.4578275f, 0.40821073f};
constexpr std::array<float, 3> kClipStd = {0.26862954f, 0.26130258f, 0.27577711f};

}  // namespace

void parse_llava_config(const nlohmann::json& c, const std::string& label, const ModelFamily& family,
                        ImpConfig* out) {
  ImpConfig& config = *out;
  const nlohmann::json& vision = sub_object(c, "vision_config", label);
  const nlohmann::json& text = sub_object(c, "text_config", label);
  collect_unrecognised(c, "", kReadKeys, kIgnoredKeys, kRefusedKeys, &config.unrecognised_keys);
  collect_unrecognised(vision, "vision_config.", kVisionReadKeys, kVisionIgnoredKeys, kRefusedKeys,
                       &config.unrecognised_keys);
  collect_unrecognised(text, "text_config.", kTextReadKeys, kTextIgnoredKeys, kTextRefusedKeys,
                       &config.unrecognised_keys);
  refuse_true(c, "tie_word_embeddings", label, "Lumen reads LLaVA's separate lm_head");
  const std::string text_label = label + " text_config";
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    refuse_true(text, key, text_label, "Lumen's Llama layer has no biases");
  }
  refuse_true(text, "tie_word_embeddings", text_label, "Lumen reads LLaVA's separate lm_head");
  if (const nlohmann::json* v = present(text, "rope_scaling")) {
    fail(text_label, ": rope_scaling = ", v->dump(), " is not supported: Lumen implements unscaled rotary embeddings only");
  }

  // The vision tower: CLIP, cut at vision_feature_layer.
  config.vision = clip_defaults(present(c, "vision_config") != nullptr);
  parse_vision_tower_config(vision, label + " vision_config", "clip_vision_model", &config.vision);
  const nlohmann::json* feature_layer = present(c, "vision_feature_layer");
  if (feature_layer != nullptr && feature_layer->is_array()) {
    fail(label, ": vision_feature_layer = ", feature_layer->dump(),
         " is not supported: features concatenated from several layers are not implemented");
  }
  config.vision_select_layer = get_int(c, {"vision_feature_layer"}, label, -kMaxLayers, kMaxLayers).value_or(-2);
  const int64_t layers = config.vision.num_layers;
  // hidden_states[k] is the output after k layers ([0]: after pre_layrnorm), so a negative
  // index s means L + 1 + s layers. At least one layer runs, as for Imp (no checkpoint takes
  // features from below the first layer).
  const int64_t run = config.vision_select_layer < 0 ? layers + 1 + config.vision_select_layer : config.vision_select_layer;
  if (run < 1 || run > layers) {
    fail(label, ": vision_feature_layer ", config.vision_select_layer, " is out of range for a tower of ", layers,
         " layers");
  }
  config.vision_layers_to_run = run;
  const std::string strategy = get_string(c, {"vision_feature_select_strategy"}, label).value_or("default");
  if (strategy != "default" && strategy != "full") {
    fail(label, ": vision_feature_select_strategy \"", strategy, "\" is not supported (default, full)");
  }
  config.vision.keep_class_feature = strategy == "full";

  // The projector: linear_1 -> GELU -> linear_2.
  const std::string act = get_string(c, {"projector_hidden_act"}, label).value_or("gelu");
  if (act != "gelu") fail(label, ": projector_hidden_act \"", act, "\" is not supported (gelu)");
  config.projector_type = "llava";
  config.projector_depth = 2;
  if (const nlohmann::json* v = present(c, "multimodal_projector_bias")) {
    if (!v->is_boolean()) fail(label, ": 'multimodal_projector_bias' must be true or false");
    config.projector_bias = v->get<bool>();
  }

  // The decoder: Llama.
  if (auto type = get_string(text, {"model_type"}, text_label); type && *type != "llama") {
    fail(text_label, ": decoder '", *type, "' is not supported for LLaVA (llama)");
  }
  config.text = llama_defaults();
  parse_text_config(text, text_label, family.decoder.default_rotary_fraction, &config.text);
  if (auto head_dim = get_int(text, {"head_dim"}, text_label, 1, 1 << 16); head_dim && *head_dim != config.text.head_dim()) {
    fail(text_label, ": head_dim ", *head_dim, " differs from hidden_size / num_attention_heads = ",
         config.text.head_dim(), " (not supported)");
  }
  config.eos_token_ids = {2};  // LlamaConfig's
  if (const nlohmann::json* eos = present(text, "eos_token_id")) {
    config.eos_token_ids.clear();
    for (const nlohmann::json& id : eos->is_array() ? *eos : nlohmann::json::array({*eos})) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= kMaxVocab) {
        fail(text_label, ": 'eos_token_id' must be a token id or a list of token ids");
      }
      config.eos_token_ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
  }

  config.image_token_id = static_cast<int32_t>(
      get_int(c, {"image_token_index", "image_token_id"}, label, 0, kMaxVocab).value_or(config.image_token_id));
  config.pad_token_id = static_cast<int32_t>(get_int(c, {"pad_token_id"}, label, 0, kMaxVocab).value_or(0));
  config.torch_dtype =
      get_string(c, {"torch_dtype", "dtype"}, label).value_or(get_string(text, {"torch_dtype", "dtype"}, text_label).value_or("float16"));
  config.prompt_expands_images = true;
  if (auto seq = get_int(c, {"image_seq_length"}, label, 1, kMaxImageSide * kMaxImageSide);
      seq && *seq != config.tokens_per_image()) {
    fail(label, ": image_seq_length ", *seq, " differs from the ", config.tokens_per_image(),
         " features the vision tower gives per image");
  }
  // Until preprocessor_config.json says otherwise: LLaVA-1.5's processor.
  config.image_processor.resize = ImageProcessorConfig::Resize::kShortestEdgeCrop;
  config.image_processor.shortest_edge = config.vision.image_size;
  config.image_processor.crop_width = config.image_processor.crop_height = config.vision.image_size;
  config.image_processor.mean = kClipMean;
  config.image_processor.std = kClipStd;
}

void parse_clip_image_processor(const nlohmann::json& p, const std::string& label, ImpConfig* out) {
  if (!p.is_object()) fail(label, ": expected a JSON object");
  ImageProcessorConfig& ip = out->image_processor;
  if (auto type = get_string(p, {"image_processor_type"}, label);
      type && *type != "CLIPImageProcessor" && *type != "CLIPImageProcessorFast") {
    fail(label, ": image processor '", *type, "' is not supported (CLIPImageProcessor)");
  }
  if (!read_flag(p, "do_resize", label, true)) fail(label, ": do_resize false is not supported");
  if (const nlohmann::json* size = present(p, "size")) {
    if (size->is_number_integer()) {
      ip.shortest_edge = get_int(p, {"size"}, label, 1, kMaxImageSide).value();
    } else if (size->is_object() && size->contains("shortest_edge")) {
      ip.shortest_edge = get_int(*size, {"shortest_edge"}, label + " size", 1, kMaxImageSide).value();
    } else {
      fail(label, ": size = ", size->dump(), " is not supported (only {\"shortest_edge\": N})");
    }
  }
  if (auto resample = get_int(p, {"resample"}, label, 0, 5); resample && *resample != 3) {
    fail(label, ": resample ", *resample, " is not supported (3, bicubic)");
  }
  if (!read_flag(p, "do_center_crop", label, true)) fail(label, ": do_center_crop false is not supported");
  if (const nlohmann::json* crop = present(p, "crop_size")) {
    if (crop->is_number_integer()) {
      ip.crop_width = ip.crop_height = get_int(p, {"crop_size"}, label, 1, kMaxImageSide).value();
    } else if (crop->is_object()) {
      ip.crop_height = get_int(*crop, {"height"}, label + " crop_size", 1, kMaxImageSide).value_or(ip.crop_height);
      ip.crop_width = get_int(*crop, {"width"}, label + " crop_size", 1, kMaxImageSide).value_or(ip.crop_width);
    } else {
      fail(label, ": 'crop_size' must be a number or {\"height\", \"width\"}");
    }
  }
  const int64_t side = out->vision.image_size;
  if (ip.crop_width != side || ip.crop_height != side) {
    fail(label, ": crop_size ", ip.crop_width, "x", ip.crop_height, " differs from the vision tower's image_size ",
         side, " (its position table is for ", side, "x", side, ")");
  }
  if (std::max(ip.crop_width, ip.crop_height) > ip.shortest_edge) {
    fail(label, ": crop_size ", ip.crop_width, "x", ip.crop_height, " is larger than size.shortest_edge ",
         ip.shortest_edge, " (padding the crop is not implemented)");
  }
  const bool rescale = read_flag(p, "do_rescale", label, true);
  const double factor = get_number(p, {"rescale_factor"}, label).value_or(1.0 / 255.0);
  if (!rescale || std::fabs(factor - 1.0 / 255.0) > 1e-12) {
    fail(label, ": only do_rescale with rescale_factor 1/255 is supported");
  }
  if (read_flag(p, "do_normalize", label, true)) {
    ip.mean = read_triple(p, "image_mean", label, kClipMean);
    ip.std = read_triple(p, "image_std", label, kClipStd);
    for (float s : ip.std) {
      if (!(s > 0.0f)) fail(label, ": image_std values must be positive");
    }
  } else {
    ip.mean = {0.0f, 0.0f, 0.0f};
    ip.std = {1.0f, 1.0f, 1.0f};
  }
}

const ConfigKeyPolicy& llava_config_key_policy() {
  static const ConfigKeyPolicy policy = [] {
    ConfigKeyPolicy p;
    p.read.assign(std::begin(kReadKeys), std::end(kReadKeys));
    for (const char* k : kVisionReadKeys) p.read.push_back(std::string("vision_config.") + k);
    for (const char* k : kTextReadKeys) p.read.push_back(std::string("text_config.") + k);
    p.ignored.assign(std::begin(kIgnoredKeys), std::end(kIgnoredKeys));
    for (const char* k : kVisionIgnoredKeys) p.ignored.push_back(std::string("vision_config.") + k);
    for (const char* k : kTextIgnoredKeys) p.ignored.push_back(std::string("text_config.") + k);
    p.refused.assign(std::begin(kRefusedKeys), std::end(kRefusedKeys));
    for (const char* k : kTextRefusedKeys) p.refused.push_back(std::string("text_config.") + k);
    return p;
  }();
  return policy;
}

}  // namespace lumen
