#include "lumen/runtime/decoder_run.h"

namespace lumen {

DecoderRun::DecoderRun(const Engine& engine, int64_t capacity) : engine_(engine) {
  if (DeviceImpModel* device = engine.device_model()) {
    device_cache_ = std::make_unique<DeviceKvCache>(device->make_cache(1, capacity));
  } else {
    cpu_cache_ = engine.model().decoder().make_cache(capacity);
    embedding_.resize(static_cast<size_t>(engine.model().config().text.hidden_size));
  }
}

void DecoderRun::prefill(const float* embeds, int64_t n, float* logits) {
  if (device_cache_) {
    engine_.device_model()->prefill(embeds, n, *device_cache_, 0, logits);
  } else {
    engine_.model().decoder().forward(embeds, n, cpu_cache_, logits, 1);
  }
}

void DecoderRun::step(int32_t token, float* logits) {
  if (device_cache_) {
    engine_.device_model()->decode(&token, 1, *device_cache_, logits, nullptr);
  } else {
    engine_.model().decoder().embed(&token, 1, embedding_.data());
    engine_.model().decoder().forward(embedding_.data(), 1, cpu_cache_, logits, 1);
  }
}

int64_t DecoderRun::length() const { return device_cache_ ? device_cache_->length(0) : cpu_cache_.length(); }

int64_t DecoderRun::capacity() const { return device_cache_ ? device_cache_->capacity() : cpu_cache_.capacity(); }

void DecoderRun::truncate(int64_t length) {
  if (device_cache_) {
    device_cache_->truncate(0, length);
  } else {
    cpu_cache_.truncate(length);
  }
}

}  // namespace lumen
