#include "lumen/kernels/cpu/linear.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "lumen/core/cpu_features.h"
#include "lumen/core/dtype.h"
#include "lumen/kernels/cpu/quantize.h"
#if defined(__x86_64__)
#include "lumen/kernels/cpu/linear_kernels.h"
#endif

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

// Every m the kernels special-case (GEMV 1-4, GEMM row-tile tails of 6, 4, 12, 48, the AVX2
// GEMM's row blocks and their tails), with n not a multiple of 16 (panel tails, and n < 16),
// float k not a multiple of 8, 16 or 256 (vector and k-block tails) and block k of nb = 1, 3,
// 5, 9, 10 and 17 blocks (not multiples of 4 or 8).
std::vector<std::tuple<int64_t, int64_t, int64_t>> tail_shapes() {
  std::vector<std::tuple<int64_t, int64_t, int64_t>> shapes;
  const int64_t ns[] = {5, 17, 31, 47};
  const int64_t ks[] = {7, 23, 32, 96, 160, 264, 288, 300, 320, 520, 544};
  int64_t index = 0;
  for (int64_t m : {1, 2, 3, 4, 5, 6, 7, 13, 64}) {
    for (int64_t k : ks) shapes.emplace_back(m, ns[index++ % 4], k);
  }
  // One row block of the AVX2 and AVX-512 float GEMMs (at most 480 rows), and two (AVX2 246 +
  // 239, a 5-row tile tail; AVX-512 252 + 233, a 5-row tail of its 12-row tiles).
  for (int64_t m : {247, 485}) {
    for (int64_t k : {96, 520}) shapes.emplace_back(m, ns[index++ % 4], k);
  }
  return shapes;
}

class LinearAgainstReference : public ::testing::TestWithParam<std::tuple<DType, CpuLevel, MatmulPrecision>> {
 protected:
  void TearDown() override {
    set_cpu_level_cap(CpuLevel::kAvx512);
    set_bf16_dot_choice(Bf16DotChoice::kProbe);
  }
};

// Runs `check` once, or, for reduced precision at the AVX-512 level on a CPU with AVX512_BF16,
// once with each float GEMM (bf16 dot products and exact fp32), whichever the probe would pick.
template <typename Check>
void for_each_float_gemm(MatmulPrecision precision, const Check& check) {
  if (precision != MatmulPrecision::kReduced || cpu_level() != CpuLevel::kAvx512 || !cpu_features().avx512bf16) {
    check();
    return;
  }
  for (Bf16DotChoice choice : {Bf16DotChoice::kOn, Bf16DotChoice::kOff}) {
    set_bf16_dot_choice(choice);
    check();
  }
  set_bf16_dot_choice(Bf16DotChoice::kProbe);
}

// Which reference a path follows. The portable path and NEON are always exact; AVX-512 follows
// the requested precision, except the GEMV (m <= 4) over float weights, which is bandwidth bound
// and stays exact, and float weights on a CPU without AVX512_BF16, which are widened to fp32;
// AVX2 and the Arm dotprod levels follow it over Q8_0/Q4_0 weights only.
bool follows_reduced(DType dtype, int64_t m, MatmulPrecision precision) {
  if (precision != MatmulPrecision::kReduced) return false;
  const bool block = dtype_block(dtype) != 1;
  const CpuLevel level = cpu_level();
  const bool bf16_dot = linear_uses_bf16_dot();
  return (level == CpuLevel::kAvx512 && (block || (m > 4 && bf16_dot))) || (level == CpuLevel::kAvx2 && block) ||
         (level >= CpuLevel::kNeonDotprod && block);
}

