#include "lumen/runtime/prefix_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "lumen/runtime/engine.h"
#include "test_data.h"

namespace lumen {
namespace {

constexpr int32_t kImage = 50296;

// The bundled model, loaded once for these tests.
const Engine& shapes_engine() {
  static std::unique_ptr<Engine> engine = Engine::load(testing::bundled_model_dir());
  return *engine;
}

// A pool of the shapes model's cache layout on the CPU backend (fp32, so key rows are floats).
KvCache make_pool(int64_t slots, int64_t capacity) {
  return shapes_engine().device_model().make_cache(slots, capacity);
}

// Fills `n` positions of a slot whose key rows hold their position number, to check copies.
void fill_slot(KvCache& pool, int64_t slot, int64_t n) {
  pool.truncate(slot, 0);
  for (int64_t l = 0; l < pool.layers(); ++l) {
    auto* keys = static_cast<float*>(pool.keys(l)) + slot * pool.slot_stride();
    for (int64_t p = 0; p < n; ++p) std::fill_n(keys + p * pool.kv_width(), pool.kv_width(), static_cast<float>(p));
  }
  pool.advance(slot, n);
}

float key_at(const KvCache& pool, int64_t slot, int64_t layer, int64_t position) {
  return static_cast<const float*>(pool.keys(layer))[slot * pool.slot_stride() + position * pool.kv_width()];
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
  KvCache pool = make_pool(3, 200);
  const int64_t per_image = 64;
  PrefixKvCache cache(pool, per_image, 64ull << 20, 4, /*min_reuse=*/4);
  const ContentHash img = sha256("scene");
  // A held turn in slot 0: 3 text tokens, an image (64 positions), 5 more tokens = 72 positions.
  std::vector<int32_t> turn = {10, 11, 12, kImage, 20, 21, 22, 23, 24};
  auto keys = prefix_keys(turn, kImage, std::vector<ContentHash>{img});
  fill_slot(pool, 0, 72);
  EXPECT_TRUE(cache.release(keys, 0).empty());
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_EQ(cache.bytes(), 72 * pool.position_bytes());

  // A different image at the same place matches only the 3 leading tokens: below min_reuse.
  auto other = prefix_keys(turn, kImage, std::vector<ContentHash>{sha256("other")});
  EXPECT_FALSE(cache.acquire(other, 1000, 1).has_value());

  // Diverging after the image: the first 69 positions are copied into the free slot 1, the
  // held slot stays.
  std::vector<int32_t> branch = {10, 11, 12, kImage, 20, 21, 99};
  auto partial = cache.acquire(prefix_keys(branch, kImage, std::vector<ContentHash>{img}), 1000, 1);
  ASSERT_TRUE(partial.has_value());
  EXPECT_EQ(partial->slot, 1);
  EXPECT_EQ(partial->positions, 3 + 64 + 2);
  EXPECT_EQ(pool.length(1), 69);
  EXPECT_EQ(key_at(pool, 1, 2, 68), 68.0f);
  EXPECT_EQ(pool.length(0), 72);
  EXPECT_EQ(cache.entries(), 1u);

  // The follow-up turn extends the held one: its slot is handed over whole (and leaves the
  // cache), capped so at least one prompt position is left to run.
  std::vector<int32_t> follow = turn;
  follow.insert(follow.end(), {30, 31});
  auto whole = cache.acquire(prefix_keys(follow, kImage, std::vector<ContentHash>{img}), 1000, 2);
  ASSERT_TRUE(whole.has_value());
  EXPECT_EQ(whole->slot, 0);
  EXPECT_EQ(whole->positions, 72);
  EXPECT_EQ(key_at(pool, 0, 5, 71), 71.0f);
  EXPECT_EQ(cache.entries(), 0u);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(PrefixKvCache, SupersedesPrefixesAndStaysWithinItsBudget) {
  KvCache pool = make_pool(16, 30);
  const uint64_t one = 20 * pool.position_bytes();
  PrefixKvCache cache(pool, 64, 3 * one, 8, 4);
  std::vector<PrefixKey> keys;
  for (int i = 0; i < 20; ++i) keys.push_back(static_cast<PrefixKey>(i));
  fill_slot(pool, 0, 10);
  EXPECT_TRUE(cache.release(std::vector<PrefixKey>(keys.begin(), keys.begin() + 10), 0).empty());
  fill_slot(pool, 1, 20);
  EXPECT_EQ(cache.release(keys, 1), std::vector<int64_t>{0});  // covers the first: replaces it
  EXPECT_EQ(cache.entries(), 1u);
  fill_slot(pool, 2, 20);
  EXPECT_EQ(cache.release(keys, 2), std::vector<int64_t>{1});  // the same again: still one
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_EQ(cache.bytes(), one);
  std::vector<int64_t> freed;
  for (int k = 0; k < 10; ++k) {
    std::vector<PrefixKey> distinct(20, static_cast<PrefixKey>(1000 + k));
    fill_slot(pool, 3 + k, 20);
    for (int64_t slot : cache.release(distinct, 3 + k)) freed.push_back(slot);
    EXPECT_LE(cache.bytes(), 3 * one);
  }
  EXPECT_EQ(cache.entries(), 3u);
  EXPECT_EQ(freed.size(), 8u);  // every slot released and no longer held comes back once
  // Too short to be worth holding: handed straight back.
  fill_slot(pool, 15, 2);
  EXPECT_EQ(cache.release(std::vector<PrefixKey>{7, 7}, 15), std::vector<int64_t>{15});
}

TEST(PrefixKvCache, HoldsAtMostItsEntriesAndGivesTheOldestUp) {
  KvCache pool = make_pool(4, 16);
  PrefixKvCache cache(pool, 64, 64ull << 20, 2, 4);
  for (int64_t slot = 0; slot < 3; ++slot) {
    fill_slot(pool, slot, 8);
    const auto freed = cache.release(std::vector<PrefixKey>(8, static_cast<PrefixKey>(100 + slot)), slot);
    if (slot < 2) EXPECT_TRUE(freed.empty());
    if (slot == 2) EXPECT_EQ(freed, std::vector<int64_t>{0});  // over 2 entries: the oldest goes
  }
  EXPECT_EQ(cache.entries(), 2u);
  EXPECT_EQ(cache.evict_oldest(), std::optional<int64_t>(1));
  EXPECT_EQ(cache.evict_oldest(), std::optional<int64_t>(2));
  EXPECT_EQ(cache.evict_oldest(), std::nullopt);
  EXPECT_EQ(cache.bytes(), 0u);
}

}  // namespace
}  // namespace lumen
