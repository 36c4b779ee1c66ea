#include "lumen/models/imp_tensors.h"

#include "lumen/models/mm_projector.h"
#include "lumen/models/registry.h"

namespace lumen {

WeightLayout default_weight_layout(const ImpConfig& c) {
  return find_model_family(c.model_type, c.architectures).nested_config ? WeightLayout::kLlavaHf : WeightLayout::kHf;
}

std::vector<TensorSpec> imp_tensor_specs(const ImpConfig& c) { return imp_tensor_specs(c, default_weight_layout(c)); }

std::vector<TensorSpec> imp_tensor_specs(const ImpConfig& c, WeightLayout layout) {
  const ModelFamily& family = find_model_family(c.model_type, c.architectures);
  std::vector<TensorSpec> specs;
  family.vision.tensor_specs(c, layout, specs);
  append_mm_projector_specs(specs, layout, c.projector_depth, c.vision.hidden_size, c.text.hidden_size,
                            c.projector_bias);
  family.decoder.tensor_specs(c, layout, specs);
  return specs;
}

}  // namespace lumen
