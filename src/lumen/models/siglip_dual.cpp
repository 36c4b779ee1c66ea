#include "lumen/models/siglip_dual.h"

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "lumen/core/error.h"
#include "lumen/core/mapped_file.h"
#include "lumen/formats/json_util.h"
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

struct SiglipDualEncoder::Compute {
  std::unique_ptr<Backend> backend = make_cpu_backend();  // first: destroyed last
  DType act = DType::kF32;
  std::unique_ptr<VisionTowerBlocks> vision;
  std::unique_ptr<SiglipTextTower> text;
  // The pooling head.
  NormBlock post_layernorm, head_norm;
  DeviceBuffer probe;           // [hidden], act
  LinearBlock q, kv, out, fc1, fc2;  // kv: in_proj rows [k; v]
  DeviceBuffer normed, query, keys_values, attn, x, ln, mlp;  // scratch
};

SiglipDualEncoder::SiglipDualEncoder() = default;
SiglipDualEncoder::~SiglipDualEncoder() = default;

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
  model->compute_ = std::make_unique<Compute>();
  Compute& k = *model->compute_;
  Backend& be = *k.backend;
  k.act = be.activation_dtype(DType::kF32, DType::kF32);
  k.text = std::make_unique<SiglipTextTower>(SiglipTextTower::load(store, "text_model", c.text, be));
  k.vision = std::make_unique<VisionTowerBlocks>(
      be, load_siglip_vision_tower(store, "vision_model", c.vision, c.vision.num_layers), k.act);

  const int64_t d = c.vision.hidden_size;
  const double eps = c.vision.layer_norm_eps;
  k.post_layernorm = upload_norm(be, {NormKind::kLayerNorm, load_layer_norm(store, "vision_model.post_layernorm", d, eps)});
  const std::string h = "vision_model.head";
  const std::vector<float> probe = load_dense(store, h + ".probe", {1, 1, d});
  k.probe = be.allocate(static_cast<size_t>(d) * dtype_size(k.act));
  const DeviceBuffer probe_f32 = upload_floats(be, probe);
  be.convert(probe_f32.data(), DType::kF32, k.probe.data(), k.act, d);
  const WeightMatrix in_proj = load_matrix(store, h + ".attention.in_proj_weight", 3 * d, d);
  const std::vector<float> in_bias = load_vector(store, h + ".attention.in_proj_bias", 3 * d);
  Linear parts[3];
  for (int64_t i = 0; i < 3; ++i) {
    parts[i].weight = slice_rows(in_proj, i * d, d);
    parts[i].bias.assign(in_bias.begin() + i * d, in_bias.begin() + (i + 1) * d);
  }
  k.q = upload_linear(be, {&parts[0]}, k.act);
  k.kv = upload_linear(be, {&parts[1], &parts[2]}, k.act);
  const Linear out = load_linear(store, h + ".attention.out_proj", d, d);
  k.out = upload_linear(be, {&out}, k.act);
  k.head_norm = upload_norm(be, {NormKind::kLayerNorm, load_layer_norm(store, h + ".layernorm", d, eps)});
  const Linear fc1 = load_linear(store, h + ".mlp.fc1", c.vision.intermediate_size, d);
  const Linear fc2 = load_linear(store, h + ".mlp.fc2", d, c.vision.intermediate_size);
  k.fc1 = upload_linear(be, {&fc1}, k.act);
  k.fc2 = upload_linear(be, {&fc2}, k.act);
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

std::vector<float> SiglipDualEncoder::image_features(const float* pixels, int64_t n_images) const {
  if (n_images <= 0) return {};
  std::lock_guard<std::mutex> lock(mutex_);
  Compute& k = *compute_;
  Backend& be = *k.backend;
  const DType act = k.act;
  const SiglipVisionConfig& c = config_.vision;
  const int64_t d = c.hidden_size, inner = c.intermediate_size;
  const int64_t patches = c.num_patches();
  const int64_t tokens = n_images * patches;
  const size_t a = dtype_size(act);
  auto grow = [&](DeviceBuffer& buffer, size_t bytes) {
    if (buffer.bytes() < bytes) buffer = be.allocate(bytes);
    return buffer.data();
  };
  const float* hidden = k.vision->run(pixels, n_images);  // [tokens, d] fp32
  // normed, keys/values: [tokens, d] and [tokens, 2d]; the query (the probe's, the same for
  // every image), attn, x: [n_images, d].
  void* normed = grow(k.normed, static_cast<size_t>(tokens * d) * a);
  apply_norm(be, k.post_layernorm, hidden, tokens, d, normed, act);
  void* query = grow(k.query, static_cast<size_t>(d) * a);
  be.linear(k.probe.data(), act, 1, k.q.weight, k.q.b(), query, act, false);
  void* kv = grow(k.keys_values, static_cast<size_t>(tokens * 2 * d) * a);
  be.linear(normed, act, tokens, k.kv.weight, k.kv.b(), kv, act, false);
  AttentionShape shape;
  shape.n_queries = 1;
  shape.n_keys = patches;
  shape.n_heads = shape.n_kv_heads = c.num_heads;
  shape.head_dim = c.head_dim();
  shape.q_stride = shape.out_stride = d;
  shape.kv_stride = 2 * d;
  shape.causal = false;
  shape.kv_dtype = act;
  shape.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(shape.head_dim)));
  void* attn = grow(k.attn, static_cast<size_t>(n_images * d) * a);
  be.attention(query, kv, offset_by(kv, d, act), attn, act, shape, n_images, 0, patches * 2 * d, d);
  auto* x = static_cast<float*>(grow(k.x, static_cast<size_t>(n_images * d) * sizeof(float)));
  be.linear(attn, act, n_images, k.out.weight, k.out.b(), x, DType::kF32, false);
  void* ln = grow(k.ln, static_cast<size_t>(n_images * d) * a);
  apply_norm(be, k.head_norm, x, n_images, d, ln, act);
  void* mlp = grow(k.mlp, static_cast<size_t>(n_images * inner) * a);
  be.linear(ln, act, n_images, k.fc1.weight, k.fc1.b(), mlp, act, false);
  be.activation(c.activation, mlp, act, n_images * inner);
  be.linear(mlp, act, n_images, k.fc2.weight, k.fc2.b(), x, DType::kF32, true);
  std::vector<float> features(static_cast<size_t>(n_images * d));
  be.copy_to_host(features.data(), x, features.size() * sizeof(float));
  return features;
}

std::vector<float> SiglipDualEncoder::text_features(const std::vector<int32_t>& ids, int64_t n_texts) const {
  if (n_texts <= 0) return {};
  if (ids.size() % static_cast<size_t>(n_texts) != 0) fail("[SiglipDual] ", ids.size(), " ids do not split into ", n_texts, " texts");
  std::lock_guard<std::mutex> lock(mutex_);
  return compute_->text->forward(ids.data(), n_texts, static_cast<int64_t>(ids.size()) / n_texts);
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
