// PhiDecoder::forward_batch (the server's batched decode step) against forward() run on each
// sequence alone: same logits, same cache contents, for sequences of different lengths, on
// both fixture checkpoints (HF and phi-msft layouts) and the bundled model.
#include <gtest/gtest.h>

#include <cmath>

#include "lumen/runtime/engine.h"
#include "test_data.h"

namespace lumen {
namespace {

// Element i of a cache row, as fp32, whatever the cache's dtype.
float row_at(const void* row, DType dtype, int64_t i) {
  return dtype == DType::kF16 ? f16_to_f32(static_cast<const uint16_t*>(row)[i]) : static_cast<const float*>(row)[i];
}

void check_batch_matches_single(const std::filesystem::path& dir, DType kv_dtype = DType::kF32) {
  auto engine = Engine::load(dir);
  const PhiDecoder& decoder = engine->model().decoder();
  const PhiConfig& c = decoder.config();
  const int64_t d = c.hidden_size, vocab = c.vocab_size, kv = c.num_kv_heads * c.head_dim();
  const std::vector<std::vector<int32_t>> prompts = {{11, 22, 33}, {5}, {40, 41, 42, 43, 44, 45, 46}, {7, 8}};
  const int64_t batch = static_cast<int64_t>(prompts.size());

  // Two copies of every cache: one stepped alone, one stepped in the batch.
  std::vector<KvCache> alone, batched;
  for (const auto& p : prompts) {
    std::vector<float> x(p.size() * static_cast<size_t>(d));
    decoder.embed(p.data(), static_cast<int64_t>(p.size()), x.data());
    for (auto* caches : {&alone, &batched}) {
      caches->push_back(decoder.make_cache(16, kv_dtype));
      decoder.forward(x.data(), static_cast<int64_t>(p.size()), caches->back(), nullptr, 0);
    }
  }
  // Three decode steps with different next tokens per sequence.
  for (int step = 0; step < 3; ++step) {
    std::vector<int32_t> next;
    for (int64_t b = 0; b < batch; ++b) next.push_back(static_cast<int32_t>(100 + 17 * b + 5 * step));
    std::vector<float> x(static_cast<size_t>(batch * d));
    decoder.embed(next.data(), batch, x.data());
    std::vector<float> expected(static_cast<size_t>(batch * vocab));
    for (int64_t b = 0; b < batch; ++b) {
      decoder.forward(x.data() + b * d, 1, alone[static_cast<size_t>(b)], expected.data() + b * vocab, 1);
    }
    std::vector<KvCache*> caches;
    for (auto& cache : batched) caches.push_back(&cache);
    std::vector<float> logits(static_cast<size_t>(batch * vocab));
    decoder.forward_batch(x.data(), batch, caches.data(), logits.data());

    for (int64_t b = 0; b < batch; ++b) {
      const float* e = expected.data() + b * vocab;
      const float* g = logits.data() + b * vocab;
      double max_abs = 0, worst = 0;
      for (int64_t i = 0; i < vocab; ++i) {
        max_abs = std::max(max_abs, std::abs(static_cast<double>(e[i])));
        worst = std::max(worst, std::abs(static_cast<double>(e[i]) - g[i]));
      }
      EXPECT_LE(worst, 1e-4 * std::max(1.0, max_abs)) << dir << " step " << step << " sequence " << b;
      EXPECT_EQ(std::max_element(e, e + vocab) - e, std::max_element(g, g + vocab) - g);
      ASSERT_EQ(batched[static_cast<size_t>(b)].length(), alone[static_cast<size_t>(b)].length());
      const int64_t last = alone[static_cast<size_t>(b)].length() - 1;
      KvCache& got = batched[static_cast<size_t>(b)];
      KvCache& want = alone[static_cast<size_t>(b)];
      for (int64_t l = 0; l < c.num_layers; ++l) {
        for (int64_t i = 0; i < kv; ++i) {
          ASSERT_NEAR(row_at(got.key_row(l, last), kv_dtype, i), row_at(want.key_row(l, last), kv_dtype, i), 1e-4);
          ASSERT_NEAR(row_at(got.value_row(l, last), kv_dtype, i), row_at(want.value_row(l, last), kv_dtype, i), 1e-4);
        }
      }
    }
  }
}

TEST(PhiDecoderBatch, MatchesSingleSequenceForward) {
  check_batch_matches_single(testing::fixtures_dir() / "imp-tiny-a");
  check_batch_matches_single(testing::fixtures_dir() / "imp-tiny-b-msft");
  check_batch_matches_single(testing::bundled_model_dir());
}

TEST(PhiDecoderBatch, MatchesSingleSequenceForwardWithF16Cache) {
  check_batch_matches_single(testing::fixtures_dir() / "imp-tiny-a", DType::kF16);
  check_batch_matches_single(testing::bundled_model_dir(), DType::kF16);
}

TEST(PhiDecoderBatch, RefusesAFullCacheWithoutAdvancingAny) {
  auto engine = Engine::load(testing::bundled_model_dir());
  const PhiDecoder& decoder = engine->model().decoder();
  const int64_t d = decoder.config().hidden_size;
  KvCache roomy = decoder.make_cache(4), full = decoder.make_cache(1);
  std::vector<float> x(static_cast<size_t>(2 * d));
  const int32_t ids[2] = {1, 2};
  decoder.embed(ids, 2, x.data());
  decoder.forward(x.data(), 1, full, nullptr, 0);
  KvCache* caches[2] = {&roomy, &full};
  std::vector<float> logits(static_cast<size_t>(2 * decoder.config().vocab_size));
  try {
    decoder.forward_batch(x.data(), 2, caches, logits.data());
    FAIL() << "a full cache was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kLimitExceeded);
  }
  EXPECT_EQ(roomy.length(), 0);
  EXPECT_EQ(full.length(), 1);
}

}  // namespace
}  // namespace lumen
