#include "lumen/runtime/sampler.h"

#include <gtest/gtest.h>

#include <map>

#include "lumen/core/error.h"

namespace lumen {
namespace {

TEST(Sampler, GreedyPicksArgmax) {
  Sampler sampler(SamplingParams{});
  std::vector<float> logits = {0.1f, 2.0f, -1.0f, 1.9f};
  EXPECT_EQ(sampler.sample(logits, {}), 1);
}

TEST(Sampler, RepetitionPenaltyFollowsHfRule) {
  SamplingParams p;
  p.repetition_penalty = 2.0f;
  Sampler sampler(p);
  std::vector<float> logits = {3.0f, 2.0f, -1.0f};
  std::vector<int32_t> history = {0, 0, 2};
  EXPECT_EQ(sampler.sample(logits, history), 1);  // 3/2 = 1.5 < 2
  EXPECT_FLOAT_EQ(logits[0], 1.5f);
  EXPECT_FLOAT_EQ(logits[2], -2.0f);
}

TEST(Sampler, TopKOneIsGreedyAndSeedIsReproducible) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 1;
  Sampler sampler(p);
  std::vector<float> logits = {0.0f, 0.5f, 0.4f};
  EXPECT_EQ(sampler.sample(logits, {}), 1);

  p.top_k = 0;
  p.seed = 1234;
  std::vector<int32_t> first, second;
  for (auto* out : {&first, &second}) {
    Sampler s(p);
    for (int i = 0; i < 50; ++i) {
      std::vector<float> l = {0.0f, 0.1f, 0.2f, 0.3f};
      out->push_back(s.sample(l, {}));
    }
  }
  EXPECT_EQ(first, second);
}

TEST(Sampler, TopPKeepsOnlyTheNucleus) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 0.5f;
  p.seed = 9;
  Sampler sampler(p);
  std::map<int32_t, int> counts;
  for (int i = 0; i < 200; ++i) {
    std::vector<float> logits = {5.0f, 0.0f, 0.0f, 0.0f};  // token 0 holds > 95% of the mass
    counts[sampler.sample(logits, {})]++;
  }
  EXPECT_EQ(counts[0], 200);
}

TEST(Sampler, SamplingFollowsTheDistribution) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 5;
  Sampler sampler(p);
  int ones = 0;
  for (int i = 0; i < 4000; ++i) {
    std::vector<float> logits = {0.0f, std::log(3.0f)};  // p(1) = 0.75
    ones += sampler.sample(logits, {}) == 1;
  }
  EXPECT_NEAR(ones / 4000.0, 0.75, 0.03);
}

TEST(Sampler, InvalidParametersAreErrors) {
  SamplingParams p;
  p.temperature = -1.0f;
  EXPECT_THROW(p.validate(), Error);
  p = {};
  p.top_p = 0.0f;
  EXPECT_THROW(p.validate(), Error);
  p = {};
  p.top_k = -3;
  EXPECT_THROW(p.validate(), Error);
}

}  // namespace
}  // namespace lumen
