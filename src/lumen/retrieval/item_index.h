// A saved catalog index: items (id + fields), one fused vector per item and the nearest-
// neighbour structure over them, plus the embedder's description so queries are embedded in
// the same space. On disk it is a directory:
//   manifest.json  {"format": "lumen-index", "version": 1, "embedder": {...}, "dim", "mode",
//                   "hnsw": {"m", "ef_construction", "ef_search"}, "fusion": {...}, "slots", "live"}
//   items.jsonl    one line per slot: the item's fields, or {"removed": true} for a tombstone
//   vectors.f32    [slots, dim] float32
//   hnsw.bin       hnswlib's graph (mode "hnsw" only)
// Saving writes a sibling directory and swaps it in, so a reader never sees half an index.
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "lumen/retrieval/catalog.h"
#include "lumen/retrieval/embedder.h"
#include "lumen/retrieval/vector_index.h"

namespace lumen {

// How an item with both an image and a text becomes one vector:
// normalize(image * e_image + text * e_text); an item with one of them uses that one alone.
struct FusionWeights {
  float image = 1.0f;
  float text = 1.0f;
};

struct IndexConfig {
  std::optional<IndexMode> mode;   // unset: exact up to exact_threshold items, else hnsw
  int64_t exact_threshold = 10000;
  HnswParams hnsw;
  FusionWeights fusion;
};

struct ScoredItem {
  std::string id;
  float score = 0;
  const nlohmann::json* fields = nullptr;  // owned by the index
};

// {"results": [{"id", "score", ...metadata}]}, best first: what `lumen search` / `recommend`
// print, /v1/search and /v1/recommend answer, and lumen.Index returns.
nlohmann::json results_json(const std::vector<ScoredItem>& results);

// Fused, normalised vectors [items, dim] for catalog items, embedding `batch` at a time and
// calling progress(done) after each batch. Throws Error naming the item that fails.
std::vector<float> embed_catalog_items(const Embedder& embedder, const std::vector<CatalogItem>& items,
                                       const FusionWeights& fusion, int64_t batch = 8,
                                       const std::function<void(size_t)>& progress = {});

class ItemIndex {
 public:
  // An empty index for vectors of this embedder.
  ItemIndex(nlohmann::json embedder_spec, int64_t dim, const IndexConfig& config, size_t expected_items);
  // Reads a saved index; every size is checked against the files. Throws Error.
  static ItemIndex load(const std::filesystem::path& dir);
  void save(const std::filesystem::path& dir) const;

  const nlohmann::json& embedder_spec() const { return embedder_spec_; }
  int64_t dim() const { return vectors_.dim(); }
  IndexMode mode() const { return vectors_.mode(); }
  const FusionWeights& fusion() const { return fusion_; }
  const HnswParams& hnsw_params() const { return vectors_.params(); }
  size_t size() const { return static_cast<size_t>(vectors_.live_count()); }
  bool contains(const std::string& id) const { return slot_of_.count(id) != 0; }
  // The item's vector [dim]; throws Error (kNotFound) for an unknown id.
  const float* vector_of(const std::string& id) const;
  const nlohmann::json& fields_of(const std::string& id) const;
  // Every live item's id, in slot order (the order items were added, tombstones skipped).
  std::vector<std::string> ids() const;

  // Adds items (vectors [n, dim] in the same order); an existing id is replaced.
  void upsert(const std::vector<CatalogItem>& items, const std::vector<float>& vectors);
  // Removes the ids; throws Error (kNotFound) naming any unknown id, before removing anything.
  void remove(const std::vector<std::string>& ids);

  // The k best items for `query` [dim], best first, leaving out `exclude` ids.
  std::vector<ScoredItem> search(const float* query, int64_t k, const std::vector<std::string>& exclude = {}) const;

 private:
  ScoredItem scored(int64_t slot, float score) const;

  nlohmann::json embedder_spec_;
  FusionWeights fusion_;
  VectorIndex vectors_;
  std::vector<std::string> ids_;             // per slot ("" for a tombstone)
  std::vector<nlohmann::json> fields_;       // per slot
  std::unordered_map<std::string, int64_t> slot_of_;
};

// Checks that `embedder` produces the space the index was built in (same method, dimension
// and, for caption/prompt/siglip, settings); throws Error explaining the mismatch.
void check_embedder_matches(const ItemIndex& index, const Embedder& embedder);

}  // namespace lumen
