// The tensors an Imp-style checkpoint holds for a given config and layout, with their shapes,
// from its families' tables (models/registry): vision tower, projector, decoder. Used to build
// in-memory checkpoints (lumen bench) and synthetic test checkpoints without files.
#pragma once

#include <vector>

#include "lumen/models/family.h"
#include "lumen/models/imp_config.h"

namespace lumen {

// The layout a family's checkpoints are published in: kHf (Imp), kLlavaHf (LLaVA).
WeightLayout default_weight_layout(const ImpConfig& config);

// Only the vision layers that run (config.vision_layers_to_run) are listed, as in Imp's own
// checkpoints.
std::vector<TensorSpec> imp_tensor_specs(const ImpConfig& config, WeightLayout layout);
// In the family's default layout.
std::vector<TensorSpec> imp_tensor_specs(const ImpConfig& config);

}  // namespace lumen
