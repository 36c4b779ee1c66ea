// Merging shard indexes (retrieval/index_merge.h): shards of a catalog merge into the index one
// build makes (items, order, vectors, search results), and shards that disagree on the
// embedder (method, model, a setting), the dimension or the fusion weights, or share an id, are
// refused with a message naming the shard and the difference. Vectors are made up, so no model
// is needed.
#include "lumen/retrieval/index_merge.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "lumen/core/error.h"
#include "lumen/kernels/cpu/vector_ops.h"
#include "lumen/retrieval/shard.h"

namespace lumen {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kDim = 16;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() /
           ("lumen_merge_" + std::to_string(::getpid()) + "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

nlohmann::json spec(const std::string& method = "caption", const std::string& model = "/models/imp-shapes",
                    int64_t dim = kDim) {
  return {{"method", method}, {"model", model}, {"dim", dim}, {"caption_prompt", "Describe the image."}};
}

struct Catalog {
  std::vector<CatalogItem> items;
  std::vector<float> vectors;  // [items, kDim], normalised
};

Catalog make_catalog(size_t n, int64_t dim = kDim, uint32_t seed = 7) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  Catalog c;
  for (size_t i = 0; i < n; ++i) {
    CatalogItem item;
    item.id = "item-" + std::to_string(i);
    item.text = "text " + std::to_string(i);
    item.fields = {{"id", item.id}, {"text", *item.text}, {"rank", i}};
    c.items.push_back(item);
  }
  c.vectors.resize(n * static_cast<size_t>(dim));
  for (auto& x : c.vectors) x = normal(rng);
  l2_normalize_rows(c.vectors.data(), static_cast<int64_t>(n), dim);
  return c;
}

// Items [begin, end) of a catalog as their own index.
ItemIndex index_of(const Catalog& c, size_t begin, size_t end, const nlohmann::json& embedder = spec(),
                   int64_t dim = kDim, FusionWeights fusion = {}) {
  IndexConfig config;
  config.fusion = fusion;
  ItemIndex index(embedder, dim, config, end - begin);
  std::vector<CatalogItem> items(c.items.begin() + static_cast<std::ptrdiff_t>(begin),
                                 c.items.begin() + static_cast<std::ptrdiff_t>(end));
  std::vector<float> vectors(c.vectors.begin() + static_cast<std::ptrdiff_t>(begin * dim),
                             c.vectors.begin() + static_cast<std::ptrdiff_t>(end * dim));
  index.upsert(items, vectors);
  return index;
}

std::string merge_error(const std::vector<const ItemIndex*>& shards) {
  IndexMerger merger;
  try {
    for (size_t i = 0; i < shards.size(); ++i) merger.add(*shards[i], "shard" + std::to_string(i));
    merger.finish();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(IndexMerge, ShardsOfACatalogMergeIntoTheSingleBuild) {
  TempDir dir;
  const Catalog c = make_catalog(103);
  const ItemIndex single = index_of(c, 0, c.items.size());
  // Four shards over the catalog's partition, saved and loaded as the CLI does.
  std::vector<fs::path> dirs;
  for (int64_t k = 0; k < 4; ++k) {
    const ShardRange r = shard_range(c.items.size(), {k, 4});
    dirs.push_back(dir.path / ("shard-" + std::to_string(k)));
    index_of(c, r.begin, r.end).save(dirs.back());
  }
  const ItemIndex merged = merge_index_dirs(dirs);
  ASSERT_EQ(merged.size(), single.size());
  EXPECT_EQ(merged.ids(), single.ids());  // catalog order
  EXPECT_EQ(merged.embedder_spec(), single.embedder_spec());
  EXPECT_EQ(merged.dim(), kDim);
  EXPECT_EQ(merged.mode(), IndexMode::kExact);
  for (const auto& id : single.ids()) {
    EXPECT_EQ(merged.fields_of(id), single.fields_of(id));
    for (int64_t d = 0; d < kDim; ++d) ASSERT_EQ(merged.vector_of(id)[d], single.vector_of(id)[d]) << id;
  }
  // Same results for a few queries: ids in order, scores equal.
  for (size_t q = 0; q < 5; ++q) {
    const float* query = c.vectors.data() + q * 17 * kDim;
    const auto a = merged.search(query, 10), b = single.search(query, 10);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].id, b[i].id);
      EXPECT_NEAR(a[i].score, b[i].score, 1e-6);
    }
  }
}

