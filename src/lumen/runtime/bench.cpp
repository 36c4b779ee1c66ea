#include "lumen/runtime/bench.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "lumen/core/error.h"
#include "lumen/core/thread_pool.h"
#include "lumen/backend/backend.h"
#include "lumen/backend/device.h"
#include "lumen/models/imp_device_model.h"
#include "lumen/models/imp_model.h"
#include "lumen/runtime/random_weights.h"

namespace lumen {

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Multiply-adds of one vision encode (tower + projector) and of the decoder over n new tokens
// after `past` cached ones, x2 for FLOPs.
double vision_flops(const ImpConfig& c) {
  const double t = static_cast<double>(c.vision.sequence_length());  // CLIP: + the class row
  const double d = static_cast<double>(c.vision.hidden_size);
  const double inter = static_cast<double>(c.vision.intermediate_size);
  const double patch = static_cast<double>(c.vision.num_channels * c.vision.patch_size * c.vision.patch_size);
  const double per_layer = t * (4 * d * d + 2 * d * inter) + 2 * t * t * d;  // projections + QK^T, PV
  const double hidden = static_cast<double>(c.text.hidden_size);
  const double features = static_cast<double>(c.tokens_per_image());
  const double projector = features * (d * hidden + (c.projector_depth - 1) * hidden * hidden);
  const double patches = static_cast<double>(c.vision.num_patches());
  return 2 * (patches * d * patch + per_layer * static_cast<double>(c.vision_layers_to_run) + projector);
}

double decoder_flops(const ImpConfig& c, double n, double past, bool lm_head_rows_one = true) {
  const double d = static_cast<double>(c.text.hidden_size);
  const double kv = static_cast<double>(c.text.num_kv_heads * c.text.head_dim());
  const double inter = static_cast<double>(c.text.intermediate_size);
  // Phi-2's plain MLP has two matrices (fc1, fc2); the gated MLPs of Phi-3 and Qwen2 three.
  const double mlp_matrices = c.family == "imp" ? 2 : 3;
  const double proj = n * (2 * d * d + 2 * d * kv + mlp_matrices * d * inter);
  const double attn = 2 * d * n * (past + (n + 1) / 2);  // causal: each query sees past + its prefix
  const double head = (lm_head_rows_one ? 1 : n) * d * static_cast<double>(c.text.vocab_size);
  return 2 * (static_cast<double>(c.text.num_layers) * (proj + attn) + head);
}

}  // namespace

uint64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

void reset_peak_rss() {
#ifdef __GLIBC__
  // Hand memory freed by earlier runs (another format's weights and activations) back to the
  // kernel first, so each run's peak counts only what that run holds.
  malloc_trim(0);
#endif
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";  // resets VmHWM to the current RSS (Linux >= 4.0)
}

double measure_read_bandwidth(size_t bytes, int repeats) {
  const size_t words = bytes / 8;
  std::unique_ptr<uint64_t[]> buffer(new uint64_t[words]);
  ThreadPool& pool = ThreadPool::global();
  pool.parallel_for(words, 4096, [&](size_t b, size_t e) {
    for (size_t i = b; i < e; ++i) buffer[i] = i;
  });
  std::vector<double> rates;
  std::atomic<uint64_t> total{0};  // keeps the reads from being optimised away
  for (int r = 0; r < repeats; ++r) {
    const double t0 = now_s();
    pool.parallel_for(words, 4096, [&](size_t b, size_t e) {
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      size_t i = b;
      for (; i + 4 <= e; i += 4) {
        s0 += buffer[i];
        s1 += buffer[i + 1];
        s2 += buffer[i + 2];
        s3 += buffer[i + 3];
      }
      for (; i < e; ++i) s0 += buffer[i];
      total += s0 + s1 + s2 + s3;
    });
    rates.push_back(static_cast<double>(words * 8) / (now_s() - t0) / 1e9);
  }
  volatile uint64_t sink = total.load();
  (void)sink;
  return median(rates);
}

namespace {

// Median GB/s of copying a `bytes` buffer within backend memory, counting bytes read + written
// (what a GPU's memory moves; a copy is as close to its peak as plain code gets).
double measure_copy_bandwidth(Backend& backend, size_t bytes, int repeats) {
  bytes = bytes / 4 * 4;
  DeviceBuffer from = backend.allocate(bytes), to = backend.allocate(bytes);
  backend.fill_random(from.as<float>(), static_cast<int64_t>(bytes / 4), 1.0f, 0.0f, 1);
  backend.copy_device(to.data(), from.data(), bytes);  // warm-up
  backend.synchronize();
  std::vector<double> rates;
  for (int r = 0; r < repeats; ++r) {
    const double t0 = now_s();
    backend.copy_device(to.data(), from.data(), bytes);
    backend.synchronize();
    rates.push_back(2.0 * static_cast<double>(bytes) / (now_s() - t0) / 1e9);
  }
  return median(rates);
}

// Bytes a tensor takes in the backend: the CPU backend uses the store's matrices in place; a GPU
// holds every matrix in its activation dtype (quantized ones dequantized at upload) and vectors
// and position embeddings (added as rows) in fp32 (backend/backend.h, models/blocks.h).
uint64_t resident_bytes(const std::string& name, const TensorView& view, bool in_place, DType act) {
  if (in_place) return view.nbytes;
  const bool fp32 = view.shape.size() < 2 || name.find("position_embedding") != std::string::npos;
  return static_cast<uint64_t>(view.numel()) * (fp32 ? 4 : dtype_size(act));
}

}  // namespace

