// PrefixKvCache: the KV-cache slots of finished sequences, held so that a conversation's next
// turn (whose prompt repeats the previous prompt and reply) starts from them instead of
// prefilling everything again. Least recently used first out, bounded by bytes and entries.
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

#include "lumen/core/content_hash.h"
#include "lumen/runtime/kv_cache.h"

namespace lumen {

using PrefixKey = uint64_t;

// Keys of a prompt: image_hashes[i] belongs to the i-th occurrence of image_token_id.
std::vector<PrefixKey> prefix_keys(std::span<const int32_t> tokens, int32_t image_token_id,
                                   std::span<const ContentHash> image_hashes);

class PrefixKvCache {
 public:
  // Holds slots of `pool` (the scheduler's KV cache), at most max_entries of them and at most
  // max_bytes of filled positions. Matches shorter than min_reuse positions are not worth a
  // lookup's copy.
  PrefixKvCache(KvCache& pool, int64_t tokens_per_image, uint64_t max_bytes, size_t max_entries,
                int64_t min_reuse = 8);

  struct Reuse {
    int64_t slot = -1;          // the pool slot the sequence continues in
    int64_t positions = 0;      // leading prompt positions already in it
  };

  // The longest held prefix of `keys`, at most max_positions long. A held slot matched to its
  // end is handed over (it continues that conversation; free_slot stays free); one matched
  // part-way is copied into free_slot, so its conversation keeps it.
  std::optional<Reuse> acquire(std::span<const PrefixKey> keys, int64_t max_positions, int64_t free_slot);

  // Holds a finished sequence's slot; keys describe exactly its filled positions. Held slots
  // whose keys are a prefix of `keys` are superseded, and the oldest go while over budget:
  // returns the slots no longer held (the given one too when it is not kept).
  std::vector<int64_t> release(std::vector<PrefixKey> keys, int64_t slot);

  // Gives up the least recently used held slot, if any (a new sequence needs one).
  std::optional<int64_t> evict_oldest();

  uint64_t bytes() const;
  size_t entries() const;

 private:
  struct Entry {
    std::vector<PrefixKey> keys;
    int64_t slot = -1;
    uint64_t bytes = 0;
  };
  int64_t key_positions(PrefixKey key) const;

  KvCache& pool_;
  const int64_t tokens_per_image_;
  const uint64_t max_bytes_;
  const size_t max_entries_;
  const int64_t min_reuse_;
  mutable std::mutex mutex_;
  std::list<Entry> lru_;  // front: most recently used
  uint64_t bytes_ = 0;
};

}  // namespace lumen
