// Keys and values of every past position, per decoder layer, so each new token attends to the
// past without recomputing it. Per layer: [capacity, kv_heads * head_dim] rows of `dtype`:
// fp32 for exact compute (what the fixtures check), f16 when the decoder runs at reduced
// precision, which halves both the cache's memory and the bytes decode attention reads per
// token (at Imp-v1-3B's depth of ~850 positions that is 0.28 GB of the ~2 GB read per token).
#pragma once

#include <cstdint>
#include <vector>

#include "lumen/core/dtype.h"
#include "lumen/core/large_buffer.h"
#include "lumen/core/error.h"

namespace lumen {

class KvCache {
 public:
  KvCache() = default;
  KvCache(int64_t layers, int64_t capacity, int64_t kv_width, DType dtype = DType::kF32)
      : capacity_(capacity), kv_width_(kv_width), dtype_(dtype) {
    if (dtype != DType::kF32 && dtype != DType::kF16) fail("KV cache holds f32 or f16, not ", dtype_name(dtype));
    // Left uninitialised: only rows below length() are ever read, and untouched pages cost no
    // resident memory, so a long context reserves address space, not RAM.
    const size_t bytes = static_cast<size_t>(capacity) * row_bytes();
    for (int64_t l = 0; l < layers; ++l) {
      keys_.push_back(allocate_large_buffer(bytes));
      values_.push_back(allocate_large_buffer(bytes));
    }
  }

  int64_t length() const { return length_; }      // positions filled
  int64_t capacity() const { return capacity_; }
  int64_t kv_width() const { return kv_width_; }
  DType dtype() const { return dtype_; }
  size_t row_bytes() const { return static_cast<size_t>(kv_width_) * dtype_size(dtype_); }
  // Row 0 of a layer's keys / values, in dtype().
  void* keys(int64_t layer) { return keys_[static_cast<size_t>(layer)].get(); }
  void* values(int64_t layer) { return values_[static_cast<size_t>(layer)].get(); }
  const void* keys(int64_t layer) const { return keys_[static_cast<size_t>(layer)].get(); }
  const void* values(int64_t layer) const { return values_[static_cast<size_t>(layer)].get(); }
  // Where position `position` of a layer's keys / values starts.
  void* key_row(int64_t layer, int64_t position) { return static_cast<uint8_t*>(keys(layer)) + position * row_bytes(); }
  void* value_row(int64_t layer, int64_t position) {
    return static_cast<uint8_t*>(values(layer)) + position * row_bytes();
  }

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
  DType dtype_ = DType::kF32;
  std::vector<LargeBuffer> keys_;
  std::vector<LargeBuffer> values_;
};

}  // namespace lumen