BenchResult run_bench(const BenchOptions& o) {
  const ImpConfig& c = o.config;
  const DType format = parse_weight_format(o.quant);
  const DeviceSpec spec = parse_device(o.device);
  const int64_t per_image = c.tokens_per_image();
  const int64_t n_prompt = per_image + o.text_tokens;
  if (o.repeats < 1 || o.batch < 0 || o.text_tokens < 1 || o.decode_tokens < 1 || o.decode_batch < 0) {
    fail("bench: repeats, text_tokens and decode_tokens must be positive, batch and decode_batch not negative");
  }
  if (n_prompt + o.decode_tokens + 1 > c.text.max_positions) {
    fail("bench: the prompt (", n_prompt, " positions) and ", o.decode_tokens, " decoded tokens exceed the model's context of ",
         c.text.max_positions);
  }
  ThreadPool::set_global_threads(o.threads);
  std::unique_ptr<Backend> backend = make_backend(spec);  // throws "no CUDA device ..." first
  Backend& be = *backend;
  BenchResult result;
  result.device = be.name();
  result.quant = weight_format_name(format);
  result.threads = o.threads;
  if (o.probe_bytes > 0) {
    result.read_bandwidth_gb_s = spec.is_cpu() ? measure_read_bandwidth(o.probe_bytes, 5)
                                               : measure_copy_bandwidth(be, o.probe_bytes, 5);
  }

  reset_peak_rss();
  QuantOptions formats{format, format};
  double t0 = now_s();
  // The host model stays alive: the CPU backend uses its matrices in place.
  auto model = ImpModel::from_store(c, make_random_imp_store(c, formats), formats);
  auto forward = DeviceImpModel::upload(*model, be);
  be.synchronize();
  result.load_s = now_s() - t0;
  const DType act = forward->activation_dtype();
  result.activation_dtype = std::string(dtype_name(act));
  result.kv_dtype = std::string(dtype_name(forward->kv_dtype()));
  for (const auto& [name, view] : model->store().tensors()) {
    const uint64_t bytes = resident_bytes(name, *view, spec.is_cpu(), act);
    result.weight_bytes += bytes;
    if (!is_vision_tensor(name) && view->shape.size() == 2 && name.find("embed_tokens") == std::string::npos) {
      result.decode_bytes_per_token += bytes;
    }
  }

  const int64_t d = c.text.hidden_size;
  const int64_t image_px = c.vision.num_channels * c.vision.image_size * c.vision.image_size;
  uint64_t rng = 12345;
  auto next_unit = [&]() {  // uniform in [-1, 1)
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<float>(static_cast<double>(rng >> 11) / 4503599627370496.0 - 1.0);
  };

  // Prompt: the image's embeddings, then text tokens (assembled on the host, then uploaded).
  std::vector<float> prompt(static_cast<size_t>(n_prompt * d));
  // Vision: one image (the latency a user feels) and a batch (throughput).
  if (o.vision) {
    std::vector<float> pixels(static_cast<size_t>(std::max(1, o.batch) * image_px));
    for (float& p : pixels) p = next_unit();
    std::vector<double> single, batched;
    const float* embeds = nullptr;
    // r == 0 is the warm-up; the CPU's first encode costs no more than the next (its buffers are
    // a few MB, faulted in during the run), so without full_warmup there is none.
    const int first = o.full_warmup ? 0 : 1;
    for (int r = first; r <= o.repeats; ++r) {
      t0 = now_s();
      embeds = forward->encode_images_on_device(pixels.data(), 1);
      be.synchronize();
      if (r > 0) single.push_back(now_s() - t0);
    }
    be.copy_to_host(prompt.data(), embeds, static_cast<size_t>(per_image * d) * sizeof(float));
    result.image_encode_s = median(single);
    result.vision_gflops = vision_flops(c) / result.image_encode_s / 1e9;
    if (o.batch > 0) {
      for (int r = first; r <= o.repeats; ++r) {
        t0 = now_s();
        forward->encode_images_on_device(pixels.data(), o.batch);
        be.synchronize();
        if (r > 0) batched.push_back(now_s() - t0);
      }
      result.images_per_s = o.batch / median(batched);
    }
  } else {
    for (int64_t i = 0; i < per_image * d; ++i) prompt[static_cast<size_t>(i)] = next_unit();
  }
  result.prefill_tokens = n_prompt;
  std::vector<int32_t> ids(static_cast<size_t>(o.text_tokens));
  for (auto& id : ids) id = static_cast<int32_t>((next_unit() + 1.0f) * 0.5f * static_cast<float>(c.text.vocab_size - 1));
  model->decoder().embed(ids.data(), o.text_tokens, prompt.data() + per_image * d);
  DeviceBuffer prompt_embeds = be.allocate(prompt.size() * sizeof(float));
  be.copy_to_device(prompt_embeds.data(), prompt.data(), prompt.size() * sizeof(float));

  // Per decode step: every decoder matrix once, plus each sequence's KV cache up to its depth.
  const double kv_row_bytes = 2.0 * static_cast<double>(c.text.num_kv_heads * c.text.head_dim()) *
                              static_cast<double>(dtype_size(forward->kv_dtype())) *
                              static_cast<double>(c.text.num_layers);
  const double mean_depth = static_cast<double>(n_prompt) + static_cast<double>(o.decode_tokens) / 2;
  const double weight_bytes_per_step = static_cast<double>(result.decode_bytes_per_token);

  // Prefill, then batch-1 decode from the prefilled prompt: greedy, each id read back.
  int32_t first_token = 0;
  {
    KvCache cache = forward->make_cache(1, n_prompt + o.decode_tokens + 1);
    std::vector<float> logits(static_cast<size_t>(c.text.vocab_size));
    std::vector<double> times;
    for (int r = 0; r <= o.repeats; ++r) {
      cache.truncate(0, 0);
      // The short warm-up: a few prompt tokens, which touch every weight and the code paths.
      const int64_t n = r == 0 && !o.full_warmup ? std::min<int64_t>(n_prompt, 16) : n_prompt;
      t0 = now_s();
      forward->prefill(prompt_embeds.as<float>(), n, cache, 0, logits.data(), nullptr, true);
      if (r > 0) times.push_back(now_s() - t0);
    }
    result.prefill_s = median(times);
    result.prefill_tok_s = static_cast<double>(n_prompt) / result.prefill_s;
    result.prefill_gflops = decoder_flops(c, static_cast<double>(n_prompt), 0) / result.prefill_s / 1e9;
    first_token = static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());

    auto decode_tok_s = [&]() {
      std::vector<double> runs;
      for (int r = 0; r <= o.repeats; ++r) {  // r == 0: warm-up (and the graph's capture)
        cache.truncate(0, n_prompt);
        int32_t token = first_token;
        const int64_t steps = r == 0 && !o.full_warmup ? std::min<int64_t>(o.decode_tokens, 2) : o.decode_tokens;
        t0 = now_s();
        for (int64_t step = 0; step < steps; ++step) {
          forward->decode(&token, nullptr, 1, cache, nullptr, &token);
        }
        if (r > 0) runs.push_back(now_s() - t0);
      }
      return static_cast<double>(o.decode_tokens) / median(runs);
    };
    result.decode_graphs = be.supports_graphs();
    forward->set_graphs(true);
    result.decode_tok_s = decode_tok_s();
    if (o.compare_graphs && be.supports_graphs()) {
      forward->set_graphs(false);
      result.decode_nograph_tok_s = decode_tok_s();
      forward->set_graphs(true);
    }
  }
  result.decode_gb_s = (weight_bytes_per_step + kv_row_bytes * mean_depth) * result.decode_tok_s / 1e9;
  result.decode_gflops = decoder_flops(c, 1, mean_depth) * result.decode_tok_s / 1e9;

  // Batched decode: every sequence holds the same prompt (prefilled once, copied to the other
  // slots), one token each per step.
  if (o.decode_batch > 0) {
    const int64_t n = o.decode_batch;
    KvCache cache = forward->make_cache(n, n_prompt + o.decode_tokens + 1);
    forward->prefill(prompt_embeds.as<float>(), n_prompt, cache, 0, nullptr, nullptr, true);
    std::vector<int32_t> tokens(static_cast<size_t>(n));
    std::vector<double> runs;
    for (int r = 0; r <= o.repeats; ++r) {
      for (int64_t slot = 0; slot < n; ++slot) cache.copy_prefix(0, slot, n_prompt);
      std::fill(tokens.begin(), tokens.end(), first_token);
      t0 = now_s();
      for (int64_t step = 0; step < o.decode_tokens; ++step) {
        forward->decode(tokens.data(), nullptr, n, cache, nullptr, tokens.data());
      }
      if (r > 0) runs.push_back(now_s() - t0);
    }
    const double steps_per_s = static_cast<double>(o.decode_tokens) / median(runs);
    result.decode_batch = n;
    result.decode_batch_tok_s = steps_per_s * static_cast<double>(n);
    result.decode_batch_gb_s =
        (weight_bytes_per_step + static_cast<double>(n) * kv_row_bytes * mean_depth) * steps_per_s / 1e9;
    result.decode_batch_gflops = decoder_flops(c, 1, mean_depth) * result.decode_batch_tok_s / 1e9;
  }
  result.peak_rss_bytes = peak_rss_bytes();
  return result;
}

}  // namespace lumen
