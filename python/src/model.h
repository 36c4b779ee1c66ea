// lumen._lumen.Model: one loaded checkpoint (an Imp model, or a SigLIP dual encoder that only
// embeds) with the embedders built on it. lumen.Model (python/lumen/_model.py) wraps it.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "common.h"
#include "lumen/retrieval/embedder.h"
#include "lumen/runtime/engine.h"

namespace lumen::python {

struct ModelOptions {
  std::string path;
  int threads = 0;                     // 0: leave the process-wide pool as it is
  std::string quant_vision, quant_llm;  // "" keeps the stored format
  std::string device = "cpu";
  std::string alpha = "drop";
  uint64_t max_pixels = 50'000'000;
  std::string embedding = "auto";      // default embedding method
};

class PyModel {
 public:
  // Loads with the GIL released. Throws Error.
  explicit PyModel(const ModelOptions& options);

  const std::filesystem::path& dir() const { return dir_; }
  bool has_language_model() const { return engine_ != nullptr; }
  // The engine of an Imp model; throws Error for a SigLIP dual encoder.
  const Engine& engine() const;
  const ImageLimits& limits() const { return limits_; }
  AlphaMode alpha() const { return alpha_; }
  const std::string& default_method() const { return default_method_; }
  const std::string& device() const { return device_; }

  // The embedder for `method` ("" or "auto": the model's default), made on first use. Call
  // with mutex() held.
  const Embedder& embedder(const std::string& method);

  // One computation at a time per model (embedders keep per-call state); other models run
  // in parallel.
  std::mutex& mutex() { return mutex_; }

 private:
  std::filesystem::path dir_;
  std::shared_ptr<Engine> engine_;     // null for a SigLIP dual encoder
  std::unique_ptr<Embedder> siglip_;   // only for a SigLIP dual encoder
  std::map<std::string, std::unique_ptr<Embedder>> embedders_;
  ImageLimits limits_;
  AlphaMode alpha_ = AlphaMode::kDrop;
  std::string default_method_;
  std::string device_;
  std::mutex mutex_;
};

// Decodes the inputs within the model's pixel limit and alpha mode. No GIL needed.
std::vector<Image> decode_inputs(const PyModel& model, const std::vector<ImageInput>& inputs);

}  // namespace lumen::python