TEST(IndexMerge, ModeFollowsTheMergedSizeOrTheOption) {
  const Catalog c = make_catalog(30);
  const ItemIndex a = index_of(c, 0, 15), b = index_of(c, 15, 30);
  IndexMerger small({std::nullopt, 20});  // 30 items > threshold 20: auto picks hnsw
  small.add(a, "a");
  small.add(b, "b");
  EXPECT_EQ(small.finish().mode(), IndexMode::kHnsw);
  IndexMerger exact({IndexMode::kExact, 20});
  exact.add(a, "a");
  exact.add(b, "b");
  const ItemIndex merged = exact.finish();
  EXPECT_EQ(merged.mode(), IndexMode::kExact);
  EXPECT_EQ(merged.size(), 30u);
}

TEST(IndexMerge, RefusesADifferentEmbedderMethod) {
  const Catalog c = make_catalog(10);
  const ItemIndex a = index_of(c, 0, 5), b = index_of(c, 5, 10, spec("prompt"));
  const std::string e = merge_error({&a, &b});
  EXPECT_NE(e.find("shard1: built with embedder method \"prompt\", but shard0 with \"caption\""), std::string::npos) << e;
}

TEST(IndexMerge, RefusesADifferentModel) {
  const Catalog c = make_catalog(10);
  const ItemIndex a = index_of(c, 0, 5), b = index_of(c, 5, 10, spec("caption", "/models/imp-v1-3b"));
  const std::string e = merge_error({&a, &b});
  EXPECT_NE(e.find("embedder model \"/models/imp-v1-3b\""), std::string::npos) << e;
  EXPECT_NE(e.find("shards must share one embedder"), std::string::npos) << e;
}

TEST(IndexMerge, RefusesAnotherEmbedderSetting) {
  const Catalog c = make_catalog(10);
  nlohmann::json other = spec();
  other["caption_prompt"] = "What is this?";
  const ItemIndex a = index_of(c, 0, 5), b = index_of(c, 5, 10, other);
  const std::string e = merge_error({&a, &b});
  EXPECT_NE(e.find("embedder setting caption_prompt = \"What is this?\""), std::string::npos) << e;
}

TEST(IndexMerge, RefusesADifferentDimension) {
  const Catalog c = make_catalog(10), wide = make_catalog(10, 32);
  const ItemIndex a = index_of(c, 0, 5), b = index_of(wide, 5, 10, spec("caption", "/models/imp-shapes", 32), 32);
  const std::string e = merge_error({&a, &b});
  EXPECT_NE(e.find("shard1: 32-dimensional vectors, but shard0 has 16"), std::string::npos) << e;
}

TEST(IndexMerge, RefusesDifferentFusionWeights) {
  const Catalog c = make_catalog(10);
  const ItemIndex a = index_of(c, 0, 5), b = index_of(c, 5, 10, spec(), kDim, {1.0f, 0.5f});
  const std::string e = merge_error({&a, &b});
  EXPECT_NE(e.find("fusion weights"), std::string::npos) << e;
}

TEST(IndexMerge, RefusesAnIdInTwoShardsNamingIt) {
  const Catalog c = make_catalog(10);
  const ItemIndex a = index_of(c, 0, 6), b = index_of(c, 5, 10);  // item-5 in both
  const std::string e = merge_error({&a, &b});
  EXPECT_NE(e.find("shard1: id \"item-5\" is also in shard0"), std::string::npos) << e;
  // A refused shard leaves the merger as it was: the good shards still merge.
  IndexMerger merger;
  merger.add(a, "a");
  EXPECT_THROW(merger.add(b, "b"), Error);
  EXPECT_EQ(merger.items(), 6u);
  EXPECT_EQ(merger.shards(), 1u);
  const ItemIndex c2 = index_of(c, 6, 10);
  merger.add(c2, "c");
  EXPECT_EQ(merger.finish().size(), 10u);
}

TEST(IndexMerge, RefusesNothingToMergeAndPartialShards) {
  EXPECT_NE(merge_error({}).find("no shards"), std::string::npos);
  TempDir dir;
  const Catalog c = make_catalog(10);
  index_of(c, 0, 5).save(dir.path / "shard-0");
  // A killed build leaves shard-1.tmp (here: a manifest and nothing else); it is not an index.
  index_of(c, 5, 10).save(dir.path / "shard-1");
  fs::rename(dir.path / "shard-1", dir.path / "shard-1.tmp");
  fs::remove(dir.path / "shard-1.tmp" / "vectors.f32");
  EXPECT_THROW(merge_index_dirs({dir.path / "shard-0", dir.path / "shard-1.tmp"}), Error);
  EXPECT_THROW(merge_index_dirs({dir.path / "shard-0", dir.path / "shard-1"}), Error);  // absent
}

}  // namespace
}  // namespace lumen
