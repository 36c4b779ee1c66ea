// SigLIP's vision tower as Imp uses it: conv patch embedding + learned positions, then the
// encoder cut at mm_vision_select_layer, returning that layer's output WITHOUT post_layernorm
// (LLaVA's feature_select on hidden_states[select]).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "lumen/models/imp_config.h"
#include "lumen/models/blocks.h"
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

// Loads a SigLIP vision tower's weights as HostVisionTower (views into the checkpoint).
// prefix: e.g. "model.vision_tower.vision_tower.vision_model" (Imp) or "vision_model" (the
// dual encoder). Loads layers [0, layers_to_run). Throws Error naming a bad tensor.
HostVisionTower load_siglip_vision_tower(const TensorStore& store, const std::string& prefix,
                                         const SiglipVisionConfig& config, int64_t layers_to_run);

// A vision tower on a backend: patch embedding (im2col on the host, one GEMM), learned
// positions, then the layers, bidirectional within each image. Runs one batch at a time
// (its scratch is shared: callers serialise).
class VisionTowerBlocks {
 public:
  VisionTowerBlocks(Backend& backend, const HostVisionTower& tower, DType act);

  const SiglipVisionConfig& config() const { return config_; }
  int64_t layers() const { return static_cast<int64_t>(layers_.size()); }

  // pixels: [n_images, 3, S, S] normalised (host) -> the last layer's output [n_images *
  // num_patches, hidden], fp32 in backend memory, valid until the next run. The observer sees
  // host copies after the embeddings (k = 0) and after each layer k.
  float* run(const float* pixels, int64_t n_images, const VisionObserver& observer = {});

 private:
  Backend* backend_;
  DType act_;
  SiglipVisionConfig config_;
  LayerGeometry geometry_;
  LinearBlock patch_;
  DeviceBuffer positions_;
  std::vector<TransformerLayer> layers_;
  DeviceBuffer patches_f32_, patches_, hidden_;
  LayerBuffers scratch_;
};

}  // namespace lumen
