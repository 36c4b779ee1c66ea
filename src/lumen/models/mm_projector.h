// LLaVA's multimodal projector from vision features to the LLM's embedding space.
// mlp{N}x_gelu: Linear(mm_hidden, hidden), then N-1 times [exact (erf) GELU, Linear(hidden,
// hidden)]; "linear" is the single Linear. Weights: Imp's `{root}.mm_projector.{0,2,4,...}`
// (nn.Sequential indices), llava-hf's `multi_modal_projector.linear_{1,2}` (LlavaMultiModalProjector:
// linear_1 -> gelu -> linear_2).
#pragma once

#include <string>
#include <vector>

#include "lumen/models/family.h"
#include "lumen/models/weight_loading.h"

namespace lumen {

// The names of the projector's Linear layers, in order, in a checkpoint of this layout.
std::vector<std::string> projector_layer_names(WeightLayout layout, int64_t depth);

// The projector's tensors in a checkpoint of this layout.
void append_mm_projector_specs(std::vector<TensorSpec>& out, WeightLayout layout, int64_t depth, int64_t mm_hidden,
                               int64_t hidden, bool bias = true);

class MmProjector {
 public:
  static MmProjector load(const TensorStore& store, WeightLayout layout, int64_t depth, int64_t mm_hidden,
                          int64_t hidden, bool bias = true);
  int64_t out_features() const { return layers_.back().out_features(); }
  // Linear, then (GELU(erf), Linear) * (depth - 1): run by models/imp_device_model.
  const std::vector<Linear>& layers() const { return layers_; }

 private:
  std::vector<Linear> layers_;
};

}  // namespace lumen
