#include "lumen/models/clip_vision.h"

#include "lumen/models/siglip_vision.h"

namespace lumen {

namespace {

std::string clip_prefix(WeightLayout layout) {
  return layout == WeightLayout::kLlavaHfNested ? "model.vision_tower.vision_model" : "vision_tower.vision_model";
}

void clip_tensor_specs(const ImpConfig& config, WeightLayout layout, std::vector<TensorSpec>& out) {
  append_vision_tower_specs(out, clip_prefix(layout), config.vision, config.vision_layers_to_run);
}

HostVisionTower load_clip(const TensorStore& store, const ImpConfig& config, WeightLayout layout) {
  return load_siglip_vision_tower(store, clip_prefix(layout), config.vision, config.vision_layers_to_run);
}

}  // namespace

const VisionFamily& clip_vision_family() {
  static const VisionFamily family{"clip", clip_tensor_specs, load_clip};
  return family;
}

}  // namespace lumen
