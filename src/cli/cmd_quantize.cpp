// lumen quantize: writes a copy of a checkpoint with its matrices in another weight format
// (safetensors with dtype names "Q8_0"/"Q4_0" and the logical shapes, plus metadata saying
// what was converted), and copies config, generation config, tokenizer files and model card,
// so the result loads with -m like the original, without converting anything at load time.
#include <cstdio>
#include <filesystem>
#include <map>

#include "cli/commands.h"
#include "cli/common.h"
#include "lumen/core/error.h"
#include "lumen/core/thread_pool.h"
#include "lumen/formats/checkpoint.h"
#include "lumen/models/imp_config.h"
#include "lumen/models/weight_quantization.h"

namespace lumen::cli {

namespace fs = std::filesystem;

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

  load_imp_config(model_dir);  // refuse anything that is not an Imp checkpoint before writing
  std::error_code ec;
  if (fs::exists(out_dir, ec) && fs::equivalent(out_dir, model_dir, ec)) fail("-o must differ from -m");
  fs::create_directories(out_dir, ec);
  if (ec) fail_kind(ErrorKind::kIo, "cannot create ", out_dir, ": ", ec.message());

  auto store = TensorStore::open_dir(model_dir);
  std::vector<TensorToWrite> tensors;
  std::vector<OwnedBytes> converted;
  size_t in_bytes = 0, out_bytes = 0;
  for (const auto& [name, view] : store->tensors()) {
    in_bytes += view->nbytes;
    const std::optional<DType>& choice = is_vision_tensor(name) ? formats.vision : formats.llm;
    DType target = view->dtype;
    if (choice && is_quantizable_matrix(*view)) target = converted_dtype(*view, *choice);
    if (target == view->dtype) {
      tensors.push_back({name, view->dtype, view->shape, view->data, view->nbytes});
      out_bytes += view->nbytes;
      continue;
    }
    const int64_t rows = view->shape[0], cols = view->shape[1];
    const size_t nbytes = static_cast<size_t>(rows * cols) / dtype_block(target) * dtype_size(target);
    converted.push_back(TensorStore::allocate(nbytes));
    convert_matrix(*view, rows, cols, target, converted.back().get());
    tensors.push_back({name, target, view->shape, converted.back().get(), nbytes});
    out_bytes += nbytes;
  }
  std::map<std::string, std::string> metadata = {{"format", "pt"}};
  if (formats.vision) metadata["lumen.quant.vision"] = weight_format_name(*formats.vision);
  if (formats.llm) metadata["lumen.quant.llm"] = weight_format_name(*formats.llm);
  write_safetensors(fs::path(out_dir) / "model.safetensors", tensors, metadata);

  // Everything else in the directory (config, generation config, tokenizer, model card).
  for (const auto& entry : fs::directory_iterator(model_dir)) {
    const std::string file = entry.path().filename().string();
    if (!entry.is_regular_file() || entry.path().extension() == ".safetensors" ||
        file == "model.safetensors.index.json") {
      continue;
    }
    fs::copy_file(entry.path(), fs::path(out_dir) / file, fs::copy_options::overwrite_existing, ec);
    if (ec) fail_kind(ErrorKind::kIo, "cannot copy ", entry.path().string(), ": ", ec.message());
  }
  std::printf("wrote %s: %.1f MB of weights (from %.1f MB)\n", (fs::path(out_dir) / "model.safetensors").c_str(),
              static_cast<double>(out_bytes) / 1e6, static_cast<double>(in_bytes) / 1e6);
  return 0;
}

}  // namespace lumen::cli
