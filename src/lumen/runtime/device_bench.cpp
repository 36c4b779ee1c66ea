#include "lumen/runtime/device_bench.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <vector>

#include "lumen/core/error.h"
#include "lumen/models/imp_device_model.h"
#include "lumen/runtime/random_weights.h"

namespace lumen {

namespace {

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// Parameters the weights hold (matrices only; norms and biases are noise at this scale).
double weight_params(const ImpConfig& c) {
  const double dv = double(c.vision.hidden_size), iv = double(c.vision.intermediate_size);
  const double d = double(c.text.hidden_size), it = double(c.text.intermediate_size);
  const double kv = double(c.text.num_kv_heads * c.text.head_dim());
  const double patch = double(c.vision.num_channels * c.vision.patch_size * c.vision.patch_size);
  double vision = dv * patch + double(c.vision_layers_to_run) * (4 * dv * dv + 2 * dv * iv);
  double projector = dv * d + double(c.projector_depth - 1) * d * d;
  double text = double(c.text.num_layers) * (d * (d + 2 * kv) + d * d + 2 * d * it) + 2 * double(c.text.vocab_size) * d;
  return vision + projector + text;
}

}  // namespace

DeviceBenchResult run_device_bench(Backend& be, const ImpConfig& config, const DeviceBenchOptions& o) {
  if (o.prefill_tokens < 1 || o.decode_steps < 1 || o.batch < 1 || o.repeats < 1) {
    fail("bench: prefill_tokens, decode_steps, batch and repeats must be positive");
  }
  // The same random checkpoint `lumen bench` makes (runtime/random_weights), uploaded; the host
  // copy stays alive because the CPU backend uses it in place.
  const QuantOptions formats{o.weights, o.weights};
  auto host = ImpModel::from_store(config, make_random_imp_store(config, formats, 1234), formats);
  auto model = DeviceImpModel::upload(*host, be);
  DeviceBenchResult r;
  r.device = be.name();
  r.dtype = std::string(dtype_name(model->activation_dtype()));
  r.weight_gb = weight_params(config) * double(dtype_size(model->activation_dtype())) / 1e9;
  r.batch = o.batch;
  r.prefill_tokens = o.prefill_tokens;
  const int64_t d = config.text.hidden_size;
  const int64_t vocab = config.text.vocab_size;
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);

  // Image encode.
  const int64_t s = config.vision.image_size;
  std::vector<float> pixels(static_cast<size_t>(config.vision.num_channels * s * s));
  for (float& p : pixels) p = uniform(rng);
  std::vector<double> times;
  for (int64_t i = 0; i < o.repeats + 2; ++i) {
    const double t0 = now_ms();
    model->encode_images_on_device(pixels.data(), 1);
    be.synchronize();
    if (i >= 2) times.push_back(now_ms() - t0);  // two warm-ups
  }
  r.image_encode_ms = median(times);

  // Prefill, with the input embeddings already on the device.
  const int64_t context = o.prefill_tokens + o.decode_steps + 8;
  DeviceBuffer embeds = be.allocate(static_cast<size_t>(o.prefill_tokens * d) * sizeof(float));
  be.fill_random(embeds.as<float>(), o.prefill_tokens * d, 1.0f, 0.0f, 99);
  KvCache cache = model->make_cache(1, context);
  std::vector<float> logits(static_cast<size_t>(vocab));
  times.clear();
  for (int64_t i = 0; i < o.repeats + 2; ++i) {
    cache.truncate(0, 0);
    const double t0 = now_ms();
    model->prefill(embeds.as<float>(), o.prefill_tokens, cache, 0, logits.data(), nullptr, true);
    if (i >= 2) times.push_back(now_ms() - t0);
  }
  r.prefill_ms = median(times);

  // Batch-1 decode after the prefill: greedy, each id read back before the next step.
  auto decode_b1 = [&](bool graphs) {
    model->set_graphs(graphs);
    int32_t token = 0;
    for (int64_t i = 0; i < 4; ++i) model->decode(&token, nullptr, 1, cache, nullptr, &token);  // warm-up, capture
    cache.truncate(0, o.prefill_tokens);
    const double t0 = now_ms();
    for (int64_t i = 0; i < o.decode_steps; ++i) model->decode(&token, nullptr, 1, cache, nullptr, &token);
    const double ms = now_ms() - t0;
    cache.truncate(0, o.prefill_tokens);
    return 1000.0 * double(o.decode_steps) / ms;
  };
  r.decode_b1_tok_s = decode_b1(true);
  if (o.compare_without_graphs && be.supports_graphs()) r.decode_b1_nograph_tok_s = decode_b1(false);
  model->set_graphs(true);

  // Batch decode: every slot prefilled with the same context length.
  {
    KvCache batch_cache = model->make_cache(o.batch, context);
    for (int64_t slot = 0; slot < o.batch; ++slot) {
      model->prefill(embeds.as<float>(), o.prefill_tokens, batch_cache, slot, nullptr, nullptr, true);
    }
    std::vector<int32_t> tokens(static_cast<size_t>(o.batch), 0);
    const int64_t steps = std::max<int64_t>(1, o.decode_steps / 2);
    for (int64_t i = 0; i < 4; ++i) model->decode(tokens.data(), nullptr, o.batch, batch_cache, nullptr, tokens.data());
    for (int64_t slot = 0; slot < o.batch; ++slot) batch_cache.truncate(slot, o.prefill_tokens);
    const double t0 = now_ms();
    for (int64_t i = 0; i < steps; ++i) model->decode(tokens.data(), nullptr, o.batch, batch_cache, nullptr, tokens.data());
    const double ms = now_ms() - t0;
    r.decode_batch_tok_s = 1000.0 * double(steps * o.batch) / ms;
  }
  return r;
}

}  // namespace lumen
