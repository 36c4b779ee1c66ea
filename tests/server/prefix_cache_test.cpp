#include "lumen/server/prefix_cache.h"

#include <gtest/gtest.h>

#include "test_server.h"

namespace lumen::server {
namespace {

constexpr int32_t kImage = 50296;

// A cache of `n` positions whose key rows hold their position number, to check copies.
KvCache filled_cache(const PhiDecoder& decoder, int64_t n, int64_t capacity) {
  KvCache cache = decoder.make_cache(capacity);
  for (int64_t l = 0; l < decoder.config().num_layers; ++l) {
    for (int64_t p = 0; p < n; ++p) {
      auto* row = static_cast<float*>(cache.key_row(l, p));
      for (int64_t i = 0; i < cache.kv_width(); ++i) row[i] = static_cast<float>(p);
    }
  }
  cache.advance(n);
  return cache;
}

TEST(PrefixKeys, TagImagesWithTheirContentHash) {
  const ContentHash a = sha256("image a"), b = sha256("image b");
  const std::vector<int32_t> tokens = {1, kImage, 2, kImage};
  auto ab = prefix_keys(tokens, kImage, std::vector<ContentHash>{a, b});
  auto ba = prefix_keys(tokens, kImage, std::vector<ContentHash>{b, a});
  ASSERT_EQ(ab.size(), 4u);
  EXPECT_EQ(ab[0], 1u);
  EXPECT_EQ(ab[2], 2u);
  EXPECT_NE(ab[1], ab[3]);
  EXPECT_EQ(ab[1], ba[3]);
  EXPECT_NE(ab, ba);
}

TEST(PrefixKvCache, HandsOverAContinuationAndCopiesAPartialMatch) {
  const PhiDecoder& decoder = testing::shapes_engine().model().decoder();
  const int64_t per_image = 64;
  PrefixKvCache cache(decoder, per_image, 64ull << 20, /*min_reuse=*/4);
  const ContentHash img = sha256("scene");
  // A held turn: 3 text tokens, an image (64 positions), 5 more tokens = 72 positions.
  std::vector<int32_t> turn = {10, 11, 12, kImage, 20, 21, 22, 23, 24};
  auto keys = prefix_keys(turn, kImage, std::vector<ContentHash>{img});
  cache.release(keys, filled_cache(decoder, 72, 100));
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_EQ(cache.bytes(), PrefixKvCache::cache_bytes(decoder.make_cache(72), decoder.config().num_layers));

  // A different image at the same place matches only the 3 leading tokens: below min_reuse.
  auto other = prefix_keys(turn, kImage, std::vector<ContentHash>{sha256("other")});
  EXPECT_FALSE(cache.acquire(other, 1000, 200).has_value());

  // Diverging after the image: the first 69 positions are copied, the held cache stays.
  std::vector<int32_t> branch = {10, 11, 12, kImage, 20, 21, 99};
  auto partial = cache.acquire(prefix_keys(branch, kImage, std::vector<ContentHash>{img}), 1000, 200);
  ASSERT_TRUE(partial.has_value());
  EXPECT_EQ(partial->positions, 3 + 64 + 2);
  EXPECT_EQ(partial->cache.length(), 69);
  EXPECT_GE(partial->cache.capacity(), 200);
  EXPECT_EQ(static_cast<const float*>(partial->cache.key_row(2, 68))[0], 68.0f);
  EXPECT_EQ(cache.entries(), 1u);

  // The follow-up turn extends the held one: it is handed over whole (and leaves the cache),
  // capped so at least one prompt position is left to run.
  std::vector<int32_t> follow = turn;
  follow.insert(follow.end(), {30, 31});
  auto whole = cache.acquire(prefix_keys(follow, kImage, std::vector<ContentHash>{img}), 1000, 120);
  ASSERT_TRUE(whole.has_value());
  EXPECT_EQ(whole->positions, 72);
  EXPECT_EQ(static_cast<const float*>(whole->cache.key_row(5, 71))[0], 71.0f);
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(PrefixKvCache, SupersedesPrefixesAndStaysWithinItsBudget) {
  const PhiDecoder& decoder = testing::shapes_engine().model().decoder();
  const uint64_t one = PrefixKvCache::cache_bytes(decoder.make_cache(20), decoder.config().num_layers);
  PrefixKvCache cache(decoder, 64, 3 * one, 4);
  std::vector<PrefixKey> keys;
  for (int i = 0; i < 20; ++i) keys.push_back(static_cast<PrefixKey>(i));
  cache.release(std::vector<PrefixKey>(keys.begin(), keys.begin() + 10), filled_cache(decoder, 10, 10));
  cache.release(keys, filled_cache(decoder, 20, 20));  // covers the first: replaces it
  EXPECT_EQ(cache.entries(), 1u);
  cache.release(keys, filled_cache(decoder, 20, 30));  // the same again: still one (trimmed to 20)
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_EQ(cache.bytes(), one);
  for (int k = 0; k < 10; ++k) {
    std::vector<PrefixKey> distinct(20, static_cast<PrefixKey>(1000 + k));
    cache.release(distinct, filled_cache(decoder, 20, 20));
    EXPECT_LE(cache.bytes(), 3 * one);
  }
  EXPECT_EQ(cache.entries(), 3u);
}

}  // namespace
}  // namespace lumen::server
