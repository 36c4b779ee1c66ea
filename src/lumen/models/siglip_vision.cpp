#include "lumen/models/siglip_vision.h"

#include "lumen/core/error.h"

namespace lumen {

namespace {

constexpr const char* kEmbeddings = ".embeddings";
constexpr const char* kPreLayerNorm = ".pre_layrnorm";  // CLIP's spelling

std::string imp_vision_prefix(WeightLayout layout) {
  return std::string(imp_checkpoint_root(layout)) + ".vision_tower.vision_tower.vision_model";
}

SiglipEncoderShape encoder_shape(const SiglipVisionConfig& c) {
  return {c.hidden_size, c.intermediate_size, c.num_heads, c.layer_norm_eps, c.activation};
}

void siglip_tensor_specs(const ImpConfig& config, WeightLayout layout, std::vector<TensorSpec>& out) {
  append_vision_tower_specs(out, imp_vision_prefix(layout), config.vision, config.vision_layers_to_run);
}

HostVisionTower load_siglip(const TensorStore& store, const ImpConfig& config, WeightLayout layout) {
  return load_siglip_vision_tower(store, imp_vision_prefix(layout), config.vision, config.vision_layers_to_run);
}

}  // namespace

const VisionFamily& siglip_vision_family() {
  static const VisionFamily family{"siglip", siglip_tensor_specs, load_siglip};
  return family;
}

void append_vision_tower_specs(std::vector<TensorSpec>& out, const std::string& prefix, const SiglipVisionConfig& v,
                               int64_t layers_to_run) {
  const std::string embeddings = prefix + kEmbeddings;
  if (v.class_token) out.push_back({embeddings + ".class_embedding", {v.hidden_size}});
  out.push_back({embeddings + ".patch_embedding.weight", {v.hidden_size, v.num_channels, v.patch_size, v.patch_size}});
  if (v.patch_bias) out.push_back({embeddings + ".patch_embedding.bias", {v.hidden_size}});
  out.push_back({embeddings + ".position_embedding.weight", {v.sequence_length(), v.hidden_size}});
  if (v.pre_layernorm) append_norm_specs(out, prefix + kPreLayerNorm, v.hidden_size);
  for (int64_t i = 0; i < layers_to_run; ++i) {
    append_siglip_encoder_layer_specs(out, prefix + ".encoder.layers." + std::to_string(i), encoder_shape(v));
  }
}

HostVisionTower load_siglip_vision_tower(const TensorStore& store, const std::string& prefix,
                                         const SiglipVisionConfig& config, int64_t layers_to_run) {
  HostVisionTower tower;
  tower.config = config;
  tower.geometry.hidden = config.hidden_size;
  tower.geometry.heads = tower.geometry.kv_heads = config.num_heads;
  tower.geometry.head_dim = config.head_dim();
  tower.geometry.intermediate = config.intermediate_size;
  tower.geometry.activation = config.activation;  // no rotary; sequential residual
  const int64_t p = config.patch_size;
  const int64_t c = config.num_channels;
  const int64_t d = config.hidden_size;
  const std::string embeddings = prefix + kEmbeddings;
  // A conv with stride = kernel is a linear map over flattened (channel, ky, kx) patches.
  tower.patch_embedding.weight =
      load_matrix_reshaped(store, embeddings + ".patch_embedding.weight", {d, c, p, p}, d, c * p * p);
  if (config.patch_bias) tower.patch_embedding.bias = load_vector(store, embeddings + ".patch_embedding.bias", d);
  if (config.class_token) tower.class_embedding = load_vector(store, embeddings + ".class_embedding", d);
  tower.position_embedding =
      load_dense(store, embeddings + ".position_embedding.weight", {config.sequence_length(), d});
  if (config.pre_layernorm) {
    tower.pre_norm = {NormKind::kLayerNorm, load_layer_norm(store, prefix + kPreLayerNorm, d, config.layer_norm_eps)};
  }
  for (int64_t i = 0; i < layers_to_run; ++i) {
    tower.layers.push_back(to_host_layer(
        load_siglip_encoder_layer(store, prefix + ".encoder.layers." + std::to_string(i), encoder_shape(config))));
  }
  return tower;
}

std::vector<float> siglip_patches(const float* pixels, int64_t n_images, const SiglipVisionConfig& config) {
  const int64_t p = config.patch_size, side = config.patches_per_side(), size = config.image_size;
  const int64_t channels = config.num_channels, per_image = config.num_patches();
  const int64_t patch_len = channels * p * p;
  std::vector<float> patches(static_cast<size_t>(n_images * per_image * patch_len));
  for (int64_t img = 0; img < n_images; ++img) {
    const float* image = pixels + img * channels * size * size;
    for (int64_t py = 0; py < side; ++py) {
      for (int64_t px = 0; px < side; ++px) {
        float* dst = patches.data() + ((img * per_image) + py * side + px) * patch_len;
        for (int64_t ch = 0; ch < channels; ++ch) {
          for (int64_t ky = 0; ky < p; ++ky) {
            const float* src = image + ch * size * size + (py * p + ky) * size + px * p;
            for (int64_t kx = 0; kx < p; ++kx) *dst++ = src[kx];
          }
        }
      }
    }
  }
  return patches;
}

VisionTowerBlocks::VisionTowerBlocks(Backend& backend, const HostVisionTower& tower, DType act)
    : backend_(&backend), act_(act), config_(tower.config), geometry_(tower.geometry) {
  patch_ = upload_linear(backend, {&tower.patch_embedding}, act);
  if (config_.class_token) class_embedding_ = upload_floats(backend, tower.class_embedding);
  positions_ = upload_floats(backend, tower.position_embedding);
  if (config_.pre_layernorm) pre_norm_ = upload_norm(backend, tower.pre_norm);
  for (const HostLayer& layer : tower.layers) layers_.push_back(upload_layer(backend, layer, act));
}

float* VisionTowerBlocks::run(const float* pixels, int64_t n_images, const VisionObserver& observer) {
  if (n_images <= 0) fail("encode_images needs at least one image");
  Backend& be = *backend_;
  const int64_t per_image = config_.num_patches(), d = geometry_.hidden;
  const int64_t length = config_.sequence_length();  // rows per image: [class;] patches
  const int64_t patch_len = config_.num_channels * config_.patch_size * config_.patch_size;
  const int64_t n_patches = n_images * per_image, t = n_images * length;
  const size_t row_bytes = static_cast<size_t>(d) * sizeof(float);
  auto grow = [&](DeviceBuffer& buffer, size_t bytes) {
    if (buffer.bytes() < bytes) buffer = be.allocate(bytes);
    return buffer.data();
  };
  const std::vector<float> patches = siglip_patches(pixels, n_images, config_);  // [n_patches, 3 p p]
  auto* patches_f32 = static_cast<float*>(grow(patches_f32_, patches.size() * sizeof(float)));
  be.copy_to_device(patches_f32, patches.data(), patches.size() * sizeof(float));
  void* patches_act = grow(patches_, patches.size() * dtype_size(act_));
  be.convert(patches_f32, DType::kF32, patches_act, act_, n_patches * patch_len);
  auto* hidden = static_cast<float*>(grow(hidden_, static_cast<size_t>(t) * row_bytes));
  const LayerScratch scratch = scratch_.reserve(be, t, geometry_, act_);

  auto observe = [&](int64_t k, const float* rows) {
    if (!observer) return;
    std::vector<float> host(static_cast<size_t>(t * d));
    be.copy_to_host(host.data(), rows, host.size() * sizeof(float));
    observer(k, host.data(), t, d);
  };
  // Embeddings [t, d]: each image's [class;] patch rows, plus the position table. With a
  // pre-norm (CLIP) they are assembled in `embedded_` and normalised into `hidden`.
  float* embedded = config_.pre_layernorm ? static_cast<float*>(grow(embedded_, static_cast<size_t>(t) * row_bytes))
                                          : hidden;
  if (config_.class_token) {
    auto* patch_rows = static_cast<float*>(grow(patch_rows_, static_cast<size_t>(n_patches) * row_bytes));
    be.linear(patches_act, act_, n_patches, patch_.weight, patch_.b(), patch_rows, DType::kF32, false);
    for (int64_t img = 0; img < n_images; ++img) {
      float* image_rows = embedded + img * length * d;
      be.copy_device(image_rows, class_embedding_.as<float>(), row_bytes);
      be.copy_device(image_rows + d, patch_rows + img * per_image * d, static_cast<size_t>(per_image) * row_bytes);
    }
  } else {
    be.linear(patches_act, act_, n_patches, patch_.weight, patch_.b(), embedded, DType::kF32, false);
  }
  be.add_rows(embedded, positions_.as<float>(), t, length, d);
  if (config_.pre_layernorm) {
    observe(-1, embedded);
    apply_norm(be, pre_norm_, embedded, t, d, hidden, DType::kF32);
  }
  observe(0, hidden);
  const SequenceBatch images{n_images, length};
  for (size_t i = 0; i < layers_.size(); ++i) {
    run_layer(be, act_, layers_[i], geometry_, t, hidden, scratch, nullptr, &images);
    observe(static_cast<int64_t>(i) + 1, hidden);
  }
  if (length == config_.feature_tokens()) return hidden;
  // LLaVA's "default" feature strategy: drop each image's class row.
  auto* features = static_cast<float*>(grow(features_, static_cast<size_t>(n_patches) * row_bytes));
  for (int64_t img = 0; img < n_images; ++img) {
    be.copy_device(features + img * per_image * d, hidden + (img * length + 1) * d,
                   static_cast<size_t>(per_image) * row_bytes);
  }
  return features;
}

}  // namespace lumen
