// SigLIP's vision tower as Imp uses it: conv patch embedding + learned positions, then the
// encoder cut at mm_vision_select_layer, returning that layer's output WITHOUT post_layernorm
// (LLaVA's feature_select on hidden_states[select]).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "lumen/models/imp_config.h"
#include "lumen/models/siglip_encoder.h"

namespace lumen {

// Called with k = 0 for the embeddings and k after k encoder layers; hidden is
// [n_images * num_patches, hidden] (used by tests and divergence hunting).
using VisionObserver = std::function<void(int64_t k, const float* hidden, int64_t rows, int64_t cols)>;

// The SigLIP vision family as Imp uses it (under {model,transformer}.vision_tower.vision_tower.
// vision_model; layers [0, vision_layers_to_run)): its tensors and its HostVisionTower.
const VisionFamily& siglip_vision_family();

// im2col for the patch embedding (a conv with stride = kernel is a linear map over flattened
// patches): pixels [n_images, 3, S, S] -> [n_images * num_patches, 3 p p], each patch in
// (channel, ky, kx) order like the conv weight, patches in row-major grid order.
std::vector<float> siglip_patches(const float* pixels, int64_t n_images, const SiglipVisionConfig& config);

// The SigLIP dual encoder's host tower (models/siglip_dual). Imp's image encoder runs on the
// Backend (models/imp_device_model); this class also holds the weights it uploads.
class SiglipVisionTower {
 public:
  // prefix: e.g. "model.vision_tower.vision_tower.vision_model". Loads layers [0, layers_to_run).
  static SiglipVisionTower load(const TensorStore& store, const std::string& prefix, const SiglipVisionConfig& config,
                                int64_t layers_to_run);

  // pixels: [n_images, 3, image_size, image_size] normalised; returns
  // [n_images * num_patches, hidden]. Thread-compatible: concurrent calls need their own tower
  // or external locking (scratch is per call).
  std::vector<float> forward(const float* pixels, int64_t n_images, const VisionObserver& observer = {}) const;

  const SiglipVisionConfig& config() const { return config_; }
  int64_t layers_to_run() const { return static_cast<int64_t>(layers_.size()); }
  // The loaded weights, for device forward paths (models/imp_device_model).
  const SiglipEncoderShape& shape() const { return shape_; }
  const Linear& patch_embedding() const { return patch_embedding_; }
  const std::vector<float>& position_embedding() const { return position_embedding_; }
  const std::vector<SiglipEncoderLayer>& layers() const { return layers_; }

 private:
  SiglipVisionConfig config_;
  SiglipEncoderShape shape_;
  Linear patch_embedding_;              // conv weight [hidden, 3, p, p] seen as [hidden, 3*p*p]
  std::vector<float> position_embedding_;  // [num_patches, hidden]
  std::vector<SiglipEncoderLayer> layers_;
};

}  // namespace lumen
