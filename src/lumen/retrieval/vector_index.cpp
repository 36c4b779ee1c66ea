#include "lumen/retrieval/vector_index.h"

// Debian's hnswlib (0.6.2), with its SSE paths on, prefetches "the neighbour after the last"
// in its search loops by reading one link past the end of a malloc'd upper-level link list
// (hnswalg.h, searchBaseLayer): a real out-of-bounds read that AddressSanitizer reports.
// Without manual vectorization those prefetches are compiled out; its distance loops are
// then plain C++, which the compiler still vectorizes, and search is far from our bottleneck.
#define NO_MANUAL_VECTORIZATION
#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <mutex>

#include "lumen/core/error.h"
#include "lumen/core/mapped_file.h"
#include "lumen/kernels/cpu/vector_ops.h"

namespace lumen {

struct VectorIndex::Hnsw {
  explicit Hnsw(int64_t dim) : space(static_cast<size_t>(dim)) {}
  hnswlib::InnerProductSpace space;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> graph;
  std::mutex mutex;  // setEf + searchKnn must not interleave across threads
};

const char* index_mode_name(IndexMode mode) { return mode == IndexMode::kExact ? "exact" : "hnsw"; }

IndexMode parse_index_mode(const std::string& name) {
  if (name == "exact") return IndexMode::kExact;
  if (name == "hnsw") return IndexMode::kHnsw;
  fail("unknown index mode '", name, "' (expected exact or hnsw)");
}

VectorIndex::VectorIndex(int64_t dim, IndexMode mode, const HnswParams& params)
    : dim_(dim), mode_(mode), params_(params) {
  if (dim <= 0 || dim > 65536) fail("vector dimension ", dim, " is outside [1, 65536]");
  if (params.m < 2 || params.m > 256) fail("HNSW M ", params.m, " is outside [2, 256]");
  if (params.ef_construction < 1 || params.ef_construction > 100000 || params.ef_search < 1 || params.ef_search > 100000) {
    fail("HNSW ef values must be in [1, 100000]");
  }
  if (mode_ == IndexMode::kHnsw) build_graph();
}

VectorIndex::~VectorIndex() = default;
VectorIndex::VectorIndex(VectorIndex&&) noexcept = default;
VectorIndex& VectorIndex::operator=(VectorIndex&&) noexcept = default;

void VectorIndex::build_graph() {
  hnsw_ = std::make_unique<Hnsw>(dim_);
  const size_t capacity = std::max<size_t>(16, live_.size());
  try {
    hnsw_->graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(
        &hnsw_->space, capacity, static_cast<size_t>(params_.m), static_cast<size_t>(params_.ef_construction),
        static_cast<size_t>(params_.seed));
    for (int64_t s = 0; s < slots(); ++s) {
      hnsw_->graph->addPoint(vector(s), static_cast<hnswlib::labeltype>(s));
      if (!live_[static_cast<size_t>(s)]) hnsw_->graph->markDelete(static_cast<hnswlib::labeltype>(s));
    }
  } catch (const std::runtime_error& e) {
    fail_kind(ErrorKind::kInternal, "hnswlib: ", e.what());
  }
}

int64_t VectorIndex::add(const float* vectors, int64_t n) {
  const int64_t first = slots();
  if (n <= 0) return first;
  vectors_.insert(vectors_.end(), vectors, vectors + n * dim_);
  live_.resize(live_.size() + static_cast<size_t>(n), true);
  live_count_ += n;
  if (hnsw_) {
    try {
      auto& graph = *hnsw_->graph;
      if (graph.max_elements_ < static_cast<size_t>(slots())) {
        graph.resizeIndex(std::max<size_t>(static_cast<size_t>(slots()), graph.max_elements_ * 2));
      }
      for (int64_t s = first; s < slots(); ++s) graph.addPoint(vector(s), static_cast<hnswlib::labeltype>(s));
    } catch (const std::runtime_error& e) {
      fail_kind(ErrorKind::kInternal, "hnswlib: ", e.what());
    }
  }
  return first;
}

void VectorIndex::remove(int64_t slot) {
  if (slot < 0 || slot >= slots()) fail_kind(ErrorKind::kInternal, "slot ", slot, " is out of range");
  if (!live_[static_cast<size_t>(slot)]) return;
  live_[static_cast<size_t>(slot)] = false;
  --live_count_;
  if (hnsw_) hnsw_->graph->markDelete(static_cast<hnswlib::labeltype>(slot));
}

std::vector<int64_t> VectorIndex::compact() {
  std::vector<int64_t> old_to_new(live_.size(), -1);
  std::vector<float> kept;
  kept.reserve(static_cast<size_t>(live_count_ * dim_));
  int64_t next = 0;
  for (int64_t s = 0; s < slots(); ++s) {
    if (!live_[static_cast<size_t>(s)]) continue;
    old_to_new[static_cast<size_t>(s)] = next++;
    kept.insert(kept.end(), vector(s), vector(s) + dim_);
  }
  vectors_ = std::move(kept);
  live_.assign(static_cast<size_t>(next), true);
  live_count_ = next;
  if (mode_ == IndexMode::kHnsw) build_graph();
  return old_to_new;
}

std::vector<SearchHit> VectorIndex::search(const float* query, int64_t k,
                                           const std::function<bool(int64_t)>& skip) const {
  std::vector<SearchHit> hits;
  if (k <= 0 || live_count_ == 0) return hits;
  auto wanted = [&](int64_t slot) { return live_[static_cast<size_t>(slot)] && !(skip && skip(slot)); };
  if (mode_ == IndexMode::kExact) {
    for (int64_t s = 0; s < slots(); ++s) {
      if (wanted(s)) hits.push_back({s, dot(query, vector(s), dim_)});
    }
    const size_t keep = std::min(hits.size(), static_cast<size_t>(k));
    // Ties break by slot so results are reproducible.
    auto better = [](const SearchHit& a, const SearchHit& b) { return a.score != b.score ? a.score > b.score : a.slot < b.slot; };
    std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(keep), hits.end(), better);
    hits.resize(keep);
    return hits;
  }
  // HNSW: ask for k plus room for skipped slots, doubling until k survive or all were seen.
  size_t ask = static_cast<size_t>(k) + 8;
  std::lock_guard<std::mutex> lock(hnsw_->mutex);
  while (true) {
    ask = std::min(ask, static_cast<size_t>(live_count_));
    hnsw_->graph->setEf(std::max<size_t>(static_cast<size_t>(params_.ef_search), ask));
    auto queue = hnsw_->graph->searchKnn(query, ask);
    hits.clear();
    while (!queue.empty()) {  // furthest first
      const auto [distance, label] = queue.top();
      queue.pop();
      const int64_t slot = static_cast<int64_t>(label);
      if (wanted(slot)) hits.push_back({slot, dot(query, vector(slot), dim_)});
    }
    std::reverse(hits.begin(), hits.end());
    std::stable_sort(hits.begin(), hits.end(), [](const SearchHit& a, const SearchHit& b) { return a.score > b.score; });
    if (hits.size() >= static_cast<size_t>(k) || ask >= static_cast<size_t>(live_count_)) break;
    ask *= 2;
  }
  if (hits.size() > static_cast<size_t>(k)) hits.resize(static_cast<size_t>(k));
  return hits;
}

