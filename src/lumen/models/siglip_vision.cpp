#include "lumen/models/siglip_vision.h"

#include "lumen/core/error.h"
#include "lumen/kernels/cpu/elementwise.h"

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
  const SiglipVisionTower tower =
      SiglipVisionTower::load(store, imp_vision_prefix(layout), config.vision, config.vision_layers_to_run);
  const SiglipVisionConfig& v = config.vision;
  HostVisionTower out;
  out.config = v;
  out.geometry.hidden = v.hidden_size;
  out.geometry.heads = out.geometry.kv_heads = v.num_heads;
  out.geometry.head_dim = v.head_dim();
  out.geometry.intermediate = v.intermediate_size;
  out.geometry.activation = v.activation;
  out.patch_embedding = tower.patch_embedding();
  out.position_embedding = tower.position_embedding();
  for (const SiglipEncoderLayer& layer : tower.layers()) out.layers.push_back(to_host_layer(layer));
  return out;
}

}  // namespace

const VisionFamily& siglip_vision_family() {
  static const VisionFamily family{"siglip", siglip_tensor_specs, load_siglip};
  return family;
}

SiglipVisionTower SiglipVisionTower::load(const TensorStore& store, const std::string& prefix,
                                          const SiglipVisionConfig& config, int64_t layers_to_run) {
  SiglipVisionTower tower;
  tower.config_ = config;
  tower.shape_ = {config.hidden_size, config.intermediate_size, config.num_heads, config.layer_norm_eps,
                  config.activation};
  const int64_t p = config.patch_size;
  const int64_t c = config.num_channels;
  const int64_t d = config.hidden_size;
  const std::string embeddings = prefix + kEmbeddings;
  // A conv with stride = kernel is a linear map over flattened (channel, ky, kx) patches.
  tower.patch_embedding_.weight =
      load_matrix_reshaped(store, embeddings + ".patch_embedding.weight", {d, c, p, p}, d, c * p * p);
  tower.patch_embedding_.bias = load_vector(store, embeddings + ".patch_embedding.bias", d);
  tower.position_embedding_ =
      load_dense(store, embeddings + ".position_embedding.weight", {config.num_patches(), d});
  for (int64_t i = 0; i < layers_to_run; ++i) {
    tower.layers_.push_back(
        load_siglip_encoder_layer(store, prefix + ".encoder.layers." + std::to_string(i), tower.shape_));
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

std::vector<float> SiglipVisionTower::forward(const float* pixels, int64_t n_images,
                                              const VisionObserver& observer) const {
  const int64_t n_patches = config_.num_patches();
  const int64_t d = config_.hidden_size;
  const int64_t tokens = n_images * n_patches;

  const std::vector<float> patches = siglip_patches(pixels, n_images, config_);

  // hidden: [tokens, d] = patch embeddings + positions.
  std::vector<float> hidden(static_cast<size_t>(tokens * d));
  patch_embedding_.forward(patches.data(), tokens, hidden.data());
  for (int64_t img = 0; img < n_images; ++img) {
    add_inplace(hidden.data() + img * n_patches * d, position_embedding_.data(), n_patches * d);
  }
  if (observer) observer(0, hidden.data(), tokens, d);

  SiglipScratch scratch;
  for (size_t i = 0; i < layers_.size(); ++i) {
    siglip_encoder_layer_forward(layers_[i], shape_, hidden.data(), n_images, n_patches, scratch);
    if (observer) observer(static_cast<int64_t>(i) + 1, hidden.data(), tokens, d);
  }
  return hidden;
}

}  // namespace lumen
