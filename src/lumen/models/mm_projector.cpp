#include "lumen/models/mm_projector.h"

#include "lumen/kernels/cpu/elementwise.h"

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

std::vector<float> MmProjector::forward(const float* features, int64_t n) const {
  std::vector<float> current(features, features + n * layers_.front().in_features());
  std::vector<float> next;
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (i > 0) activation_inplace(Activation::kGeluErf, current.data(), static_cast<int64_t>(current.size()));
    next.assign(static_cast<size_t>(n * layers_[i].out_features()), 0.0f);
    layers_[i].forward(current.data(), n, next.data());
    current.swap(next);
  }
  return current;
}

}  // namespace lumen
