// Keys and values of every past position, so each new token attends to the past without
// recomputing it: `slots` sequences of up to `capacity` positions each, in one backend's
// memory. Per decoder layer, keys and values are [slots, capacity, kv_width] of dtype(), so a
// decode step over several sequences addresses each by its slot (one graph replays any batch).
//
// The dtype is the backend's choice (Backend::kv_cache_dtype): on the CPU fp32 for exact
// compute (what the fixtures check) and f16 at reduced precision (--quant), which halves the
// bytes decode attention reads per token (at Imp-v1-3B's depth of ~850 positions 0.28 GB of
// the ~2 GB read per token); on CUDA the activation dtype. CPU memory is faulted in only where
// written, so a long capacity reserves address space, not RAM.
//
// The runtime owns caches and hands them to a model's forward pass (models/imp_device_model),
// which fills positions and advances lengths; the model may attach per-cache state (the
// buffers and graph of a decode batch size) that lives and dies with the cache.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "lumen/backend/backend.h"

namespace lumen {

class KvCache {
 public:
  // State a model keeps per cache (e.g. a recorded decode graph, whose pointers are this
  // cache's). Destroyed with the cache.
  struct Attachment {
    virtual ~Attachment() = default;
  };

  KvCache() = default;
  // Throws Error (kLimitExceeded) when the backend cannot hold it.
  KvCache(Backend& backend, int64_t layers, int64_t slots, int64_t capacity, int64_t kv_width, DType dtype);
  KvCache(KvCache&&) noexcept = default;
  KvCache& operator=(KvCache&&) noexcept;
  ~KvCache();

  bool empty() const { return lengths_.empty(); }
  int64_t slots() const { return static_cast<int64_t>(lengths_.size()); }
  int64_t capacity() const { return capacity_; }
  int64_t layers() const { return static_cast<int64_t>(keys_.size()); }
  int64_t kv_width() const { return kv_width_; }
  DType dtype() const { return dtype_; }
  Backend* backend() const { return backend_; }
  // Elements between the starts of consecutive slots.
  int64_t slot_stride() const { return capacity_ * kv_width_; }
  // Bytes of memory one position of one slot takes over all layers (keys and values).
  uint64_t position_bytes() const;

  // Positions filled in a slot.
  int64_t length(int64_t slot = 0) const;
  // Marks n more positions of a slot filled (after every layer wrote them). Throws Error if the
  // slot would overflow.
  void advance(int64_t slot, int64_t n);
  // Forgets positions from `length` on in one slot (prefix reuse, /clear).
  void truncate(int64_t slot, int64_t length);
  // Declares positions [0, length) of a slot filled without computing them (benchmarks).
  void set_length(int64_t slot, int64_t length);
  // Empties a slot and hands its memory back where the backend can (a finished sequence's).
  void discard(int64_t slot);
  // Copies positions [0, positions) of slot `from` into slot `to` (both of this cache), which
  // then holds exactly those positions.
  void copy_prefix(int64_t from, int64_t to, int64_t positions);

  // Layer l's keys / values, slot 0 position 0, in backend memory.
  void* keys(int64_t layer) const { return keys_[static_cast<size_t>(layer)].data(); }
  void* values(int64_t layer) const { return values_[static_cast<size_t>(layer)].data(); }

  std::vector<std::unique_ptr<Attachment>>& attachments() { return attachments_; }

 private:
  Backend* backend_ = nullptr;
  int64_t capacity_ = 0;
  int64_t kv_width_ = 0;
  DType dtype_ = DType::kF32;
  std::vector<int64_t> lengths_;
  std::vector<DeviceBuffer> keys_, values_;
  // Declared last: destroyed first, while the buffers its graphs point into still exist.
  std::vector<std::unique_ptr<Attachment>> attachments_;
};

}  // namespace lumen
