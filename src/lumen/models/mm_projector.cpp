#include "lumen/models/mm_projector.h"

namespace lumen {

namespace {
// nn.Sequential indices: Linear at 0, GELU at 1, Linear at 2, ...
std::string layer_name(const std::string& prefix, int64_t i) { return prefix + ".mm_projector." + std::to_string(2 * i); }
}  // namespace

void append_mm_projector_specs(std::vector<TensorSpec>& out, const std::string& prefix, int64_t depth,
                               int64_t mm_hidden, int64_t hidden) {
  for (int64_t i = 0; i < depth; ++i) append_linear_specs(out, layer_name(prefix, i), hidden, i == 0 ? mm_hidden : hidden);
}

MmProjector MmProjector::load(const TensorStore& store, const std::string& prefix, int64_t depth, int64_t mm_hidden,
                              int64_t hidden) {
  MmProjector projector;
  for (int64_t i = 0; i < depth; ++i) {
    projector.layers_.push_back(load_linear(store, layer_name(prefix, i), hidden, i == 0 ? mm_hidden : hidden));
  }
  return projector;
}

}  // namespace lumen
