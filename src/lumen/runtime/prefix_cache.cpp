#include "lumen/runtime/prefix_cache.h"

#include <algorithm>

namespace lumen {

namespace {
constexpr PrefixKey kImageBit = PrefixKey{1} << 63;
}

std::vector<PrefixKey> prefix_keys(std::span<const int32_t> tokens, int32_t image_token_id,
                                   std::span<const ContentHash> image_hashes) {
  std::vector<PrefixKey> keys;
  keys.reserve(tokens.size());
  size_t image = 0;
  for (int32_t token : tokens) {
    if (token == image_token_id && image < image_hashes.size()) {
      PrefixKey key = 0;
      for (int i = 0; i < 8; ++i) key = (key << 8) | image_hashes[image][static_cast<size_t>(i)];
      keys.push_back(key | kImageBit);
      ++image;
    } else {
      keys.push_back(static_cast<uint32_t>(token));
    }
  }
  return keys;
}

PrefixKvCache::PrefixKvCache(KvCache& pool, int64_t tokens_per_image, uint64_t max_bytes, size_t max_entries,
                             int64_t min_reuse)
    : pool_(pool),
      tokens_per_image_(tokens_per_image),
      max_bytes_(max_bytes),
      max_entries_(max_entries),
      min_reuse_(std::max<int64_t>(1, min_reuse)) {}

int64_t PrefixKvCache::key_positions(PrefixKey key) const { return (key & kImageBit) ? tokens_per_image_ : 1; }

std::optional<PrefixKvCache::Reuse> PrefixKvCache::acquire(std::span<const PrefixKey> keys, int64_t max_positions,
                                                           int64_t free_slot) {
  std::lock_guard lock(mutex_);
  auto best = lru_.end();
  int64_t best_positions = 0;
  for (auto it = lru_.begin(); it != lru_.end(); ++it) {
    int64_t positions = 0;
    const size_t n = std::min(keys.size(), it->keys.size());
    for (size_t i = 0; i < n && keys[i] == it->keys[i]; ++i) positions += key_positions(keys[i]);
    positions = std::min({positions, max_positions, pool_.length(it->slot)});
    if (positions > best_positions) {
      best_positions = positions;
      best = it;
    }
  }
  if (best == lru_.end() || best_positions < min_reuse_) return std::nullopt;
  Reuse reuse;
  reuse.positions = best_positions;
  if (best_positions == pool_.length(best->slot)) {
    reuse.slot = best->slot;
    bytes_ -= best->bytes;
    lru_.erase(best);
  } else {
    pool_.copy_prefix(best->slot, free_slot, best_positions);
    reuse.slot = free_slot;
    lru_.splice(lru_.begin(), lru_, best);
  }
  pool_.truncate(reuse.slot, best_positions);
  return reuse;
}

std::vector<int64_t> PrefixKvCache::release(std::vector<PrefixKey> keys, int64_t slot) {
  std::vector<int64_t> freed;
  const uint64_t size = static_cast<uint64_t>(pool_.length(slot)) * pool_.position_bytes();
  std::lock_guard lock(mutex_);
  if (pool_.length(slot) < min_reuse_ || size > max_bytes_ || max_entries_ == 0) {
    freed.push_back(slot);
    return freed;
  }
  // A held slot whose keys begin the new one's is superseded by it (the same request served
  // again, or the earlier turn of this conversation).
  for (auto it = lru_.begin(); it != lru_.end();) {
    if (it->keys.size() <= keys.size() && std::equal(it->keys.begin(), it->keys.end(), keys.begin())) {
      bytes_ -= it->bytes;
      freed.push_back(it->slot);
      it = lru_.erase(it);
    } else {
      ++it;
    }
  }
  while ((bytes_ + size > max_bytes_ || lru_.size() >= max_entries_) && !lru_.empty()) {
    bytes_ -= lru_.back().bytes;
    freed.push_back(lru_.back().slot);
    lru_.pop_back();
  }
  lru_.push_front({std::move(keys), slot, size});
  bytes_ += size;
  return freed;
}

std::optional<int64_t> PrefixKvCache::evict_oldest() {
  std::lock_guard lock(mutex_);
  if (lru_.empty()) return std::nullopt;
  const int64_t slot = lru_.back().slot;
  bytes_ -= lru_.back().bytes;
  lru_.pop_back();
  return slot;
}

uint64_t PrefixKvCache::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

size_t PrefixKvCache::entries() const {
  std::lock_guard lock(mutex_);
  return lru_.size();
}

}  // namespace lumen
