// Joining shard indexes into one (`lumen index merge OUT SHARD...`): the shards of a catalog
// built with `lumen index build --shard K/N` become the index a single build would have made.
// Items keep their order: shards in the order given, each shard's items in its slot order, so
// merging shards 0..N-1 of one catalog gives the catalog's order and the same search results
// as one `index build` over it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "lumen/retrieval/item_index.h"

namespace lumen {

struct IndexMergeOptions {
  std::optional<IndexMode> mode;   // unset: exact up to exact_threshold items, else hnsw (as build)
  int64_t exact_threshold = 10000;
};

// Accumulates shards one at a time (each can be dropped after add()), then builds the index.
// Every shard must agree with the first on the embedder (method, model and every recorded
// setting such as the caption prompt), the dimension and the fusion weights; an id found in two
// shards is refused. The merged index takes the first shard's HNSW parameters.
class IndexMerger {
 public:
  explicit IndexMerger(IndexMergeOptions options = {});

  // Checks `shard` against the first one added and copies its items and vectors. Throws Error
  // naming `label` (a shard's path, say) and the disagreement or the duplicate id; nothing is
  // taken from a refused shard.
  void add(const ItemIndex& shard, const std::string& label);
  size_t shards() const { return labels_.size(); }
  size_t items() const { return items_.size(); }

  // The merged index. Throws Error when no shard was added.
  ItemIndex finish() const;

 private:
  IndexMergeOptions options_;
  std::vector<std::string> labels_;
  nlohmann::json embedder_spec_;
  int64_t dim_ = 0;
  FusionWeights fusion_;
  HnswParams hnsw_;
  std::vector<CatalogItem> items_;  // id and fields only
  std::vector<float> vectors_;      // [items, dim]
  std::unordered_map<std::string, size_t> shard_of_;  // id -> index into labels_
};

// Loads each directory (one at a time) and merges them. Throws Error.
ItemIndex merge_index_dirs(const std::vector<std::filesystem::path>& dirs, const IndexMergeOptions& options = {});

}  // namespace lumen
