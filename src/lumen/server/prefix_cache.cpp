#include "lumen/server/prefix_cache.h"

#include <algorithm>
#include <cstring>

namespace lumen::server {

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

PrefixKvCache::PrefixKvCache(const PhiDecoder& decoder, int64_t tokens_per_image, uint64_t max_bytes,
                             int64_t min_reuse)
    : decoder_(decoder),
      tokens_per_image_(tokens_per_image),
      max_bytes_(max_bytes),
      min_reuse_(std::max<int64_t>(1, min_reuse)) {}

int64_t PrefixKvCache::key_positions(PrefixKey key) const { return (key & kImageBit) ? tokens_per_image_ : 1; }

uint64_t PrefixKvCache::cache_bytes(const KvCache& cache, int64_t layers) {
  return static_cast<uint64_t>(layers) * static_cast<uint64_t>(cache.capacity()) * cache.row_bytes() * 2;
}

KvCache PrefixKvCache::copy_prefix(KvCache& source, int64_t positions, int64_t capacity) const {
  KvCache copy = decoder_.make_cache(capacity);
  if (copy.dtype() != source.dtype()) fail_kind(ErrorKind::kInternal, "prefix cache: KV dtype changed");
  const size_t bytes = static_cast<size_t>(positions) * source.row_bytes();
  for (int64_t l = 0; l < decoder_.config().num_layers; ++l) {
    std::memcpy(copy.keys(l), source.keys(l), bytes);
    std::memcpy(copy.values(l), source.values(l), bytes);
  }
  copy.advance(positions);
  return copy;
}

std::optional<PrefixKvCache::Reuse> PrefixKvCache::acquire(std::span<const PrefixKey> keys, int64_t max_positions,
                                                           int64_t capacity) {
  std::lock_guard lock(mutex_);
  auto best = lru_.end();
  int64_t best_positions = 0;
  for (auto it = lru_.begin(); it != lru_.end(); ++it) {
    int64_t positions = 0;
    const size_t n = std::min(keys.size(), it->keys.size());
    for (size_t i = 0; i < n && keys[i] == it->keys[i]; ++i) positions += key_positions(keys[i]);
    positions = std::min({positions, max_positions, it->cache.length()});
    if (positions > best_positions) {
      best_positions = positions;
      best = it;
    }
  }
  if (best == lru_.end() || best_positions < min_reuse_) return std::nullopt;
  Reuse reuse;
  reuse.positions = best_positions;
  const bool whole = best_positions == best->cache.length();
  if (whole && best->cache.capacity() >= capacity) {
    reuse.cache = std::move(best->cache);
  } else {
    reuse.cache = copy_prefix(best->cache, best_positions, capacity);
  }
  if (whole) {
    bytes_ -= best->bytes;
    lru_.erase(best);
  } else {
    lru_.splice(lru_.begin(), lru_, best);
  }
  reuse.cache.truncate(best_positions);
  return reuse;
}

void PrefixKvCache::release(std::vector<PrefixKey> keys, KvCache cache) {
  if (cache.length() < min_reuse_) return;
  // Held caches are trimmed to their length: a reply's unused budget is not worth keeping.
  if (cache.capacity() > cache.length()) cache = copy_prefix(cache, cache.length(), cache.length());
  const uint64_t size = cache_bytes(cache, decoder_.config().num_layers);
  std::lock_guard lock(mutex_);
  if (size > max_bytes_) return;
  // A held cache whose keys begin the new one's is superseded by it (the same request served
  // again, or the earlier turn of this conversation).
  for (auto it = lru_.begin(); it != lru_.end();) {
    if (it->keys.size() <= keys.size() && std::equal(it->keys.begin(), it->keys.end(), keys.begin())) {
      bytes_ -= it->bytes;
      it = lru_.erase(it);
    } else {
      ++it;
    }
  }
  while (bytes_ + size > max_bytes_ && !lru_.empty()) {
    bytes_ -= lru_.back().bytes;
    lru_.pop_back();
  }
  lru_.push_front({std::move(keys), std::move(cache), size});
  bytes_ += size;
}

uint64_t PrefixKvCache::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

size_t PrefixKvCache::entries() const {
  std::lock_guard lock(mutex_);
  return lru_.size();
}

}  // namespace lumen::server
