// Nearest-neighbour search over L2-normalised vectors by inner product (cosine), in two modes:
//   exact  a scan of every vector: right answers, fine up to tens of thousands of items;
//   hnsw   hnswlib's HNSW graph (Debian libhnswlib-dev): approximate, sub-linear, for large
//          catalogs.
// Vectors live in slots [0, slots()); a removed slot stays as a tombstone (hnswlib marks it
// deleted) until compact() rebuilds the graph without them. Slot numbers are the hnswlib labels.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace lumen {

enum class IndexMode { kExact, kHnsw };
const char* index_mode_name(IndexMode mode);
IndexMode parse_index_mode(const std::string& name);  // "exact" | "hnsw"; throws Error

struct HnswParams {
  int64_t m = 16;                 // graph degree (hnswlib M); level 0 keeps 2*M links
  int64_t ef_construction = 200;  // candidate list while inserting
  int64_t ef_search = 64;         // candidate list while searching (raised to k when smaller)
  uint64_t seed = 100;            // level generator seed, so builds are reproducible
};

struct SearchHit {
  int64_t slot = 0;
  float score = 0;  // inner product
};

class VectorIndex {
 public:
  VectorIndex(int64_t dim, IndexMode mode, const HnswParams& params = {});
  ~VectorIndex();
  VectorIndex(VectorIndex&&) noexcept;
  VectorIndex& operator=(VectorIndex&&) noexcept;

  int64_t dim() const { return dim_; }
  IndexMode mode() const { return mode_; }
  const HnswParams& params() const { return params_; }
  int64_t slots() const { return static_cast<int64_t>(live_.size()); }
  int64_t live_count() const { return live_count_; }
  bool is_live(int64_t slot) const { return slot >= 0 && slot < slots() && live_[static_cast<size_t>(slot)]; }
  const float* vector(int64_t slot) const { return vectors_.data() + slot * dim_; }

  // Appends vectors [n, dim] as new slots; returns the first new slot.
  int64_t add(const float* vectors, int64_t n);
  // Tombstones a slot (no-op if already removed). Throws Error for a slot out of range.
  void remove(int64_t slot);
  // Drops tombstones and renumbers: old_to_new[s] is the new slot of s or -1. Rebuilds the graph.
  std::vector<int64_t> compact();

  // The best k live slots for `query` [dim], best first, skipping slots where skip(slot) is
  // true (the ANN search widens its candidate list to make up for skipped ones).
  std::vector<SearchHit> search(const float* query, int64_t k, const std::function<bool(int64_t)>& skip = {}) const;

  // Files: DIR/vectors.f32 (raw little-endian [slots, dim]), DIR/hnsw.bin (hnswlib's own
  // format, hnsw mode only). Liveness is the caller's to store (it knows which ids are gone).
  void save(const std::filesystem::path& dir) const;
  // Checks every size against the files before allocating and validates the whole hnswlib
  // graph (link counts, neighbour ids, labels) before hnswlib reads it. Throws Error.
  static VectorIndex load(const std::filesystem::path& dir, int64_t dim, int64_t slots, const std::vector<bool>& live,
                          IndexMode mode, const HnswParams& params);

 private:
  void build_graph();
  struct Hnsw;

  int64_t dim_ = 0;
  IndexMode mode_ = IndexMode::kExact;
  HnswParams params_;
  std::vector<float> vectors_;  // [slots, dim]
  std::vector<bool> live_;
  int64_t live_count_ = 0;
  std::unique_ptr<Hnsw> hnsw_;
};

// Checks that `path` is an hnswlib 0.6 index of exactly `count` elements of `dim` floats whose
// every link points at an element and whose labels are 0..count-1. Throws Error naming the
// first problem. Exposed for tests.
void validate_hnsw_file(const std::filesystem::path& path, int64_t count, int64_t dim);

}  // namespace lumen
