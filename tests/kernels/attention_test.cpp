#include "lumen/kernels/cpu/attention.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace lumen {
namespace {

void run_case(int64_t tq, int64_t tk, int64_t heads, int64_t kv_heads, int64_t dim, bool causal) {
  std::mt19937 rng(static_cast<unsigned>(tq * 131 + tk * 7 + heads));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  AttentionShape s;
  s.n_queries = tq;
  s.n_keys = tk;
  s.n_heads = heads;
  s.n_kv_heads = kv_heads;
  s.head_dim = dim;
  s.q_stride = heads * dim + 3;  // padded strides: kernels must honour them
  s.kv_stride = kv_heads * dim + 1;
  s.out_stride = heads * dim;
  s.causal = causal;
  s.scale = 0.3f;
  std::vector<float> q(static_cast<size_t>(tq * s.q_stride)), k(static_cast<size_t>(tk * s.kv_stride)),
      v(static_cast<size_t>(tk * s.kv_stride));
  for (auto* buf : {&q, &k, &v}) {
    for (float& x : *buf) x = normal(rng);
  }
  std::vector<float> out(static_cast<size_t>(tq * s.out_stride)), expected(out.size());
  attention(q.data(), k.data(), v.data(), out.data(), s);
  attention_reference(q.data(), k.data(), v.data(), expected.data(), s);
  for (size_t i = 0; i < out.size(); ++i) {
    ASSERT_NEAR(out[i], expected[i], 2e-5) << "tq=" << tq << " tk=" << tk << " causal=" << causal << " i=" << i;
  }
}

TEST(Attention, MatchesReferenceAcrossShapes) {
  run_case(1, 1, 1, 1, 8, true);
  run_case(1, 200, 4, 4, 16, true);     // decode step over a long cache
  run_case(70, 70, 3, 3, 32, true);     // prefill spanning several key tiles
  run_case(5, 90, 4, 2, 8, true);       // grouped KV heads, queries after a cached past
  run_case(65, 65, 2, 2, 24, false);    // vision: bidirectional
  run_case(130, 130, 1, 1, 80, false);
}

}  // namespace
}  // namespace lumen
