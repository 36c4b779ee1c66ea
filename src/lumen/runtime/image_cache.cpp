#include "lumen/runtime/image_cache.h"

namespace lumen {

ImageEmbedding ImageEmbeddingCache::find(const ContentHash& hash) {
  std::lock_guard lock(mutex_);
  auto it = index_.find(hash);
  if (it == index_.end()) {
    ++misses_;
    return nullptr;
  }
  ++hits_;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->embedding;
}

void ImageEmbeddingCache::insert(const ContentHash& hash, ImageEmbedding embedding) {
  if (!embedding) return;
  const uint64_t size = entry_bytes(*embedding);
  std::lock_guard lock(mutex_);
  if (size > max_bytes_) return;
  if (auto it = index_.find(hash); it != index_.end()) {  // encoded twice concurrently: keep one
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  while (bytes_ + size > max_bytes_ && !lru_.empty()) {
    bytes_ -= lru_.back().bytes;
    index_.erase(lru_.back().hash);
    lru_.pop_back();
  }
  lru_.push_front({hash, std::move(embedding), size});
  index_[hash] = lru_.begin();
  bytes_ += size;
}

uint64_t ImageEmbeddingCache::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}
size_t ImageEmbeddingCache::entries() const {
  std::lock_guard lock(mutex_);
  return lru_.size();
}
uint64_t ImageEmbeddingCache::hits() const {
  std::lock_guard lock(mutex_);
  return hits_;
}
uint64_t ImageEmbeddingCache::misses() const {
  std::lock_guard lock(mutex_);
  return misses_;
}

}  // namespace lumen
