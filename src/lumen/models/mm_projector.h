// LLaVA's multimodal projector from vision features to the LLM's embedding space.
// mlp{N}x_gelu: Linear(mm_hidden, hidden), then N-1 times [exact (erf) GELU, Linear(hidden,
// hidden)]; "linear" is the single Linear. Weights: `{prefix}.mm_projector.{0,2,4,...}`.
#pragma once

#include <string>
#include <vector>

#include "lumen/models/family.h"
#include "lumen/models/weight_loading.h"

namespace lumen {

// The projector's tensors under `prefix` (e.g. "model"): {prefix}.mm_projector.{0,2,...}.
void append_mm_projector_specs(std::vector<TensorSpec>& out, const std::string& prefix, int64_t depth,
                               int64_t mm_hidden, int64_t hidden);

class MmProjector {
 public:
  static MmProjector load(const TensorStore& store, const std::string& prefix, int64_t depth, int64_t mm_hidden,
                          int64_t hidden);
  int64_t out_features() const { return layers_.back().out_features(); }
  // Linear, then (GELU(erf), Linear) * (depth - 1): run by models/imp_device_model.
  const std::vector<Linear>& layers() const { return layers_; }

 private:
  std::vector<Linear> layers_;
};

}  // namespace lumen
