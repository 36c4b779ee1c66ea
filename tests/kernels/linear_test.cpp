#include "lumen/kernels/cpu/linear.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "lumen/core/dtype.h"
#include "lumen/kernels/cpu/quantize.h"

namespace lumen {
namespace {

// Random weights stored in `dtype`, returned with the fp32 values they represent.
struct StoredMatrix {
  std::vector<uint8_t> bytes;
  WeightMatrix view;
};

StoredMatrix make_matrix(DType dtype, int64_t rows, int64_t cols, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 0.5f);
  std::vector<float> values(static_cast<size_t>(rows * cols));
  for (float& v : values) v = normal(rng);
  StoredMatrix m;
  m.bytes = quantize_matrix(values.data(), rows, cols, dtype);
  m.view = WeightMatrix{dtype, m.bytes.data(), rows, cols};
  return m;
}

class LinearAgainstReference : public ::testing::TestWithParam<DType> {};

TEST_P(LinearAgainstReference, MatchesScalarReferenceOnOddShapes) {
  std::mt19937 rng(42);
  const DType dtype = GetParam();
  const int64_t block = static_cast<int64_t>(dtype_block(dtype));
  for (auto [m, n, k] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 32}, {1, 37, 64}, {3, 129, 96},
                         {17, 33, 160}, {64, 50, 256}, {5, 300, 1152}}) {
    if (k % block != 0) continue;
    StoredMatrix w = make_matrix(dtype, n, k, rng);
    std::vector<float> x(static_cast<size_t>(m * k)), bias(static_cast<size_t>(n));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& v : x) v = normal(rng);
    for (float& v : bias) v = normal(rng);
    std::vector<float> y(static_cast<size_t>(m * n)), expected(static_cast<size_t>(m * n));
    linear(x.data(), m, w.view, bias.data(), y.data());
    linear_reference(x.data(), m, w.view, bias.data(), expected.data());
    for (size_t i = 0; i < y.size(); ++i) {
      // fp32 accumulation vs double: error grows like sqrt(k) * eps * |terms|.
      const double tolerance = 1e-5 * std::sqrt(static_cast<double>(k)) * 4.0;
      ASSERT_NEAR(y[i], expected[i], tolerance) << dtype_name(dtype) << " m=" << m << " n=" << n << " k=" << k << " i=" << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllWeightTypes, LinearAgainstReference,
                         ::testing::Values(DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0),
                         [](const auto& info) { return std::string(dtype_name(info.param)); });

TEST(LinearNoBias, MatchesReference) {
  std::mt19937 rng(7);
  StoredMatrix w = make_matrix(DType::kF16, 19, 40, rng);
  std::vector<float> x(3 * 40, 0.25f), y(3 * 19), expected(3 * 19);
  linear(x.data(), 3, w.view, nullptr, y.data());
  linear_reference(x.data(), 3, w.view, nullptr, expected.data());
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], expected[i], 1e-4);
}

}  // namespace
}  // namespace lumen
