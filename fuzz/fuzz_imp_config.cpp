// Fuzzes config.json parsing (parse_imp_config): any bytes either give a config whose sizes are
// consistent enough to build a model from, or a lumen::Error.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "lumen/core/error.h"
#include "lumen/models/imp_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  lumen::ImpConfig c;
  try {
    c = lumen::parse_imp_config(text, "fuzz/config.json");
  } catch (const lumen::Error&) {
    return 0;
  }
  // What the model builder relies on.
  if (c.text.hidden_size < 1 || c.text.num_heads < 1 || c.text.hidden_size % c.text.num_heads != 0) std::abort();
  if (c.text.num_kv_heads < 1 || c.text.num_heads % c.text.num_kv_heads != 0) std::abort();
  if (c.text.rotary_dim < 0 || c.text.rotary_dim > c.text.head_dim() || c.text.rotary_dim % 2 != 0) std::abort();
  if (c.text.vocab_size < 1 || c.text.max_positions < 1 || c.text.num_layers < 1) std::abort();
  if (c.vision.hidden_size % c.vision.num_heads != 0 || c.vision.num_patches() < 1) std::abort();
  if (c.vision_layers_to_run < 1 || c.vision_layers_to_run > c.vision.num_layers) std::abort();
  if (c.projector_depth < 1 || c.eos_token_ids.empty()) std::abort();
  return 0;
}
