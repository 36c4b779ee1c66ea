#include "lumen/models/siglip_dual.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "lumen/core/error.h"
#include "lumen/core/mapped_file.h"
#include "lumen/formats/json_util.h"
#include "lumen/kernels/cpu/attention.h"
#include "lumen/kernels/cpu/elementwise.h"
#include "lumen/kernels/cpu/vector_ops.h"
#include "lumen/models/weight_loading.h"
#include "lumen/vision/image_preprocess.h"

namespace lumen {

namespace {

using json_util::get_int;
using json_util::get_number;
using json_util::get_string;

constexpr int64_t kMaxWidth = 65536;

void parse_text_config(const nlohmann::json& t, const std::string& label, SiglipTextConfig* out) {
  if (auto model_type = get_string(t, {"model_type"}, label); model_type && *model_type != "siglip_text_model") {
    fail(label, ": text model '", *model_type, "' is not supported (expected siglip_text_model)");
  }
  out->vocab_size = get_int(t, {"vocab_size"}, label, 1, 1 << 22).value_or(out->vocab_size);
  out->hidden_size = get_int(t, {"hidden_size"}, label, 1, kMaxWidth).value_or(out->hidden_size);
  out->intermediate_size = get_int(t, {"intermediate_size"}, label, 1, 4 * kMaxWidth).value_or(out->intermediate_size);
  out->num_layers = get_int(t, {"num_hidden_layers"}, label, 1, 1024).value_or(out->num_layers);
  out->num_heads = get_int(t, {"num_attention_heads"}, label, 1, 4096).value_or(out->num_heads);
  out->max_positions = get_int(t, {"max_position_embeddings"}, label, 1, 1 << 16).value_or(out->max_positions);
  out->projection_size = get_int(t, {"projection_size"}, label, 1, kMaxWidth).value_or(out->hidden_size);
  out->layer_norm_eps = get_number(t, {"layer_norm_eps"}, label).value_or(out->layer_norm_eps);
  if (auto act = get_string(t, {"hidden_act"}, label)) out->activation = parse_activation(*act, label);
  if (out->hidden_size % out->num_heads != 0) {
    fail(label, ": hidden_size ", out->hidden_size, " is not divisible by num_attention_heads ", out->num_heads);
  }
  if (!(out->layer_norm_eps > 0)) fail(label, ": layer_norm_eps must be positive");
}

}  // namespace

SiglipDualConfig parse_siglip_dual_config(const std::string& json_text, const std::string& label) {
  const nlohmann::json c = json_util::parse(json_text, label);
  if (!c.is_object()) fail(label, ": expected a JSON object");
  const auto model_type = get_string(c, {"model_type"}, label);
  if (!model_type || *model_type != "siglip") {
    fail(label, ": model_type '", model_type.value_or(""), "' is not a SigLIP dual encoder (expected \"siglip\")");
  }
  SiglipDualConfig config;
  // HF SiglipVisionConfig defaults (base patch16-224), not Imp's so400m ones.
  config.vision.hidden_size = 768;
  config.vision.intermediate_size = 3072;
  config.vision.num_layers = 12;
  config.vision.num_heads = 12;
  config.vision.image_size = 224;
  config.vision.patch_size = 16;
  for (const char* key : {"text_config", "vision_config"}) {
    if (auto it = c.find(key); it != c.end() && !it->is_null() && !it->is_object()) {
      fail(label, ": '", key, "' must be an object");
    }
  }
  if (auto it = c.find("text_config"); it != c.end() && it->is_object()) {
    parse_text_config(*it, label + " text_config", &config.text);
  } else {
    config.text.projection_size = config.text.hidden_size;
  }
  if (auto it = c.find("vision_config"); it != c.end() && it->is_object()) {
    parse_siglip_vision_config(*it, label + " vision_config", &config.vision);
  }
  // The image and text embeddings are compared directly: both must live in one space.
  if (config.vision.hidden_size != config.text.projection_size) {
    fail(label, ": the vision tower's hidden_size ", config.vision.hidden_size,
         " differs from the text projection_size ", config.text.projection_size);
  }
  return config;
}

bool is_siglip_dual_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  const auto path = dir / "config.json";
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  try {
    const nlohmann::json c = json_util::parse(read_text_file(path, 16u << 20), path.string());
    return c.is_object() && get_string(c, {"model_type"}, path.string()).value_or("") == "siglip";
  } catch (const Error&) {
    return false;
  }
}

