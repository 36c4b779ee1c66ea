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

// Called with k = 0 for the layers' input (SigLIP: the embeddings; CLIP: after pre_layrnorm,
// transformers' hidden_states[0]), k after k encoder layers, and, with a pre-norm, k = -1 for
// the embeddings before it; hidden is [n_images * sequence_length, hidden], class rows
// included (used by tests and divergence hunting).
using VisionObserver = std::function<void(int64_t k, const float* hidden, int64_t rows, int64_t cols)>;

// The SigLIP vision family as Imp uses it (under {model,transformer}.vision_tower.vision_tower.
// vision_model; layers [0, vision_layers_to_run)): its tensors and its HostVisionTower.
const VisionFamily& siglip_vision_family();

// im2col for the patch embedding (a conv with stride = kernel is a linear map over flattened
// patches): pixels [n_images, 3, S, S] -> [n_images * num_patches, 3 p p], each patch in
// (channel, ky, kx) order like the conv weight, patches in row-major grid order.
std::vector<float> siglip_patches(const float* pixels, int64_t n_images, const SiglipVisionConfig& config);

// The tensors of a ViT tower under `prefix` (`{prefix}.embeddings.*`, `{prefix}.pre_layrnorm`
// when config.pre_layernorm, `{prefix}.encoder.layers.N` for N < layers_to_run).
void append_vision_tower_specs(std::vector<TensorSpec>& out, const std::string& prefix,
                               const SiglipVisionConfig& config, int64_t layers_to_run);

// Loads a SigLIP (or CLIP, per config's flags) vision tower's weights as HostVisionTower
// (views into the checkpoint). prefix: e.g. "model.vision_tower.vision_tower.vision_model"
// (Imp) or "vision_model" (the dual encoder). Loads layers [0, layers_to_run). Throws Error
// naming a bad tensor.
HostVisionTower load_siglip_vision_tower(const TensorStore& store, const std::string& prefix,
                                         const SiglipVisionConfig& config, int64_t layers_to_run);

// A vision tower on a backend: patch embedding (im2col on the host, one GEMM), [the class
// token,] learned positions, [pre-norm,] then the layers, bidirectional within each image.
// Runs one batch at a time (its scratch is shared: callers serialise).
class VisionTowerBlocks {
 public:
  VisionTowerBlocks(Backend& backend, const HostVisionTower& tower, DType act);

  const SiglipVisionConfig& config() const { return config_; }
  int64_t layers() const { return static_cast<int64_t>(layers_.size()); }

  // pixels: [n_images, 3, S, S] normalised (host) -> the features: the last layer's output
  // [n_images * feature_tokens, hidden] (class rows dropped unless kept), fp32 in backend
  // memory, valid until the next run. The observer sees host copies (VisionObserver).
  float* run(const float* pixels, int64_t n_images, const VisionObserver& observer = {});

 private:
  Backend* backend_;
  DType act_;
  SiglipVisionConfig config_;
  LayerGeometry geometry_;
  LinearBlock patch_;
  DeviceBuffer class_embedding_, positions_;
  NormBlock pre_norm_;
  std::vector<TransformerLayer> layers_;
  DeviceBuffer patches_f32_, patches_, patch_rows_, embedded_, hidden_, features_;
  LayerBuffers scratch_;
};

}  // namespace lumen
