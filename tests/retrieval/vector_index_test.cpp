// VectorIndex: exact search against a brute-force reference, HNSW recall against exact,
// tombstones and compaction, save/load, and refusal of corrupted or inconsistent files.
#include "lumen/retrieval/vector_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <random>
#include <set>

#include "lumen/core/error.h"
#include "lumen/kernels/cpu/vector_ops.h"

namespace lumen {
namespace {

namespace fs = std::filesystem;

std::vector<float> random_unit_vectors(int64_t n, int64_t dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(n * dim));
  for (float& x : v) x = normal(rng);
  l2_normalize_rows(v.data(), n, dim);
  return v;
}

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("lumen_vindex_" + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

TEST(VectorIndex, ExactSearchIsBruteForceTopK) {
  const int64_t n = 300, dim = 16;
  const auto data = random_unit_vectors(n, dim, 1);
  VectorIndex index(dim, IndexMode::kExact);
  index.add(data.data(), n);
  const auto queries = random_unit_vectors(5, dim, 2);
  for (int q = 0; q < 5; ++q) {
    const float* query = queries.data() + q * dim;
    std::vector<std::pair<float, int64_t>> all;
    for (int64_t s = 0; s < n; ++s) all.push_back({dot(query, data.data() + s * dim, dim), s});
    std::sort(all.begin(), all.end(), [](auto& a, auto& b) { return a.first > b.first; });
    const auto hits = index.search(query, 7);
    ASSERT_EQ(hits.size(), 7u);
    for (size_t i = 0; i < hits.size(); ++i) {
      EXPECT_EQ(hits[i].slot, all[i].second);
      EXPECT_FLOAT_EQ(hits[i].score, all[i].first);
    }
  }
}

TEST(VectorIndex, HnswRecallAgainstExactAndSkips) {
  const int64_t n = 3000, dim = 32, k = 10;
  const auto data = random_unit_vectors(n, dim, 3);
  VectorIndex exact(dim, IndexMode::kExact), ann(dim, IndexMode::kHnsw);
  exact.add(data.data(), n);
  ann.add(data.data(), n / 2);  // two adds: the graph grows past its first capacity
  ann.add(data.data() + (n / 2) * dim, n - n / 2);
  const auto queries = random_unit_vectors(50, dim, 4);
  size_t found = 0;
  for (int q = 0; q < 50; ++q) {
    const auto truth = exact.search(queries.data() + q * dim, k);
    const auto got = ann.search(queries.data() + q * dim, k);
    ASSERT_EQ(got.size(), static_cast<size_t>(k));
    std::set<int64_t> truth_slots;
    for (const auto& h : truth) truth_slots.insert(h.slot);
    for (const auto& h : got) found += truth_slots.count(h.slot);
    for (size_t i = 1; i < got.size(); ++i) EXPECT_GE(got[i - 1].score, got[i].score);
  }
  const double recall = static_cast<double>(found) / (50.0 * k);
  std::printf("HNSW recall@10 on 3000 random 32-d vectors: %.3f\n", recall);
  EXPECT_GE(recall, 0.95);
  // Skipped slots never come back, and k results still arrive.
  const float* query = queries.data();
  const auto first = ann.search(query, k);
  std::set<int64_t> skip;
  for (const auto& h : first) skip.insert(h.slot);
  const auto second = ann.search(query, k, [&](int64_t s) { return skip.count(s) != 0; });
  ASSERT_EQ(second.size(), static_cast<size_t>(k));
  for (const auto& h : second) EXPECT_EQ(skip.count(h.slot), 0u);
}

TEST(VectorIndex, RemoveCompactAndRoundTrip) {
  TempDir dir;
  const int64_t n = 200, dim = 8;
  const auto data = random_unit_vectors(n, dim, 5);
  for (IndexMode mode : {IndexMode::kExact, IndexMode::kHnsw}) {
    VectorIndex index(dim, mode);
    index.add(data.data(), n);
    index.remove(7);
    index.remove(7);  // twice is a no-op
    EXPECT_EQ(index.live_count(), n - 1);
    for (const auto& h : index.search(data.data() + 7 * dim, 20)) EXPECT_NE(h.slot, 7);
    index.save(dir.path);
    std::vector<bool> live(static_cast<size_t>(n), true);
    live[7] = false;
    VectorIndex loaded = VectorIndex::load(dir.path, dim, n, live, mode, {});
    EXPECT_EQ(loaded.live_count(), n - 1);
    const auto a = index.search(data.data() + 3 * dim, 5);
    const auto b = loaded.search(data.data() + 3 * dim, 5);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].slot, b[i].slot) << index_mode_name(mode);
    EXPECT_EQ(a[0].slot, 3);
    const auto old_to_new = loaded.compact();
    EXPECT_EQ(old_to_new[7], -1);
    EXPECT_EQ(old_to_new[8], 7);
    EXPECT_EQ(loaded.slots(), n - 1);
    EXPECT_EQ(loaded.search(data.data() + 8 * dim, 1)[0].slot, 7);
  }
}

