// PrefixKvCache: the KV caches of finished sequences, held so that a conversation's next turn
// (whose prompt repeats the previous prompt and reply) starts from them instead of prefilling
// everything again. Least recently used first out, bounded by bytes.
//
// A held cache is described by one key per prompt unit: a text token is its id, an <image>
// marker is its image's content hash (tagged with the top bit), so a prefix matches only if
// the same images sit at the same places. An image unit covers tokens_per_image positions.
#pragma once

#include <cstdint>
#include <list>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

#include "lumen/models/phi_decoder.h"
#include "lumen/runtime/kv_cache.h"
#include "lumen/core/content_hash.h"

namespace lumen::server {

using PrefixKey = uint64_t;

// Keys of a prompt: image_hashes[i] belongs to the i-th occurrence of image_token_id.
std::vector<PrefixKey> prefix_keys(std::span<const int32_t> tokens, int32_t image_token_id,
                                   std::span<const ContentHash> image_hashes);

class PrefixKvCache {
 public:
  // Matches shorter than min_reuse positions are not worth a lookup's copy.
  PrefixKvCache(const PhiDecoder& decoder, int64_t tokens_per_image, uint64_t max_bytes, int64_t min_reuse = 8);

  struct Reuse {
    KvCache cache;              // capacity >= the requested one, length == positions
    int64_t positions = 0;      // leading prompt positions already in the cache
  };

  // A cache holding the longest held prefix of `keys`, at most max_positions long, with room
  // for `capacity` positions. A held cache matched to its end is handed over (it continues
  // that conversation); one matched part-way is copied, so its conversation keeps it.
  std::optional<Reuse> acquire(std::span<const PrefixKey> keys, int64_t max_positions, int64_t capacity);

  // Holds a finished sequence's cache; keys describe exactly cache.length() positions. Held
  // caches whose keys are a prefix of `keys` are dropped: this one covers them.
  void release(std::vector<PrefixKey> keys, KvCache cache);

  uint64_t bytes() const;
  size_t entries() const;

  static uint64_t cache_bytes(const KvCache& cache, int64_t layers);

 private:
  struct Entry {
    std::vector<PrefixKey> keys;
    KvCache cache;
    uint64_t bytes = 0;
  };
  int64_t key_positions(PrefixKey key) const;
  KvCache copy_prefix(KvCache& source, int64_t positions, int64_t capacity) const;

  const PhiDecoder& decoder_;
  const int64_t tokens_per_image_;
  const uint64_t max_bytes_;
  const int64_t min_reuse_;
  mutable std::mutex mutex_;
  std::list<Entry> lru_;  // front: most recently used
  uint64_t bytes_ = 0;
};

}  // namespace lumen::server
