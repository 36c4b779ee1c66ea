#include "lumen/models/siglip_vision.h"

#include "lumen/core/error.h"

namespace lumen {

namespace {

constexpr const char* kEmbeddings = ".embeddings";

std::string imp_vision_prefix(WeightLayout layout) {
  return std::string(imp_checkpoint_root(layout)) + ".vision_tower.vision_tower.vision_model";
}

SiglipEncoderShape encoder_shape(const SiglipVisionConfig& c) {
  return {c.hidden_size, c.intermediate_size, c.num_heads, c.layer_norm_eps, c.activation};
}

void siglip_tensor_specs(const ImpConfig& config, WeightLayout layout, std::vector<TensorSpec>& out) {
  const SiglipVisionConfig& v = config.vision;
  const std::string prefix = imp_vision_prefix(layout);
  const std::string embeddings = prefix + kEmbeddings;
  out.push_back({embeddings + ".patch_embedding.weight", {v.hidden_size, v.num_channels, v.patch_size, v.patch_size}});
  out.push_back({embeddings + ".patch_embedding.bias", {v.hidden_size}});
  out.push_back({embeddings + ".position_embedding.weight", {v.num_patches(), v.hidden_size}});
  for (int64_t i = 0; i < config.vision_layers_to_run; ++i) {
    append_siglip_encoder_layer_specs(out, prefix + ".encoder.layers." + std::to_string(i), encoder_shape(v));
  }
}

HostVisionTower load_siglip(const TensorStore& store, const ImpConfig& config, WeightLayout layout) {
  return load_siglip_vision_tower(store, imp_vision_prefix(layout), config.vision, config.vision_layers_to_run);
}

}  // namespace

const VisionFamily& siglip_vision_family() {
  static const VisionFamily family{"siglip", siglip_tensor_specs, load_siglip};
  return family;
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
  tower.patch_embedding.bias = load_vector(store, embeddings + ".patch_embedding.bias", d);
  tower.position_embedding = load_dense(store, embeddings + ".position_embedding.weight", {config.num_patches(), d});
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
  positions_ = upload_floats(backend, tower.position_embedding);
  for (const HostLayer& layer : tower.layers) layers_.push_back(upload_layer(backend, layer, act));
}

float* VisionTowerBlocks::run(const float* pixels, int64_t n_images, const VisionObserver& observer) {
  if (n_images <= 0) fail("encode_images needs at least one image");
  Backend& be = *backend_;
  const int64_t per_image = config_.num_patches(), d = geometry_.hidden;
  const int64_t patch_len = config_.num_channels * config_.patch_size * config_.patch_size;
  const int64_t t = n_images * per_image;
  auto grow = [&](DeviceBuffer& buffer, size_t bytes) {
    if (buffer.bytes() < bytes) buffer = be.allocate(bytes);
    return buffer.data();
  };
  const std::vector<float> patches = siglip_patches(pixels, n_images, config_);  // [t, 3 p p]
  auto* patches_f32 = static_cast<float*>(grow(patches_f32_, patches.size() * sizeof(float)));
  be.copy_to_device(patches_f32, patches.data(), patches.size() * sizeof(float));
  void* patches_act = grow(patches_, patches.size() * dtype_size(act_));
  be.convert(patches_f32, DType::kF32, patches_act, act_, t * patch_len);
  auto* hidden = static_cast<float*>(grow(hidden_, static_cast<size_t>(t * d) * sizeof(float)));
  const LayerScratch scratch = scratch_.reserve(be, t, geometry_, act_);

  auto observe = [&](int64_t k) {
    if (!observer) return;
    std::vector<float> host(static_cast<size_t>(t * d));
    be.copy_to_host(host.data(), hidden, host.size() * sizeof(float));
    observer(k, host.data(), t, d);
  };
  be.linear(patches_act, act_, t, patch_.weight, patch_.b(), hidden, DType::kF32, false);
  be.add_rows(hidden, positions_.as<float>(), t, per_image, d);
  observe(0);
  const SequenceBatch images{n_images, per_image};
  for (size_t i = 0; i < layers_.size(); ++i) {
    run_layer(be, act_, layers_[i], geometry_, t, hidden, scratch, nullptr, &images);
    observe(static_cast<int64_t>(i) + 1);
  }
  return hidden;
}

}  // namespace lumen
