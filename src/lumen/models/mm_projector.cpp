#include "lumen/models/mm_projector.h"

namespace lumen {

std::vector<std::string> projector_layer_names(WeightLayout layout, int64_t depth) {
  std::vector<std::string> names;
  for (int64_t i = 0; i < depth; ++i) {
    switch (layout) {
      case WeightLayout::kLlavaHf: names.push_back("multi_modal_projector.linear_" + std::to_string(i + 1)); break;
      case WeightLayout::kLlavaHfNested:
        names.push_back("model.multi_modal_projector.linear_" + std::to_string(i + 1));
        break;
      default:  // nn.Sequential indices: Linear at 0, GELU at 1, Linear at 2, ...
        names.push_back(std::string(imp_checkpoint_root(layout)) + ".mm_projector." + std::to_string(2 * i));
    }
  }
  return names;
}

void append_mm_projector_specs(std::vector<TensorSpec>& out, WeightLayout layout, int64_t depth, int64_t mm_hidden,
                               int64_t hidden, bool bias) {
  const std::vector<std::string> names = projector_layer_names(layout, depth);
  for (int64_t i = 0; i < depth; ++i) append_linear_specs(out, names[i], hidden, i == 0 ? mm_hidden : hidden, bias);
}

MmProjector MmProjector::load(const TensorStore& store, WeightLayout layout, int64_t depth, int64_t mm_hidden,
                              int64_t hidden, bool bias) {
  MmProjector projector;
  const std::vector<std::string> names = projector_layer_names(layout, depth);
  for (int64_t i = 0; i < depth; ++i) {
    projector.layers_.push_back(load_linear(store, names[i], hidden, i == 0 ? mm_hidden : hidden, bias));
  }
  return projector;
}

}  // namespace lumen
