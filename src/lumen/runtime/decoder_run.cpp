#include "lumen/runtime/decoder_run.h"

namespace lumen {

DecoderRun::DecoderRun(const Engine& engine, int64_t capacity)
    : engine_(engine), cache_(engine.device_model().make_cache(1, capacity)) {}

void DecoderRun::prefill(const float* embeds, int64_t n, float* logits, float* last_hidden) {
  engine_.device_model().prefill(embeds, n, cache_, 0, logits, last_hidden, /*embeds_on_device=*/true);
}

void DecoderRun::step(int32_t token, float* logits) {
  engine_.device_model().decode(&token, nullptr, 1, cache_, logits, nullptr);
}

int64_t DecoderRun::length() const { return cache_.length(0); }

int64_t DecoderRun::capacity() const { return cache_.capacity(); }

void DecoderRun::truncate(int64_t length) { cache_.truncate(0, length); }

}  // namespace lumen
