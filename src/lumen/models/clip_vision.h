// CLIP's vision tower as LLaVA-1.5 uses it (HF CLIPVisionTransformer, models/clip/modeling_clip.py):
//   patches (conv, no bias) -> [class_embedding; patches] + position_embedding (row 0: class)
//   -> pre_layrnorm -> encoder layers (SigLIP's layer, models/siglip_encoder.h, with quick_gelu)
// run up to vision_feature_layer (transformers' hidden_states[k] is the output after k layers,
// [0] the pre_layrnorm output); the "default" strategy then drops the class row. post_layernorm
// is not used. The tensors sit under vision_tower.vision_model (llava-hf as published) or
// model.vision_tower.vision_model (transformers >= 4.52).
#pragma once

#include "lumen/models/family.h"

namespace lumen {

const VisionFamily& clip_vision_family();

}  // namespace lumen
