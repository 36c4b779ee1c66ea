// lumen quantize: writes a copy of a checkpoint with its matrices in another weight format
// (models/quantized_checkpoint.h does the work), so the result loads with -m like the original,
// without converting anything at load time.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "lumen/core/error.h"
#include "lumen/core/thread_pool.h"
#include "lumen/models/quantized_checkpoint.h"
#include "lumen/models/weight_quantization.h"

namespace lumen::cli {

int run_quantize(int argc, char** argv) {
  std::string model_dir, out_dir, quant, quant_vision, quant_llm;
  int64_t threads = 0;
  ArgParser parser("quantize", "lumen quantize -m DIR --quant q4_0 -o OUT",
                   "Write DIR's checkpoint to OUT with its weight matrices in another format: f32, f16, bf16,\n"
                   "q8_0 or q4_0 (32-weight blocks with one f16 scale, as llama.cpp). Biases, norms, position\n"
                   "embeddings, the patch kernel and matrices whose rows are not whole 32-blocks keep their\n"
                   "stored format. OUT loads with `-m OUT` and no conversion at load time.");
  parser.option("--model", "-m", "DIR", "checkpoint directory to read", &model_dir);
  parser.option("--output", "-o", "OUT", "directory to write (created; must not be DIR)", &out_dir);
  parser.option("--quant", "-q", "Q", "format for both the vision tower and the LLM", &quant);
  parser.option("--quant-vision", "", "Q", "format for the vision tower and projector (overrides --quant)", &quant_vision);
  parser.option("--quant-llm", "", "Q", "format for the LLM (overrides --quant)", &quant_llm);
  parser.option("--threads", "-t", "N", "worker threads (default: one per core)", &threads, 0, 1024);
  if (!parser.parse(argc, argv)) return 0;
  if (model_dir.empty() || out_dir.empty()) throw UsageError("needs -m DIR and -o OUT");
  if (quant.empty() && quant_vision.empty() && quant_llm.empty()) throw UsageError("needs --quant (or --quant-vision / --quant-llm)");
  QuantOptions formats;
  if (!quant.empty()) formats.vision = formats.llm = parse_weight_format(quant);
  if (!quant_vision.empty()) formats.vision = parse_weight_format(quant_vision);
  if (!quant_llm.empty()) formats.llm = parse_weight_format(quant_llm);
  if (threads > 0) ThreadPool::set_global_threads(static_cast<int>(threads));

  const QuantizedCheckpoint written = write_quantized_checkpoint(model_dir, out_dir, formats);
  std::printf("wrote %s: %.1f MB of weights (from %.1f MB)\n", written.weights.c_str(),
              static_cast<double>(written.out_bytes) / 1e6, static_cast<double>(written.in_bytes) / 1e6);
  return 0;
}

}  // namespace lumen::cli
