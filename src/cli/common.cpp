#include "cli/common.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "lumen/core/thread_pool.h"
#include "lumen/lumen.hpp"

namespace lumen::cli {

namespace {
double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
}  // namespace

std::string bundled_model_dir() { return api::Model::default_dir(); }

void ModelOptions::add_to(ArgParser& parser, bool model_required) {
  parser.option("--model", "-m", "DIR",
                model_required ? "Hugging Face checkpoint directory (config.json, *.safetensors, tokenizer files)"
                               : "Hugging Face checkpoint directory (default: the bundled imp-shapes model)",
                &model_dir);
  parser.option("--threads", "-t", "N", "worker threads (default: one per core)", &threads, 0, 1024);
  parser.option("--max-pixels", "", "N", "refuse images with more pixels than this, before decoding (default 50000000)",
                &max_pixels, 1, int64_t{1} << 40);
  parser.option("--alpha", "", "MODE",
                "transparent images: drop (ignore the alpha channel, as the reference does; default) or\n"
                "white (composite onto white first)",
                &alpha);
  parser.option("--device", "", "DEV", "where the model runs: cpu, cuda or cuda:N (default cpu)", &device);
  parser.option("--device-dtype", "", "T",
                "activation dtype on a GPU: auto (follow the weights), f32, f16 or bf16 (default auto)", &device_dtype);
  parser.option("--quant", "", "Q",
                "weight format in memory for the whole model: f32, f16, bf16, q8_0, q4_0 (default: as stored,\n"
                "exact fp32 compute; any other choice also allows bf16/int8 activations in matmuls)",
                &quant);
  parser.option("--quant-vision", "", "Q", "weight format of the vision tower and projector (overrides --quant)",
                &quant_vision);
  parser.option("--quant-llm", "", "Q", "weight format of the language model (overrides --quant)", &quant_llm);
}

std::string ModelOptions::resolved_dir() const { return model_dir.empty() ? bundled_model_dir() : model_dir; }

AlphaMode ModelOptions::alpha_mode() const {
  try {
    return parse_alpha_mode(alpha, "--alpha");
  } catch (const Error&) {
    throw UsageError("--alpha must be drop or white, not '" + alpha + "'");
  }
}

std::unique_ptr<Engine> ModelOptions::load() const {
  if (threads > 0) ThreadPool::set_global_threads(static_cast<int>(threads));
  EngineOptions options;
  options.image_limits.max_pixels = static_cast<uint64_t>(max_pixels);
  options.device = device;
  options.alpha = alpha_mode();
  if (!quant.empty()) options.quant.vision = options.quant.llm = parse_weight_format(quant);
  if (!quant_vision.empty()) options.quant.vision = parse_weight_format(quant_vision);
  if (!quant_llm.empty()) options.quant.llm = parse_weight_format(quant_llm);
  if (device_dtype == "f32") {
    options.device_activation = DType::kF32;
  } else if (device_dtype == "f16") {
    options.device_activation = DType::kF16;
  } else if (device_dtype == "bf16") {
    options.device_activation = DType::kBF16;
  } else if (device_dtype != "auto") {
    throw UsageError("--device-dtype must be auto, f32, f16 or bf16, not '" + device_dtype + "'");
  }
  return Engine::load(resolved_dir(), options);
}

void SamplingOptions::add_to(ArgParser& parser, bool with_ignore_eos) {
  parser.option("--temperature", "", "T", "sampling temperature; 0 = greedy (default 0)", &temperature, 0.0, 100.0);
  parser.option("--top-k", "", "K", "sample among the K most likely tokens; 0 = all (default 0)", &top_k, 0, 1 << 30);
  parser.option("--top-p", "", "P", "nucleus sampling: smallest set with probability >= P (default 1)", &top_p, 1e-6,
                1.0);
  parser.option("--repetition-penalty", "", "R", "penalise tokens already seen; 1 = off (default 1)",
                &repetition_penalty, 1e-3, 100.0);
  parser.option("--seed", "", "S", "random seed for sampling (default 0)", &seed, 0, INT64_MAX);
  parser.option("--max-tokens", "-n", "N", "most new tokens to generate (default 256)", &max_tokens, 0, 1 << 20);
  parser.repeated("--stop", "", "TEXT", "stop before this text (may be repeated)", &stop);
  if (with_ignore_eos) parser.flag("--ignore-eos", "", "keep generating past the end-of-sequence token", &ignore_eos);
}

GenerationOptions SamplingOptions::to_generation_options() const {
  GenerationOptions options;
  options.max_new_tokens = max_tokens;
  options.sampling.temperature = static_cast<float>(temperature);
  options.sampling.top_k = static_cast<int32_t>(top_k);
  options.sampling.top_p = static_cast<float>(top_p);
  options.sampling.repetition_penalty = static_cast<float>(repetition_penalty);
  options.sampling.seed = static_cast<uint64_t>(seed);
  options.stop = stop;
  options.ignore_eos = ignore_eos;
  return options;
}

void warn(const std::string& message) { std::fprintf(stderr, "lumen: warning: %s\n", message.c_str()); }

bool stderr_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

ProgressBar::ProgressBar(std::string label, size_t total)
    : label_(std::move(label)), total_(total), enabled_(stderr_is_terminal()), start_s_(now_s()) {}

void ProgressBar::update(size_t done) {
  if (!enabled_) return;
  const double t = now_s();
  if (done < total_ && t - last_draw_s_ < 0.1) return;  // redraw at most 10 times a second
  last_draw_s_ = t;
  const double elapsed = t - start_s_;
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0.0;
  constexpr int kWidth = 30;
  const int filled = total_ ? static_cast<int>(kWidth * done / total_) : kWidth;
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(kWidth - filled), '.');
  std::fprintf(stderr, "\r%s [%s] %zu/%zu  %.1f/s  ETA %.0fs ", label_.c_str(), bar.c_str(), done, total_, rate, eta);
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (!enabled_) return;
  update(total_);
  std::fputc('\n', stderr);
}

}  // namespace lumen::cli
