// The tensors an Imp checkpoint holds for a given config (current HF layout: `model.*`,
// `lm_head.*`), with their shapes. Used to build in-memory checkpoints (lumen bench) and
// synthetic tests without files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lumen/models/imp_config.h"

namespace lumen {

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
};

// Only the vision layers Imp runs (config.vision_layers_to_run) are listed, as in Imp's own
// checkpoints.
std::vector<TensorSpec> imp_tensor_specs(const ImpConfig& config);

}  // namespace lumen
