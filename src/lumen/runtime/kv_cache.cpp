#include "lumen/runtime/kv_cache.h"

#include "lumen/core/error.h"

namespace lumen {

KvCache::KvCache(Backend& backend, int64_t layers, int64_t slots, int64_t capacity, int64_t kv_width, DType dtype)
    : backend_(&backend), capacity_(capacity), kv_width_(kv_width), dtype_(dtype) {
  if (layers <= 0 || slots <= 0 || capacity <= 0 || kv_width <= 0) {
    fail("KV cache needs layers, slots, capacity and width > 0 (got ", layers, ", ", slots, ", ", capacity, ", ",
         kv_width, ")");
  }
  if (dtype != DType::kF32 && dtype != DType::kF16 && dtype != DType::kBF16) {
    fail("KV cache holds f32, f16 or bf16, not ", dtype_name(dtype));
  }
  lengths_.assign(static_cast<size_t>(slots), 0);
  const size_t bytes = static_cast<size_t>(slots * capacity * kv_width) * dtype_size(dtype);
  for (int64_t l = 0; l < layers; ++l) {
    keys_.push_back(backend.allocate(bytes));
    values_.push_back(backend.allocate(bytes));
  }
}

KvCache& KvCache::operator=(KvCache&& other) noexcept {
  if (this != &other) {
    attachments_.clear();  // graphs first, while the buffers they point into still exist
    backend_ = other.backend_;
    capacity_ = other.capacity_;
    kv_width_ = other.kv_width_;
    dtype_ = other.dtype_;
    lengths_ = std::move(other.lengths_);
    keys_ = std::move(other.keys_);
    values_ = std::move(other.values_);
    attachments_ = std::move(other.attachments_);
  }
  return *this;
}

KvCache::~KvCache() { attachments_.clear(); }

uint64_t KvCache::position_bytes() const {
  return static_cast<uint64_t>(layers()) * 2 * static_cast<uint64_t>(kv_width_) * dtype_size(dtype_);
}

int64_t KvCache::length(int64_t slot) const {
  if (slot < 0 || slot >= slots()) fail_kind(ErrorKind::kInternal, "KV cache slot ", slot, " outside [0, ", slots(), ")");
  return lengths_[static_cast<size_t>(slot)];
}

void KvCache::advance(int64_t slot, int64_t n) {
  const int64_t now = length(slot);
  if (now + n > capacity_) {
    fail_kind(ErrorKind::kLimitExceeded, "sequence of ", now + n, " positions exceeds the context of ", capacity_);
  }
  lengths_[static_cast<size_t>(slot)] = now + n;
}

void KvCache::truncate(int64_t slot, int64_t length) {
  int64_t& current = lengths_.at(static_cast<size_t>(slot));
  if (length < current) current = length < 0 ? 0 : length;
}

void KvCache::set_length(int64_t slot, int64_t length) {
  if (length < 0 || length > capacity_) fail("KV cache slot length ", length, " outside [0, ", capacity_, "]");
  lengths_.at(static_cast<size_t>(slot)) = length;
}

void KvCache::discard(int64_t slot) {
  // Even at length 0: a prefill that failed part-way wrote positions it never counted.
  length(slot);  // checks the slot
  lengths_[static_cast<size_t>(slot)] = 0;
  const size_t element = dtype_size(dtype_);
  const size_t bytes = static_cast<size_t>(slot_stride()) * element;
  const size_t at = static_cast<size_t>(slot * slot_stride()) * element;
  for (int64_t l = 0; l < layers(); ++l) {
    backend_->discard(static_cast<uint8_t*>(keys(l)) + at, bytes);
    backend_->discard(static_cast<uint8_t*>(values(l)) + at, bytes);
  }
}

void KvCache::copy_prefix(int64_t from, int64_t to, int64_t positions) {
  if (positions < 0 || positions > length(from) || to < 0 || to >= slots()) {
    fail_kind(ErrorKind::kInternal, "KV cache: cannot copy ", positions, " positions from slot ", from, " to ", to);
  }
  if (from != to) {
    const size_t element = dtype_size(dtype_);
    const size_t bytes = static_cast<size_t>(positions * kv_width_) * element;
    const size_t src = static_cast<size_t>(from * slot_stride()) * element;
    const size_t dst = static_cast<size_t>(to * slot_stride()) * element;
    for (int64_t l = 0; l < layers(); ++l) {
      backend_->copy_device(static_cast<uint8_t*>(keys(l)) + dst, static_cast<uint8_t*>(keys(l)) + src, bytes);
      backend_->copy_device(static_cast<uint8_t*>(values(l)) + dst, static_cast<uint8_t*>(values(l)) + src, bytes);
    }
  }
  lengths_[static_cast<size_t>(to)] = positions;
}

}  // namespace lumen
