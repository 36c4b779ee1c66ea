#include "lumen/retrieval/index_merge.h"

#include <algorithm>
#include <filesystem>

#include "lumen/core/error.h"

namespace lumen {

namespace {

// One embedder setting of two shards' specs agrees. The model is a path as each shard's build
// was given it: a relative and an absolute path to one directory are the same model.
bool same_setting(const std::string& key, const nlohmann::json& a, const nlohmann::json& b) {
  const nlohmann::json x = a.value(key, nlohmann::json()), y = b.value(key, nlohmann::json());
  if (x == y) return true;
  if (key != "model" || !x.is_string() || !y.is_string()) return false;
  std::error_code ec_x, ec_y;
  const auto px = std::filesystem::weakly_canonical(x.get<std::string>(), ec_x);
  const auto py = std::filesystem::weakly_canonical(y.get<std::string>(), ec_y);
  return !ec_x && !ec_y && px == py;
}

std::string shown(const nlohmann::json& spec, const std::string& key) {
  return spec.contains(key) ? spec[key].dump() : "nothing";
}

}  // namespace

IndexMerger::IndexMerger(IndexMergeOptions options) : options_(std::move(options)) {}

void IndexMerger::add(const ItemIndex& shard, const std::string& label) {
  const nlohmann::json& spec = shard.embedder_spec();
  if (labels_.empty()) {
    embedder_spec_ = spec;
    dim_ = shard.dim();
    fusion_ = shard.fusion();
    hnsw_ = shard.hnsw_params();
  } else {
    const std::string& first = labels_.front();
    // Method and model first: they are what a user mixed up; then the dimension; then any other
    // setting that changes the vectors (caption prompt, caption length, bigram weight, ...).
    for (const char* key : {"method", "model"}) {
      if (!same_setting(key, spec, embedder_spec_)) {
        fail(label, ": built with embedder ", key, " ", shown(spec, key), ", but ", first, " with ",
             shown(embedder_spec_, key), "; shards must share one embedder");
      }
    }
    if (shard.dim() != dim_) {
      fail(label, ": ", shard.dim(), "-dimensional vectors, but ", first, " has ", dim_, "; shards must share one dimension");
    }
    std::vector<std::string> keys;
    for (const auto& [key, value] : spec.items()) keys.push_back(key);
    for (const auto& [key, value] : embedder_spec_.items()) keys.push_back(key);
    std::sort(keys.begin(), keys.end());
    for (const auto& key : keys) {
      if (!same_setting(key, spec, embedder_spec_)) {
        fail(label, ": built with embedder setting ", key, " = ", shown(spec, key), ", but ", first, " with ",
             shown(embedder_spec_, key), "; shards must share one embedder");
      }
    }
    if (shard.fusion().image != fusion_.image || shard.fusion().text != fusion_.text) {
      fail(label, ": fusion weights image ", shard.fusion().image, ", text ", shard.fusion().text, ", but ", first,
           " has image ", fusion_.image, ", text ", fusion_.text, "; shards must fuse vectors alike");
    }
  }
  // All checks before any copy: a refused shard leaves the merger as it was.
  const std::vector<std::string> ids = shard.ids();
  for (const auto& id : ids) {
    if (auto it = shard_of_.find(id); it != shard_of_.end()) {
      fail(label, ": id \"", id, "\" is also in ", labels_[it->second],
           "; shards must not share ids (was one catalog line given to two shards?)");
    }
  }
  const size_t d = static_cast<size_t>(dim_);
  const size_t shard_number = labels_.size();
  labels_.push_back(label);
  for (const auto& id : ids) {
    CatalogItem item;
    item.id = id;
    item.fields = shard.fields_of(id);
    items_.push_back(std::move(item));
    const float* v = shard.vector_of(id);
    vectors_.insert(vectors_.end(), v, v + d);
    shard_of_.emplace(id, shard_number);
  }
}

ItemIndex IndexMerger::finish() const {
  if (labels_.empty()) fail("index merge: no shards given");
  IndexConfig config;
  config.mode = options_.mode;
  config.exact_threshold = options_.exact_threshold;
  config.hnsw = hnsw_;
  config.fusion = fusion_;
  ItemIndex index(embedder_spec_, dim_, config, items_.size());
  index.upsert(items_, vectors_);
  return index;
}

ItemIndex merge_index_dirs(const std::vector<std::filesystem::path>& dirs, const IndexMergeOptions& options) {
  IndexMerger merger(options);
  for (const auto& dir : dirs) merger.add(ItemIndex::load(dir), dir.string());
  return merger.finish();
}

}  // namespace lumen
