// Builds random Imp checkpoints of any size in a temporary directory, in any stored dtype,
// weight layout and file arrangement, so tests can check that nothing is tuned to the fixture
// sizes. Tensor names and shapes come from Lumen's own table (models/imp_tensors.h) for the
// config.json written; tokenizer files come from the bundled model.
#pragma once

#include <filesystem>
#include <string>

#include "lumen/core/dtype.h"

namespace lumen::testing {

struct SyntheticImpSpec {
  // models/registry's family: "imp" (Phi-2), "imp_phi3" or "imp_qwen2" (RMSNorm, gated SiLU MLP,
  // full rotary; partial_rotary_factor and legacy_layout apply to "imp" only), or "llava" (a CLIP
  // tower and a Llama decoder, in a nested config.json; projector_depth is 2).
  std::string family = "imp";
  bool llava_nested_layout = false;  // llava: model.language_model.* rather than language_model.model.*
  bool llava_keep_class_feature = false;  // llava: vision_feature_select_strategy "full"
  // Vision tower.
  int vision_hidden = 48, vision_intermediate = 80, vision_layers = 3, vision_heads = 3;
  int image_size = 40, patch_size = 10;
  int select_layer = -2;  // written as mm_vision_select_layer
  // Decoder.
  int hidden = 40, intermediate = 72, layers = 2, heads = 4, kv_heads = 4;
  double partial_rotary_factor = 0.4;
  int projector_depth = 2;
  DType dtype = DType::kF32;
  bool legacy_layout = false;  // transformer.* with fused Wqkv and legacy config keys
  bool sharded = false;        // two shards + model.safetensors.index.json
  bool duplicate_kv_heads_as_mha = false;  // store a grouped-KV model as the equivalent full-MHA one
  unsigned seed = 1;
};

// Writes the checkpoint into `dir` (created). Weights are drawn from the seed, rounded to
// bfloat16 precision so every dtype stores the same values exactly; one seed gives the same
// model in every layout, file arrangement and KV-head encoding.
void write_synthetic_imp(const std::filesystem::path& dir, const SyntheticImpSpec& spec);

}  // namespace lumen::testing
