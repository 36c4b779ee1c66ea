#include "lumen/kernels/cpu/attention.h"

#include "lumen/core/cpu_features.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace lumen {
namespace {

// f16 keys/values: both sides read the same f16 buffers, so only the arithmetic is compared.
void run_case(int64_t tq, int64_t tk, int64_t heads, int64_t kv_heads, int64_t dim, bool causal,
              DType kv_dtype = DType::kF32) {
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
  s.kv_dtype = kv_dtype;
  std::vector<float> q(static_cast<size_t>(tq * s.q_stride)), k(static_cast<size_t>(tk * s.kv_stride)),
      v(static_cast<size_t>(tk * s.kv_stride));
  for (auto* buf : {&q, &k, &v}) {
    for (float& x : *buf) x = normal(rng);
  }
  std::vector<uint16_t> k16(k.size()), v16(v.size());
  store_kv_rows(k.data(), tk, s.kv_stride, DType::kF16, k16.data());
  store_kv_rows(v.data(), tk, s.kv_stride, DType::kF16, v16.data());
  const void* keys = kv_dtype == DType::kF16 ? static_cast<const void*>(k16.data()) : k.data();
  const void* values = kv_dtype == DType::kF16 ? static_cast<const void*>(v16.data()) : v.data();
  std::vector<float> out(static_cast<size_t>(tq * s.out_stride)), expected(out.size());
  attention(q.data(), keys, values, out.data(), s);
  attention_reference(q.data(), keys, values, expected.data(), s);
  for (size_t i = 0; i < out.size(); ++i) {
    ASSERT_NEAR(out[i], expected[i], 2e-5) << "tq=" << tq << " tk=" << tk << " causal=" << causal << " i=" << i
                                           << " kv " << dtype_name(kv_dtype);
  }
}

// Each test runs at every CPU level this machine can run; a level above the machine's is
// skipped, saying so, rather than silently testing a lower one.
class AttentionAgainstReference : public ::testing::TestWithParam<CpuLevel> {
 protected:
  void SetUp() override {
    set_cpu_level_cap(GetParam());
    if (cpu_level() < GetParam()) {
      GTEST_SKIP() << "this CPU (or LUMEN_CPU_LEVEL) does not allow " << cpu_level_name(GetParam()) << ", only "
                   << cpu_level_name(cpu_level());
    }
  }
  void TearDown() override { set_cpu_level_cap(CpuLevel::kAvx512); }
};

TEST_P(AttentionAgainstReference, MatchesAcrossShapes) {
  run_case(1, 1, 1, 1, 8, true);
  run_case(1, 200, 4, 4, 16, true);     // decode step over a long cache
  run_case(70, 70, 3, 3, 32, true);     // prefill spanning several key tiles
  run_case(5, 90, 4, 2, 8, true);       // grouped KV heads, queries after a cached past
  run_case(65, 65, 2, 2, 24, false);    // vision: bidirectional
  run_case(130, 130, 1, 1, 80, false);
  run_case(4, 300, 2, 1, 72, true);     // largest decode batch, d not a multiple of 16
  run_case(37, 100, 5, 5, 72, false);   // SigLIP's head_dim, row tails
  run_case(33, 129, 2, 2, 80, true);    // Phi's head_dim, partial query block and key tile
  run_case(5, 5, 3, 3, 136, true);      // head_dim above 128
  run_case(1, 1000, 32, 32, 80, true);  // Phi-2 decode deep in the cache: many key chunks
  run_case(2, 130, 6, 3, 40, true);     // two queries, grouped heads, a partial last chunk
  run_case(3, 3, 2, 2, 16, true);       // fewer keys than one chunk; the first query sees one key
  run_case(1, 77, 16, 16, 64, true);    // decode kernels specialised per head size: 64, 96, 128
  run_case(2, 40, 17, 17, 96, true);    // one group of 16 heads and a lone head
  run_case(1, 50, 4, 4, 128, true);
  run_case(1, 90, 12, 4, 20, true);     // head_dim not a multiple of 8: vector tails everywhere
  run_case(40, 45, 3, 1, 5, false);     // a head smaller than one vector
  run_case(67, 67, 2, 2, 44, true);     // prefill with a partial last vector of V
}

TEST_P(AttentionAgainstReference, F16KeysAndValues) {
  run_case(1, 1000, 32, 32, 80, true, DType::kF16);  // decode over a long f16 cache
  run_case(3, 77, 17, 17, 64, true, DType::kF16);    // a few queries, a lone head past 16
  run_case(70, 70, 3, 3, 72, true, DType::kF16);     // prefill, d not a multiple of 16
  run_case(5, 90, 4, 2, 136, true, DType::kF16);     // grouped heads, the generic head size
  run_case(2, 150, 9, 3, 36, true, DType::kF16);     // decode, head_dim not a multiple of 8
  run_case(50, 50, 2, 2, 13, false, DType::kF16);    // prefill, f16 tails
}

// The cache store rounds to nearest even like the scalar conversion, on every CPU level, for
// normal, subnormal, overflowing and special values, at lengths that leave vector tails.
TEST_P(AttentionAgainstReference, StoreKvRowsRoundsLikeScalar) {
  std::vector<float> values = {0.0f, -0.0f, 1.0f, -2.5f, 65504.0f, 65520.0f, 1e6f, -1e6f, 6.1e-5f, 5.9e-8f, 3e-8f,
                               1.0009765625f, 1.00048828125f, 1.00146484375f, INFINITY, -INFINITY};
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 30.0f);
  for (int i = 0; i < 61; ++i) values.push_back(normal(rng));
  std::vector<uint16_t> got(values.size());
  store_kv_rows(values.data(), 7, 11, DType::kF16, got.data());
  for (size_t i = 0; i < values.size(); ++i) EXPECT_EQ(got[i], f32_to_f16(values[i])) << "value " << values[i];
  std::vector<float> copy(values.size());
  store_kv_rows(values.data(), 7, 11, DType::kF32, copy.data());
  EXPECT_EQ(copy, values);
}

INSTANTIATE_TEST_SUITE_P(Levels, AttentionAgainstReference, ::testing::ValuesIn(cpu_levels_of_this_arch()),
                         [](const auto& info) { return std::string(cpu_level_name(info.param)); });

}  // namespace
}  // namespace lumen
