#include "lumen/kernels/cpu/linear.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "lumen/core/cpu_features.h"
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

// Shapes (m, n, k) covering the GEMV (m <= 4) and GEMM paths, panel tails (n % 32), row-tile
// tails (m % 12, m % 48), k-block tails (k % 256, k % 512) and partial 4-block groups (k % 128).
const std::vector<std::tuple<int64_t, int64_t, int64_t>> kShapes = {
    {1, 1, 32},    {1, 37, 64},    {2, 40, 96},     {3, 129, 96},    {4, 33, 160},  {5, 31, 128},
    {17, 33, 160}, {64, 50, 256},  {13, 65, 544},   {5, 300, 1152},  {49, 64, 608}, {1, 70, 1056},
    {25, 97, 7},   {3, 17, 1},     {30, 20, 1029},
};

class LinearAgainstReference : public ::testing::TestWithParam<std::tuple<DType, CpuLevel, MatmulPrecision>> {
 protected:
  void TearDown() override { set_cpu_level_cap(CpuLevel::kAvx512); }
};

TEST_P(LinearAgainstReference, MatchesScalarReferenceOnOddShapes) {
  std::mt19937 rng(42);
  const auto [dtype, level, precision] = GetParam();
  set_cpu_level_cap(level);
  const int64_t block = static_cast<int64_t>(dtype_block(dtype));
  for (auto [m, n, k] : kShapes) {
    if (k % block != 0) continue;
    StoredMatrix w = make_matrix(dtype, n, k, rng);
    w.view.precision = precision;
    std::vector<float> x(static_cast<size_t>(m * k)), bias(static_cast<size_t>(n));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& v : x) v = normal(rng);
    for (float& v : bias) v = normal(rng);
    std::vector<float> y(static_cast<size_t>(m * n)), expected(static_cast<size_t>(m * n));
    linear(x.data(), m, w.view, bias.data(), y.data());
    // The portable, AVX2 and NEON paths are always exact; the AVX-512 path follows the requested precision,
    // except the GEMV (m <= 4) over float weights, which is bandwidth bound and stays exact; the
    // Arm dotprod levels follow it over Q8_0/Q4_0 weights.
    const bool reduced = precision == MatmulPrecision::kReduced &&
                         ((cpu_level() == CpuLevel::kAvx512 && (dtype_block(dtype) != 1 || m > 4)) ||
                          (cpu_level() >= CpuLevel::kNeonDotprod && dtype_block(dtype) != 1));
    if (reduced) {
      linear_reference_reduced(x.data(), m, w.view, bias.data(), expected.data());
    } else {
      linear_reference(x.data(), m, w.view, bias.data(), expected.data());
    }
    for (size_t i = 0; i < y.size(); ++i) {
      // fp32 accumulation vs double: error grows like sqrt(k) * eps * |terms|.
      const double tolerance = 1e-5 * std::sqrt(static_cast<double>(k)) * 4.0;
      ASSERT_NEAR(y[i], expected[i], tolerance)
          << dtype_name(dtype) << " " << cpu_level_name(cpu_level()) << (reduced ? " reduced" : " exact")
          << " m=" << m << " n=" << n << " k=" << k << " i=" << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllPaths, LinearAgainstReference,
    ::testing::Combine(::testing::Values(DType::kF32, DType::kF16, DType::kBF16, DType::kQ8_0, DType::kQ4_0),
                       ::testing::ValuesIn(cpu_levels_of_this_arch()),
                       ::testing::Values(MatmulPrecision::kExact, MatmulPrecision::kReduced)),
    [](const auto& info) {
      return std::string(dtype_name(std::get<0>(info.param))) + "_" + cpu_level_name(std::get<1>(info.param)) +
             (std::get<2>(info.param) == MatmulPrecision::kExact ? "_exact" : "_reduced");
    });

TEST(LinearReduced, StaysCloseToExactArithmetic) {
  // The reduced references themselves: bf16 / int8 activations cost well under 1% here.
  std::mt19937 rng(3);
  for (DType dtype : {DType::kF16, DType::kQ8_0, DType::kQ4_0}) {
    StoredMatrix w = make_matrix(dtype, 64, 512, rng);
    std::vector<float> x(4 * 512);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& v : x) v = normal(rng);
    std::vector<float> exact(4 * 64), reduced(4 * 64);
    linear_reference(x.data(), 4, w.view, nullptr, exact.data());
    linear_reference_reduced(x.data(), 4, w.view, nullptr, reduced.data());
    double err = 0, norm = 0;
    for (size_t i = 0; i < exact.size(); ++i) {
      err += (exact[i] - reduced[i]) * (exact[i] - reduced[i]);
      norm += exact[i] * exact[i];
    }
    EXPECT_LT(std::sqrt(err / norm), 0.01) << dtype_name(dtype);
  }
}

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
