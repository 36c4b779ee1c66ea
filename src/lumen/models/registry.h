// Which model families Lumen runs, keyed by what config.json says (`model_type`, or an entry
// of `architectures`): each names the decoder and vision-tower families (models/family.h) its
// checkpoints are made of. Adding a family is one family file plus a line here.
#pragma once

#include <string>
#include <vector>

#include "lumen/models/family.h"

namespace lumen {

struct ModelFamily {
  const char* name;         // "imp"
  const char* description;  // for `lumen info` and error messages
  std::vector<std::string> model_types;
  std::vector<std::string> architectures;
  // <image> when config.json has no image_token_index (Imp-v1's 50296, Imp-v1.5-4B-Phi3's 32011
  // from its added_tokens.json, Imp-v1.5-2B-Qwen1.5's 151646, LlavaConfig's 32000).
  int32_t default_image_token_id;
  const DecoderFamily& decoder;
  const VisionFamily& vision;
  // config.json nests the parts as vision_config and text_config (LLaVA, models/llava_config)
  // rather than holding the decoder's keys at the top level (Imp).
  bool nested_config = false;
};

const std::vector<ModelFamily>& model_families();

// The family of a config.json. Throws Error, naming `label` and listing the supported families,
// when none matches.
const ModelFamily& find_model_family(const std::string& model_type, const std::vector<std::string>& architectures,
                                     const std::string& label = "config.json");

}  // namespace lumen
