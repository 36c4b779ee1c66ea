#include "lumen/models/imp_tensors.h"

#include "lumen/models/mm_projector.h"
#include "lumen/models/registry.h"

namespace lumen {

std::vector<TensorSpec> imp_tensor_specs(const ImpConfig& c, WeightLayout layout) {
  const ModelFamily& family = find_model_family(c.model_type, c.architectures);
  std::vector<TensorSpec> specs;
  family.vision.tensor_specs(c, layout, specs);
  append_mm_projector_specs(specs, imp_checkpoint_root(layout), c.projector_depth, c.vision.hidden_size,
                            c.text.hidden_size);
  family.decoder.tensor_specs(c, layout, specs);
  return specs;
}

}  // namespace lumen
