// Keys and values of every past position, per decoder layer, so each new token attends to the
// past without recomputing it. Contiguous fp32: [capacity, kv_heads * head_dim] per layer.
#pragma once

#include <cstdint>
#include <vector>

#include "lumen/core/error.h"

namespace lumen {

class KvCache {
 public:
  KvCache() = default;
  KvCache(int64_t layers, int64_t capacity, int64_t kv_width)
      : capacity_(capacity), kv_width_(kv_width), keys_(static_cast<size_t>(layers)), values_(static_cast<size_t>(layers)) {
    for (auto& k : keys_) k.resize(static_cast<size_t>(capacity * kv_width));
    for (auto& v : values_) v.resize(static_cast<size_t>(capacity * kv_width));
  }

  int64_t length() const { return length_; }      // positions filled
  int64_t capacity() const { return capacity_; }
  int64_t kv_width() const { return kv_width_; }
  float* keys(int64_t layer) { return keys_[static_cast<size_t>(layer)].data(); }
  float* values(int64_t layer) { return values_[static_cast<size_t>(layer)].data(); }

  // Marks n more positions as filled (after every layer wrote them).
  void advance(int64_t n) {
    if (length_ + n > capacity_) fail_kind(ErrorKind::kLimitExceeded, "KV cache overflow");
    length_ += n;
  }
  // Forgets positions from `length` on (prefix reuse, /clear).
  void truncate(int64_t length) {
    if (length < length_) length_ = length < 0 ? 0 : length;
  }

 private:
  int64_t capacity_ = 0;
  int64_t kv_width_ = 0;
  int64_t length_ = 0;
  std::vector<std::vector<float>> keys_;
  std::vector<std::vector<float>> values_;
};

}  // namespace lumen
