// Writing a checkpoint in another weight format (`lumen quantize`, and callers of the library).
//
// The copy is a single model.safetensors whose converted matrices carry the dtype names
// "Q8_0"/"Q4_0" (or F32/F16/BF16) and their logical [rows, cols] shapes, with metadata
// "lumen.quant.vision" / "lumen.quant.llm" saying what was asked for. The directory's other
// files (config, generation config, tokenizer, model card) are copied beside it, so the result
// loads like the original and needs no conversion at load time. Which tensors convert is
// weight_quantization.h's rule, the same one --quant applies at load.
#pragma once

#include <cstddef>
#include <filesystem>

#include "lumen/models/weight_quantization.h"

namespace lumen {

struct QuantizedCheckpoint {
  std::filesystem::path weights;  // out_dir / "model.safetensors"
  size_t in_bytes = 0;            // the source's tensor bytes
  size_t out_bytes = 0;           // what was written
};

// Reads the Imp checkpoint in `model_dir` and writes it to `out_dir` (created; must not be
// `model_dir`) with the parts `formats` names converted. Throws Error for a directory that
// is not an Imp checkpoint (before writing anything), an output equal to the input, or an I/O
// failure. Conversion runs on the global thread pool.
QuantizedCheckpoint write_quantized_checkpoint(const std::filesystem::path& model_dir,
                                               const std::filesystem::path& out_dir, const QuantOptions& formats);

}  // namespace lumen
