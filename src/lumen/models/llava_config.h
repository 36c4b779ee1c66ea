// LLaVA-1.5 in the llava-hf layout (transformers' LlavaConfig, models/llava/configuration_llava.py):
// config.json nests the CLIP tower under `vision_config` (CLIPVisionConfig) and the decoder under
// `text_config` (LlamaConfig), each taking its class's defaults for absent keys, as transformers
// builds them; preprocessor_config.json (CLIPImageProcessor) says how images become pixels.
// Both fill the same ImpConfig the Imp families use, so the rest of Lumen sees one description.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

#include "lumen/models/imp_config.h"
#include "lumen/models/registry.h"

namespace lumen {

// Parses a LLaVA config.json object into `out` (whose family fields are already set). Throws
// Error naming the key for values Lumen does not implement (another decoder or tower type, a
// list of feature layers, tied embeddings, biased attention or MLP, rope scaling, ...).
void parse_llava_config(const nlohmann::json& config, const std::string& label, const ModelFamily& family,
                        ImpConfig* out);

// Applies preprocessor_config.json (CLIPImageProcessor): shortest-edge bicubic resize, centre
// crop, rescale by 1/255, normalise with image_mean / image_std. Without the file, LLaVA's
// values apply (shortest edge and crop = the tower's image_size, OpenAI CLIP mean / std).
// Throws Error for settings Lumen does not implement, naming the key.
void parse_clip_image_processor(const nlohmann::json& processor, const std::string& label, ImpConfig* out);

// How Lumen treats each LLaVA config.json key (top level, "vision_config.KEY", "text_config.KEY").
const ConfigKeyPolicy& llava_config_key_policy();

}  // namespace lumen