TEST(VectorIndex, RefusesCorruptFiles) {
  TempDir dir;
  const int64_t n = 100, dim = 8;
  const auto data = random_unit_vectors(n, dim, 6);
  VectorIndex index(dim, IndexMode::kHnsw);
  index.add(data.data(), n);
  index.save(dir.path);
  const std::vector<bool> live(static_cast<size_t>(n), true);
  EXPECT_NO_THROW(validate_hnsw_file(dir.path / "hnsw.bin", n, dim));
  // Sizes that disagree with the files.
  EXPECT_THROW(VectorIndex::load(dir.path, dim, n + 1, std::vector<bool>(n + 1, true), IndexMode::kHnsw, {}), Error);
  EXPECT_THROW(VectorIndex::load(dir.path, dim * 2, n / 2, std::vector<bool>(n / 2, true), IndexMode::kHnsw, {}), Error);
  EXPECT_THROW(validate_hnsw_file(dir.path / "hnsw.bin", n, dim + 1), Error);

  const std::string good = [&] {
    std::ifstream in(dir.path / "hnsw.bin", std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }();
  auto write = [&](const std::string& bytes) {
    std::ofstream(dir.path / "hnsw.bin", std::ios::binary | std::ios::trunc) << bytes;
  };
  // Truncated, an element count in the header that lies, and a level-0 link to nowhere.
  write(good.substr(0, good.size() - 3));
  EXPECT_THROW(VectorIndex::load(dir.path, dim, n, live, IndexMode::kHnsw, {}), Error);
  std::string bad = good;
  const uint64_t huge = uint64_t{1} << 60;
  std::memcpy(bad.data() + 16, &huge, 8);  // cur_element_count
  write(bad);
  EXPECT_THROW(VectorIndex::load(dir.path, dim, n, live, IndexMode::kHnsw, {}), Error);
  bad = good;
  const uint32_t links = 1, target = 5000;
  std::memcpy(bad.data() + 96, &links, 4);       // element 0: one level-0 link ...
  std::memcpy(bad.data() + 96 + 4, &target, 4);  // ... to element 5000
  write(bad);
  EXPECT_THROW(VectorIndex::load(dir.path, dim, n, live, IndexMode::kHnsw, {}), Error);
  write(good);
  EXPECT_NO_THROW(VectorIndex::load(dir.path, dim, n, live, IndexMode::kHnsw, {}));
  // Random byte flips anywhere in the graph: refused or loaded, never a crash.
  std::mt19937 rng(7);
  for (int trial = 0; trial < 200; ++trial) {
    bad = good;
    for (int f = 0; f < 4; ++f) bad[rng() % bad.size()] = static_cast<char>(rng());
    write(bad);
    try {
      VectorIndex loaded = VectorIndex::load(dir.path, dim, n, live, IndexMode::kHnsw, {});
      loaded.search(data.data(), 5);
    } catch (const Error&) {
    }
  }
  // A vectors file of the wrong size.
  write(good);
  std::ofstream(dir.path / "vectors.f32", std::ios::binary | std::ios::trunc) << "abc";
  EXPECT_THROW(VectorIndex::load(dir.path, dim, n, live, IndexMode::kExact, {}), Error);
}

TEST(VectorIndex, RejectsBadParameters) {
  EXPECT_THROW(VectorIndex(0, IndexMode::kExact), Error);
  EXPECT_THROW(VectorIndex(8, IndexMode::kHnsw, {1, 200, 64, 100}), Error);
  EXPECT_THROW(parse_index_mode("fast"), Error);
}

}  // namespace
}  // namespace lumen