void check_shapes(DType dtype, MatmulPrecision precision, const std::vector<std::tuple<int64_t, int64_t, int64_t>>& shapes,
                  std::mt19937& rng) {
  const int64_t block = static_cast<int64_t>(dtype_block(dtype));
  for (auto [m, n, k] : shapes) {
    if (k % block != 0) continue;
    StoredMatrix w = make_matrix(dtype, n, k, rng);
    w.view.precision = precision;
    std::vector<float> x(static_cast<size_t>(m * k)), bias(static_cast<size_t>(n));
    std::normal_distribution<float> normal(0.0f, 1.0f);
    for (float& v : x) v = normal(rng);
    for (float& v : bias) v = normal(rng);
    std::vector<float> y(static_cast<size_t>(m * n)), expected(static_cast<size_t>(m * n));
    linear(x.data(), m, w.view, bias.data(), y.data());
    const bool reduced = follows_reduced(dtype, m, precision);
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

TEST_P(LinearAgainstReference, MatchesScalarReferenceOnOddShapes) {
  std::mt19937 rng(42);
  const auto [dtype, level, precision] = GetParam();
  set_cpu_level_cap(level);
  // Copies: clang 14 cannot capture structured bindings in a lambda.
  const DType weights = dtype;
  const MatmulPrecision arithmetic = precision;
  for_each_float_gemm(precision, [&] { check_shapes(weights, arithmetic, kShapes, rng); });
}

TEST_P(LinearAgainstReference, MatchesScalarReferenceOnAllTails) {
  std::mt19937 rng(11);
  const auto [dtype, level, precision] = GetParam();
  set_cpu_level_cap(level);
  // Copies: clang 14 cannot capture structured bindings in a lambda.
  const DType weights = dtype;
  const MatmulPrecision arithmetic = precision;
  for_each_float_gemm(precision, [&] { check_shapes(weights, arithmetic, tail_shapes(), rng); });
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

// Stored blocks with scale 1.0 (f16 0x3c00) whose every weight is `value` (Q8_0, -128..127) or
// every nibble is `nibble` (Q4_0, weight nibble - 8).
std::vector<uint8_t> constant_blocks(DType dtype, int64_t rows, int64_t cols, const std::vector<int>& values) {
  const size_t block_bytes = dtype == DType::kQ8_0 ? 34 : 18;
  std::vector<uint8_t> bytes;
  for (int64_t r = 0; r < rows; ++r) {
    const int v = values[static_cast<size_t>(r) % values.size()];
    for (int64_t b = 0; b < cols / 32; ++b) {
      std::vector<uint8_t> block(block_bytes, 0);
      block[0] = 0x00;
      block[1] = 0x3c;
      for (size_t j = 2; j < block_bytes; ++j) {
        block[j] = dtype == DType::kQ8_0 ? static_cast<uint8_t>(static_cast<int8_t>(v)) : static_cast<uint8_t>(v | (v << 4));
      }
      bytes.insert(bytes.end(), block.begin(), block.end());
    }
  }
  return bytes;
}

// The int8 kernels' products meet int16 saturation (vpmaddubsw) and int16 accumulation (the
// AVX2 Q4_0 GEMM) at their extremes: weights 127, -127 and -128 (Q8_0) or nibbles 15 and 0
// (Q4_0) against activations quantized to +-127 at every position, with the signs aligned
// and opposed. The integer sums are exact, so any saturation or wrap-around would show as an
// error far above the fp32 rounding allowed here.
TEST(LinearInt8, Int8RangeEndsDoNotSaturate) {
  const int64_t n = 8, k = 288;  // 9 blocks: a full group of 4 or 8 and a tail
  const std::vector<float> row_patterns[] = {
      std::vector<float>(k, 1.0f), std::vector<float>(k, -1.0f), [] {
        std::vector<float> v(k);
        for (int64_t i = 0; i < k; ++i) v[static_cast<size_t>(i)] = i % 2 ? -1.0f : 1.0f;
        return v;
      }()};
  for (CpuLevel level : cpu_levels_of_this_arch()) {
    set_cpu_level_cap(level);
    for (DType dtype : {DType::kQ8_0, DType::kQ4_0}) {
      const std::vector<int> values = dtype == DType::kQ8_0 ? std::vector<int>{127, -127, -128, 127, -128}
                                                            : std::vector<int>{15, 0, 15, 0, 8};
      std::vector<uint8_t> bytes = constant_blocks(dtype, n, k, values);
      WeightMatrix w{dtype, bytes.data(), n, k};
      w.precision = MatmulPrecision::kReduced;
      for (int64_t m : {1, 3, 4, 5, 13}) {
        std::vector<float> x;
        for (int64_t i = 0; i < m; ++i) {
          const std::vector<float>& row = row_patterns[static_cast<size_t>(i) % 3];
          x.insert(x.end(), row.begin(), row.end());
        }
        std::vector<float> y(static_cast<size_t>(m * n)), expected(static_cast<size_t>(m * n));
        linear(x.data(), m, w, nullptr, y.data());
        if (follows_reduced(dtype, m, w.precision)) {
          linear_reference_reduced(x.data(), m, w, nullptr, expected.data());
        } else {
          linear_reference(x.data(), m, w, nullptr, expected.data());
        }
        for (size_t i = 0; i < y.size(); ++i) {
          ASSERT_NEAR(y[i], expected[i], 1e-5 * std::fabs(expected[i]) + 1e-3)
              << dtype_name(dtype) << " " << cpu_level_name(cpu_level()) << " m=" << m << " i=" << i;
        }
      }
    }
  }
  set_cpu_level_cap(CpuLevel::kAvx512);
}

#if defined(__x86_64__)
// The AVX2 activation quantizer (used by both x86 levels' int8 paths) gives the same q, scale
// and sums as quantize_activations_q8, bit for bit: random values, an all-zero block, exact
// halves (round half to even) and values far apart in magnitude.
TEST(LinearInt8, VectorQuantizerMatchesScalar) {
  set_cpu_level_cap(CpuLevel::kAvx512);
  if (cpu_level() < CpuLevel::kAvx2) GTEST_SKIP() << "this CPU (or LUMEN_CPU_LEVEL) does not allow avx2";
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const int64_t m = 5, k = 320;
  std::vector<float> x(static_cast<size_t>(m * k));
  for (float& v : x) v = normal(rng);
  for (int64_t j = 0; j < 32; ++j) x[static_cast<size_t>(32 + j)] = 0.0f;
  for (int64_t j = 0; j < 32; ++j) x[static_cast<size_t>(64 + j)] = static_cast<float>(j - 16) + 0.5f;  // d = 1 below
  x[64 + 31] = 127.0f;
  for (int64_t j = 0; j < 32; ++j) x[static_cast<size_t>(96 + j)] = std::ldexp(normal(rng), static_cast<int>(j) - 16);
  for (int64_t j = 0; j < 32; ++j) x[static_cast<size_t>(128 + j)] = 1e-30f * normal(rng);
  const int64_t nb = k / 32;
  std::vector<int8_t> q(static_cast<size_t>(m * k)), q_vec(q.size());
  std::vector<float> scale(static_cast<size_t>(m * nb)), scale_vec(scale.size());
  std::vector<int32_t> sums(static_cast<size_t>(m * nb)), sums_vec(sums.size());
  quantize_activations_q8(x.data(), m, k, q.data(), scale.data(), sums.data());
  kernels::quantize_activations_q8_avx2(x.data(), m, k, q_vec.data(), scale_vec.data(), sums_vec.data());
  EXPECT_EQ(q, q_vec);
  EXPECT_EQ(sums, sums_vec);
  for (size_t i = 0; i < scale.size(); ++i) EXPECT_EQ(scale[i], scale_vec[i]) << "block " << i;  // same bits: no NaN
  EXPECT_EQ(q[64 + 0], -16);  // -15.5 rounds to even
  EXPECT_EQ(q[64 + 1], -14);  // -14.5 too
}
#endif

}  // namespace
}  // namespace lumen