void VectorIndex::save(const std::filesystem::path& dir) const {
  const auto vectors_path = dir / "vectors.f32";
  {
    std::ofstream out(vectors_path, std::ios::binary | std::ios::trunc);
    if (!out) fail_kind(ErrorKind::kIo, "cannot write ", vectors_path.string());
    out.write(reinterpret_cast<const char*>(vectors_.data()), static_cast<std::streamsize>(vectors_.size() * sizeof(float)));
    if (!out) fail_kind(ErrorKind::kIo, "cannot write ", vectors_path.string());
  }
  const auto graph_path = dir / "hnsw.bin";
  std::error_code ec;
  if (hnsw_) {
    try {
      hnsw_->graph->saveIndex(graph_path.string());
    } catch (const std::runtime_error& e) {
      fail_kind(ErrorKind::kIo, "cannot write ", graph_path.string(), ": ", e.what());
    }
    if (!std::filesystem::is_regular_file(graph_path, ec)) fail_kind(ErrorKind::kIo, "cannot write ", graph_path.string());
  } else {
    std::filesystem::remove(graph_path, ec);
  }
}

VectorIndex VectorIndex::load(const std::filesystem::path& dir, int64_t dim, int64_t slots, const std::vector<bool>& live,
                              IndexMode mode, const HnswParams& params) {
  VectorIndex index(dim, IndexMode::kExact, params);
  if (slots < 0 || static_cast<size_t>(slots) != live.size()) fail_kind(ErrorKind::kInternal, "slot count mismatch");
  const auto vectors_path = dir / "vectors.f32";
  std::error_code ec;
  const auto size = std::filesystem::file_size(vectors_path, ec);
  if (ec) fail_kind(ErrorKind::kNotFound, vectors_path.string(), ": missing (", ec.message(), ")");
  // Sizes come from the manifest: check them against the file before allocating anything.
  if (size % (static_cast<uint64_t>(dim) * sizeof(float)) != 0 || size / (static_cast<uint64_t>(dim) * sizeof(float)) != static_cast<uint64_t>(slots)) {
    fail(vectors_path.string(), ": ", size, " bytes do not hold ", slots, " vectors of ", dim, " floats");
  }
  {
    MappedFile file(vectors_path);
    index.vectors_.resize(static_cast<size_t>(slots * dim));
    if (size > 0) std::memcpy(index.vectors_.data(), file.data(), size);
  }
  for (float x : index.vectors_) {
    if (!std::isfinite(x)) fail(vectors_path.string(), ": holds a non-finite value");
  }
  index.live_ = live;
  index.live_count_ = static_cast<int64_t>(std::count(live.begin(), live.end(), true));
  index.mode_ = mode;
  if (mode == IndexMode::kHnsw) {
    const auto graph_path = dir / "hnsw.bin";
    validate_hnsw_file(graph_path, slots, dim);
    index.hnsw_ = std::make_unique<Hnsw>(dim);
    try {
      // The loading constructor: if hnswlib throws half-way, no destructor runs over the
      // members it had not set yet.
      index.hnsw_->graph = std::make_unique<hnswlib::HierarchicalNSW<float>>(
          &index.hnsw_->space, graph_path.string(), false, std::max<size_t>(16, static_cast<size_t>(slots)));
    } catch (const std::runtime_error& e) {
      fail(graph_path.string(), ": hnswlib cannot load it: ", e.what());
    }
    // Tombstones are the manifest's; make the graph agree whatever its own flags said.
    for (int64_t s = 0; s < slots; ++s) {
      const bool deleted = index.hnsw_->graph->isMarkedDeleted(static_cast<hnswlib::tableint>(s));
      if (!live[static_cast<size_t>(s)] && !deleted) index.hnsw_->graph->markDelete(static_cast<hnswlib::labeltype>(s));
      if (live[static_cast<size_t>(s)] && deleted) index.hnsw_->graph->unmarkDelete(static_cast<hnswlib::labeltype>(s));
    }
  }
  return index;
}

}  // namespace lumen
