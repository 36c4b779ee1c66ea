// ImageEmbeddingCache: projected image embeddings ([tokens_per_image, hidden] fp32, in the
// engine's backend memory: on a GPU the budget is device memory) keyed by the SHA-256 of the
// image file's bytes, least recently used first out, bounded by bytes.
// A repeated image (the same picture in every turn of a conversation, or sent by many
// clients) is then neither decoded nor encoded again. Thread-safe.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "lumen/core/content_hash.h"
#include "lumen/models/imp_device_model.h"

namespace lumen {

class ImageEmbeddingCache {
 public:
  explicit ImageEmbeddingCache(uint64_t max_bytes) : max_bytes_(max_bytes) {}

  // The embedding, marked most recently used, or null. Counts a hit or a miss.
  ImageEmbedding find(const ContentHash& hash);
  // Stores an embedding, evicting the least recently used until it fits. One larger than the
  // whole budget is not stored. Entries handed out stay alive with their holders.
  void insert(const ContentHash& hash, ImageEmbedding embedding);

  uint64_t bytes() const;
  size_t entries() const;
  uint64_t hits() const;
  uint64_t misses() const;
  uint64_t max_bytes() const { return max_bytes_; }

  static uint64_t entry_bytes(const DeviceImageEmbedding& embedding) { return embedding.bytes(); }

 private:
  struct Entry {
    ContentHash hash;
    ImageEmbedding embedding;
    uint64_t bytes;
  };
  const uint64_t max_bytes_;
  mutable std::mutex mutex_;
  std::list<Entry> lru_;  // front: most recently used
  std::unordered_map<ContentHash, std::list<Entry>::iterator, ContentHashHasher> index_;
  uint64_t bytes_ = 0;
  uint64_t hits_ = 0, misses_ = 0;
};

}  // namespace lumen