std::unique_ptr<SiglipDualEncoder> SiglipDualEncoder::load(const std::filesystem::path& dir) {
  std::error_code ec;
  const auto config_path = dir / "config.json";
  if (!std::filesystem::exists(config_path, ec)) {
    fail_kind(ErrorKind::kNotFound, "no model in ", dir.string(), ": config.json is missing");
  }
  auto model = std::unique_ptr<SiglipDualEncoder>(new SiglipDualEncoder());
  model->config_ = parse_siglip_dual_config(read_text_file(config_path, 16u << 20), config_path.string());
  model->store_ = TensorStore::open_dir(dir);
  const TensorStore& store = *model->store_;
  const SiglipDualConfig& c = model->config_;
  model->tokenizer_ = SiglipTextTokenizer::load(dir, c.text.max_positions);
  model->text_ = SiglipTextTower::load(store, "text_model", c.text);
  model->vision_ = SiglipVisionTower::load(store, "vision_model", c.vision, c.vision.num_layers);

  const int64_t d = c.vision.hidden_size;
  model->post_layernorm_ = load_layer_norm(store, "vision_model.post_layernorm", d, c.vision.layer_norm_eps);
  SiglipPoolingHead& head = model->head_;
  const std::string h = "vision_model.head";
  head.probe = load_dense(store, h + ".probe", {1, 1, d});
  const WeightMatrix in_proj = load_matrix(store, h + ".attention.in_proj_weight", 3 * d, d);
  const std::vector<float> in_bias = load_vector(store, h + ".attention.in_proj_bias", 3 * d);
  Linear* qkv[3] = {&head.q_proj, &head.k_proj, &head.v_proj};
  for (int64_t i = 0; i < 3; ++i) {
    qkv[i]->weight = slice_rows(in_proj, i * d, d);
    qkv[i]->bias.assign(in_bias.begin() + i * d, in_bias.begin() + (i + 1) * d);
  }
  head.out_proj = load_linear(store, h + ".attention.out_proj", d, d);
  head.layernorm = load_layer_norm(store, h + ".layernorm", d, c.vision.layer_norm_eps);
  head.fc1 = load_linear(store, h + ".mlp.fc1", c.vision.intermediate_size, d);
  head.fc2 = load_linear(store, h + ".mlp.fc2", d, c.vision.intermediate_size);
  model->logit_scale_ = load_vector(store, "logit_scale", 1)[0];
  model->logit_bias_ = load_vector(store, "logit_bias", 1)[0];
  return model;
}

std::vector<float> SiglipDualEncoder::preprocess(const Image& image) const {
  // SiglipImageProcessor squash-resizes (no padding); the decoder already held the image to its
  // pixel limit.
  return siglip_pixels(image, static_cast<int>(config_.vision.image_size), ImageAspect::kSquare,
                       std::numeric_limits<uint64_t>::max());
}

