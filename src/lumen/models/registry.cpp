#include "lumen/models/registry.h"

#include <algorithm>
#include <sstream>

#include "lumen/core/error.h"
#include "lumen/models/clip_vision.h"
#include "lumen/models/llama_decoders.h"
#include "lumen/models/phi.h"
#include "lumen/models/siglip_vision.h"

namespace lumen {

const std::vector<ModelFamily>& model_families() {
  static const std::vector<ModelFamily> families = {
      {"imp", "Imp-v1 (MILVLG): SigLIP vision tower, MLP projector, Phi-2 decoder", {"imp"}, {"ImpForCausalLM"},
       50296, phi_decoder_family(), siglip_vision_family()},
      {"imp_phi3", "Imp-v1.5-4B-Phi3 (MILVLG): SigLIP vision tower, MLP projector, Phi-3 decoder", {"imp_phi3"},
       {"ImpPhi3ForCausalLM"}, 32011, phi3_decoder_family(), siglip_vision_family()},
      {"imp_qwen2", "Imp-v1.5-2B-Qwen1.5 (MILVLG): SigLIP vision tower, MLP projector, Qwen2 decoder",
       {"imp_qwen2"}, {"ImpQwen2ForCausalLM"}, 151646, qwen2_decoder_family(), siglip_vision_family()},
      {"llava", "LLaVA-1.5 (llava-hf): CLIP vision tower, MLP projector, Llama decoder", {"llava"},
       {"LlavaForConditionalGeneration"}, 32000, llama_decoder_family(), clip_vision_family(), true},
  };
  return families;
}

const ModelFamily& find_model_family(const std::string& model_type, const std::vector<std::string>& architectures,
                                     const std::string& label) {
  for (const ModelFamily& family : model_families()) {
    const auto& types = family.model_types;
    if (std::find(types.begin(), types.end(), model_type) != types.end()) return family;
    for (const std::string& arch : architectures) {
      if (std::find(family.architectures.begin(), family.architectures.end(), arch) != family.architectures.end()) {
        return family;
      }
    }
  }
  std::ostringstream supported;
  for (const ModelFamily& family : model_families()) {
    supported << (supported.tellp() > 0 ? "; " : "") << family.name << " (model_type";
    for (const std::string& t : family.model_types) supported << " \"" << t << "\"";
    for (const std::string& a : family.architectures) supported << ", " << a;
    supported << ": " << family.description << ")";
  }
  fail(label, ": unsupported architecture (model_type '", model_type, "'); Lumen runs ", supported.str());
}

}  // namespace lumen
