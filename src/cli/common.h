// Options shared by several commands (model, threads, sampling) and their wiring.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "cli/args.h"
#include "lumen/core/error.h"
#include "lumen/runtime/engine.h"
#include "lumen/runtime/generator.h"

namespace lumen::cli {

struct ModelOptions {
  std::string model_dir;  // empty: the bundled model
  int64_t threads = 0;    // 0: one per core
  int64_t max_pixels = 50'000'000;
  std::string device = "cpu";        // --device cpu | cuda | cuda:N
  std::string device_dtype = "auto";  // --device-dtype auto | f32 | f16 | bf16
  std::string quant, quant_vision, quant_llm;  // --quant, --quant-vision, --quant-llm (empty: as stored)
  std::string alpha = "drop";                  // --alpha drop | white

  void add_to(ArgParser& parser, bool model_required = false);
  // Applies --threads and loads the engine (bundled model when -m is absent). Throws Error.
  std::unique_ptr<Engine> load() const;
  std::string resolved_dir() const;
  AlphaMode alpha_mode() const;  // --alpha, checked (UsageError)
};

struct SamplingOptions {
  double temperature = 0.0;
  int64_t top_k = 0;
  double top_p = 1.0;
  double repetition_penalty = 1.0;
  int64_t seed = 0;
  int64_t max_tokens = 256;
  std::vector<std::string> stop;
  bool ignore_eos = false;

  void add_to(ArgParser& parser, bool with_ignore_eos = false);
  GenerationOptions to_generation_options() const;
};

// The bundled model's directory, as the library resolves it (lumen::api::Model::default_dir,
// src/lumen/api/model_dir.cpp): $LUMEN_MODEL_DIR, else an installed copy beside the executable
// (PREFIX/share/lumen/models/imp-shapes), else the source tree's, else the install location.
std::string bundled_model_dir();

// Prints "lumen: warning: ..." to stderr.
void warn(const std::string& message);

// True when stderr is a terminal (progress bars are drawn only then).
bool stderr_is_terminal();

// One-line progress bar with rate and ETA, redrawn in place on a terminal; silent otherwise.
class ProgressBar {
 public:
  ProgressBar(std::string label, size_t total);
  void update(size_t done);
  void finish();

 private:
  std::string label_;
  size_t total_;
  bool enabled_;
  double start_s_;
  double last_draw_s_ = -1;
};

}  // namespace lumen::cli
