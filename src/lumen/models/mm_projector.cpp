#include "lumen/models/mm_projector.h"

namespace lumen {

MmProjector MmProjector::load(const TensorStore& store, const std::string& prefix, int64_t depth, int64_t mm_hidden,
                              int64_t hidden) {
  MmProjector projector;
  for (int64_t i = 0; i < depth; ++i) {
    // nn.Sequential indices: Linear at 0, GELU at 1, Linear at 2, ...
    projector.layers_.push_back(load_linear(store, prefix + ".mm_projector." + std::to_string(2 * i), hidden,
                                            i == 0 ? mm_hidden : hidden));
  }
  return projector;
}

}  // namespace lumen
