#include "lumen/runtime/image_cache.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "lumen/backend/backend.h"

namespace lumen {
namespace {

// Embeddings live in a backend's memory; the CPU backend's is host memory, read directly here.
Backend& cpu() {
  static const std::unique_ptr<Backend> backend = make_cpu_backend();
  return *backend;
}

ImageEmbedding embedding(size_t floats, float value) {
  auto e = std::make_shared<DeviceImageEmbedding>();
  e->rows = cpu().allocate(floats * sizeof(float));
  std::fill_n(e->rows.as<float>(), floats, value);
  e->positions = 1;
  e->width = static_cast<int64_t>(floats);
  return e;
}

TEST(ImageEmbeddingCache, HitsMissesAndLeastRecentlyUsedEviction) {
  // Room for three embeddings of 100 floats (400 bytes each).
  ImageEmbeddingCache cache(1200);
  const ContentHash a = sha256("a"), b = sha256("b"), c = sha256("c"), d = sha256("d");
  EXPECT_EQ(cache.find(a), nullptr);
  cache.insert(a, embedding(100, 1));
  cache.insert(b, embedding(100, 2));
  cache.insert(c, embedding(100, 3));
  EXPECT_EQ(cache.bytes(), 1200u);
  ASSERT_NE(cache.find(a), nullptr);  // a is now the most recently used
  EXPECT_EQ(cache.find(a)->data()[0], 1.0f);
  cache.insert(d, embedding(100, 4));  // evicts b, the least recently used
  EXPECT_EQ(cache.find(b), nullptr);
  EXPECT_NE(cache.find(c), nullptr);
  EXPECT_NE(cache.find(d), nullptr);
  EXPECT_EQ(cache.entries(), 3u);
  EXPECT_EQ(cache.bytes(), 1200u);
  EXPECT_EQ(cache.hits(), 4u);
  EXPECT_EQ(cache.misses(), 2u);
}

TEST(ImageEmbeddingCache, NeverExceedsItsBudget) {
  ImageEmbeddingCache cache(1000);
  cache.insert(sha256("big"), embedding(1000, 0));  // 4000 bytes: not stored
  EXPECT_EQ(cache.entries(), 0u);
  for (int i = 0; i < 50; ++i) {
    cache.insert(sha256(std::to_string(i)), embedding(static_cast<size_t>(10 + i), 0));
    EXPECT_LE(cache.bytes(), 1000u);
  }
  EXPECT_GT(cache.entries(), 0u);
}

TEST(ImageEmbeddingCache, HandedOutEntriesOutliveEviction) {
  ImageEmbeddingCache cache(400);
  cache.insert(sha256("a"), embedding(100, 7));
  ImageEmbedding held = cache.find(sha256("a"));
  cache.insert(sha256("b"), embedding(100, 8));  // evicts a
  EXPECT_EQ(cache.find(sha256("a")), nullptr);
  EXPECT_EQ(held->data()[99], 7.0f);
}

}  // namespace
}  // namespace lumen
