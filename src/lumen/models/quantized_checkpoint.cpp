#include "lumen/models/quantized_checkpoint.h"

#include <map>
#include <string>
#include <vector>

#include "lumen/core/error.h"
#include "lumen/formats/checkpoint.h"
#include "lumen/models/imp_config.h"

namespace lumen {

namespace fs = std::filesystem;

QuantizedCheckpoint write_quantized_checkpoint(const fs::path& model_dir, const fs::path& out_dir,
                                               const QuantOptions& formats) {
  load_imp_config(model_dir);  // refuse anything that is not an Imp checkpoint before writing
  std::error_code ec;
  if (fs::exists(out_dir, ec) && fs::equivalent(out_dir, model_dir, ec)) fail("the output directory ", out_dir.string(), " is the checkpoint directory itself");
  fs::create_directories(out_dir, ec);
  if (ec) fail_kind(ErrorKind::kIo, "cannot create ", out_dir.string(), ": ", ec.message());

  QuantizedCheckpoint result;
  result.weights = out_dir / "model.safetensors";
  auto store = TensorStore::open_dir(model_dir);
  std::vector<TensorToWrite> tensors;
  std::vector<OwnedBytes> converted;
  for (const auto& [name, view] : store->tensors()) {
    result.in_bytes += view->nbytes;
    const std::optional<DType>& choice = is_vision_tensor(name) ? formats.vision : formats.llm;
    DType target = view->dtype;
    if (choice && is_quantizable_matrix(*view)) target = converted_dtype(*view, *choice);
    if (target == view->dtype) {
      tensors.push_back({name, view->dtype, view->shape, view->data, view->nbytes});
      result.out_bytes += view->nbytes;
      continue;
    }
    const int64_t rows = view->shape[0], cols = view->shape[1];
    const size_t nbytes = static_cast<size_t>(rows * cols) / dtype_block(target) * dtype_size(target);
    converted.push_back(TensorStore::allocate(nbytes));
    convert_matrix(*view, rows, cols, target, converted.back().get());
    tensors.push_back({name, target, view->shape, converted.back().get(), nbytes});
    result.out_bytes += nbytes;
  }
  std::map<std::string, std::string> metadata = {{"format", "pt"}};
  if (formats.vision) metadata["lumen.quant.vision"] = weight_format_name(*formats.vision);
  if (formats.llm) metadata["lumen.quant.llm"] = weight_format_name(*formats.llm);
  write_safetensors(result.weights, tensors, metadata);

  // Everything else in the directory: config, generation config, tokenizer, model card.
  for (const auto& entry : fs::directory_iterator(model_dir)) {
    const std::string file = entry.path().filename().string();
    if (!entry.is_regular_file() || entry.path().extension() == ".safetensors" ||
        file == "model.safetensors.index.json") {
      continue;
    }
    fs::copy_file(entry.path(), out_dir / file, fs::copy_options::overwrite_existing, ec);
    if (ec) fail_kind(ErrorKind::kIo, "cannot copy ", entry.path().string(), ": ", ec.message());
  }
  return result;
}

}  // namespace lumen