std::vector<float> SiglipDualEncoder::pool(const std::vector<float>& hidden, int64_t n_images) const {
  const SiglipVisionConfig& c = config_.vision;
  const int64_t d = c.hidden_size;
  const int64_t patches = c.num_patches();
  const int64_t tokens = n_images * patches;
  // normed, k, v: [tokens, d]; q (the probe, identical for every image), attn, x: [n_images, d].
  std::vector<float> normed(static_cast<size_t>(tokens * d));
  post_layernorm_.forward(hidden.data(), tokens, normed.data());
  std::vector<float> q(static_cast<size_t>(d)), k(normed.size()), v(normed.size());
  head_.q_proj.forward(head_.probe.data(), 1, q.data());
  head_.k_proj.forward(normed.data(), tokens, k.data());
  head_.v_proj.forward(normed.data(), tokens, v.data());
  AttentionShape shape;
  shape.n_queries = 1;
  shape.n_keys = patches;
  shape.n_heads = shape.n_kv_heads = c.num_heads;
  shape.head_dim = c.head_dim();
  shape.q_stride = shape.kv_stride = shape.out_stride = d;
  shape.causal = false;
  shape.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(shape.head_dim)));
  std::vector<float> attn(static_cast<size_t>(n_images * d));
  for (int64_t i = 0; i < n_images; ++i) {
    attention(q.data(), k.data() + i * patches * d, v.data() + i * patches * d, attn.data() + i * d, shape);
  }
  std::vector<float> x(attn.size()), ln(attn.size()), mlp(static_cast<size_t>(n_images * c.intermediate_size));
  head_.out_proj.forward(attn.data(), n_images, x.data());
  head_.layernorm.forward(x.data(), n_images, ln.data());
  head_.fc1.forward(ln.data(), n_images, mlp.data());
  activation_inplace(c.activation, mlp.data(), n_images * c.intermediate_size);
  head_.fc2.forward(mlp.data(), n_images, ln.data());
  add_inplace(x.data(), ln.data(), n_images * d);
  return x;
}

std::vector<float> SiglipDualEncoder::image_features(const float* pixels, int64_t n_images) const {
  if (n_images <= 0) return {};
  return pool(vision_.forward(pixels, n_images), n_images);
}

std::vector<float> SiglipDualEncoder::text_features(const std::vector<int32_t>& ids, int64_t n_texts) const {
  if (n_texts <= 0) return {};
  if (ids.size() % static_cast<size_t>(n_texts) != 0) fail("[SiglipDual] ", ids.size(), " ids do not split into ", n_texts, " texts");
  return text_.forward(ids.data(), n_texts, static_cast<int64_t>(ids.size()) / n_texts);
}

std::vector<float> SiglipDualEncoder::embed_images(const std::vector<Image>& images) const {
  std::vector<float> pixels;
  for (const Image& image : images) {
    std::vector<float> chw = preprocess(image);
    pixels.insert(pixels.end(), chw.begin(), chw.end());
  }
  const int64_t n = static_cast<int64_t>(images.size());
  std::vector<float> out = image_features(pixels.data(), n);
  l2_normalize_rows(out.data(), n, embedding_dim());
  return out;
}

std::vector<float> SiglipDualEncoder::embed_texts(const std::vector<std::string>& texts) const {
  std::vector<int32_t> ids;
  for (const auto& text : texts) {
    std::vector<int32_t> one = tokenizer_.encode(text);
    ids.insert(ids.end(), one.begin(), one.end());
  }
  const int64_t n = static_cast<int64_t>(texts.size());
  std::vector<float> out = text_features(ids, n);
  l2_normalize_rows(out.data(), n, embedding_dim());
  return out;
}

std::vector<float> SiglipDualEncoder::logits_per_image(const std::vector<float>& image_embeds,
                                                       const std::vector<float>& text_embeds) const {
  const int64_t d = embedding_dim();
  const int64_t n_images = static_cast<int64_t>(image_embeds.size()) / d;
  const int64_t n_texts = static_cast<int64_t>(text_embeds.size()) / d;
  const float scale = std::exp(logit_scale_);
  std::vector<float> logits(static_cast<size_t>(n_images * n_texts));
  for (int64_t i = 0; i < n_images; ++i) {
    for (int64_t j = 0; j < n_texts; ++j) {
      logits[i * n_texts + j] = scale * dot(image_embeds.data() + i * d, text_embeds.data() + j * d, d) + logit_bias_;
    }
  }
  return logits;
}

}  // namespace lumen
