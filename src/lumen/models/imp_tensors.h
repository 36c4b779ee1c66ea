// The tensors an Imp-style checkpoint holds for a given config and layout, with their shapes,
// from its families' tables (models/registry): vision tower, projector, decoder. Used to build
// in-memory checkpoints (lumen bench) and synthetic test checkpoints without files.
#pragma once

#include <vector>

#include "lumen/models/family.h"
#include "lumen/models/imp_config.h"

namespace lumen {

// Only the vision layers Imp runs (config.vision_layers_to_run) are listed, as in Imp's own
// checkpoints.
std::vector<TensorSpec> imp_tensor_specs(const ImpConfig& config, WeightLayout layout = WeightLayout::kHf);

}  // namespace lumen
