// The vectorised element-wise and row-wise kernels (activations, LayerNorm, RMSNorm, softmax,
// gated MLP) against double-precision formulas, at every CPU level of this architecture (skipped, saying so, where this CPU lacks one).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "lumen/core/cpu_features.h"
#include "lumen/kernels/cpu/elementwise.h"

namespace lumen {
namespace {

std::vector<float> inputs() {
  std::vector<float> x;
  for (int i = -4000; i <= 4000; ++i) x.push_back(static_cast<float>(i) * 0.005f);  // dense around 0
  for (float v : {-200.0f, -90.0f, -50.0f, -15.0f, 15.0f, 50.0f, 90.0f, 200.0f, 1e-30f, -1e-30f, 0.0f}) x.push_back(v);
  x.push_back(0.5f);  // odd count: a masked tail
  return x;
}

double reference_activation(Activation act, double v) {
  switch (act) {
    case Activation::kGeluTanh: return 0.5 * v * (1 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)));
    case Activation::kGeluErf: return 0.5 * v * (1 + std::erf(v / std::sqrt(2.0)));
    case Activation::kQuickGelu: return v / (1 + std::exp(-1.702 * v));
    case Activation::kSilu: return v / (1 + std::exp(-v));
    case Activation::kRelu: return v > 0 ? v : 0.0;
  }
  return 0.0;
}

// Random rows of width n with a large common offset, the case where a one-pass variance loses
// digits.
std::vector<float> random_rows(int64_t rows, int64_t n, unsigned seed, float offset) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> x(static_cast<size_t>(rows * n));
  for (float& v : x) v = normal(rng) + offset;
  return x;
}

class ElementwiseAtLevel : public ::testing::TestWithParam<CpuLevel> {
 protected:
  void SetUp() override {
    set_cpu_level_cap(GetParam());
    if (cpu_level() != GetParam()) {
      GTEST_SKIP() << "this CPU cannot run the " << cpu_level_name(GetParam()) << " kernels (it runs "
                   << cpu_level_name(cpu_level()) << ")";
    }
  }
  void TearDown() override { set_cpu_level_cap(CpuLevel::kAvx512); }
};

TEST_P(ElementwiseAtLevel, ActivationsMatchFormulas) {
  for (Activation act :
       {Activation::kGeluTanh, Activation::kGeluErf, Activation::kQuickGelu, Activation::kSilu, Activation::kRelu}) {
    const std::vector<float> x = inputs();
    // Short spans run on the calling thread, long ones in parallel chunks: test both.
    for (size_t copies : {size_t{1}, size_t{9}}) {
      std::vector<float> y;
      for (size_t c = 0; c < copies; ++c) y.insert(y.end(), x.begin(), x.end());
      activation_inplace(act, y.data(), static_cast<int64_t>(y.size()));
      for (size_t i = 0; i < y.size(); ++i) {
        const double expected = reference_activation(act, x[i % x.size()]);
        ASSERT_NEAR(y[i], expected, 5e-7 + 2e-6 * std::fabs(expected))
            << activation_name(act) << " " << cpu_level_name(cpu_level()) << " x=" << x[i % x.size()];
      }
    }
  }
}

TEST_P(ElementwiseAtLevel, ActivationsOfEveryTailLength) {
  // Every length from 1 to 35 (each remainder mod 4, 8 and 16) from an unaligned start, over
  // small and large |x|; the values past the end stay untouched.
  const std::vector<float> pool = {-200.0f, -15.0f, -7.5f, -3.1f, -1.0f, -0.4f, -1e-3f, 0.0f,
                                   2e-3f,   0.3f,   0.9f,  1.7f,  2.5f,  4.2f,  9.0f,  90.0f};
  constexpr float kSentinel = 12345.0f;
  for (Activation act :
       {Activation::kGeluTanh, Activation::kGeluErf, Activation::kQuickGelu, Activation::kSilu, Activation::kRelu}) {
    for (int64_t n = 1; n <= 35; ++n) {
      std::vector<float> buffer(static_cast<size_t>(n) + 6, kSentinel);
      for (int64_t i = 0; i < n; ++i) buffer[i + 1] = pool[static_cast<size_t>(i * 7 + n) % pool.size()];
      const std::vector<float> x = buffer;
      activation_inplace(act, buffer.data() + 1, n);
      for (int64_t i = 0; i < n; ++i) {
        const double expected = reference_activation(act, x[i + 1]);
        ASSERT_NEAR(buffer[i + 1], expected, 5e-7 + 2e-6 * std::fabs(expected))
            << activation_name(act) << " n=" << n << " x=" << x[i + 1];
      }
      ASSERT_EQ(buffer[0], kSentinel) << activation_name(act) << " n=" << n;
      for (size_t i = static_cast<size_t>(n) + 1; i < buffer.size(); ++i) {
        ASSERT_EQ(buffer[i], kSentinel) << activation_name(act) << " n=" << n << " wrote past the end";
      }
    }
  }
}

TEST_P(ElementwiseAtLevel, GatedActivationMatchesFormula) {
  for (auto [rows, inner] : {std::pair<int64_t, int64_t>{3, 13}, {40, 2000}}) {
    std::vector<float> gate_up = random_rows(rows, 2 * inner, 5, 0.0f), out(static_cast<size_t>(rows * inner));
    gated_activation(Activation::kSilu, gate_up.data(), rows, inner, out.data());
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t i = 0; i < inner; ++i) {
        const double g = gate_up[r * 2 * inner + i], u = gate_up[r * 2 * inner + inner + i];
        const double expected = reference_activation(Activation::kSilu, g) * u;
        ASSERT_NEAR(out[r * inner + i], expected, 1e-6 + 2e-6 * std::fabs(expected)) << "rows=" << rows << " r=" << r;
      }
    }
  }
}

TEST_P(ElementwiseAtLevel, NormsMatchDoubleReference) {
  // Widths with every vector tail (mod 4, 8 and 16), one row and many (the threaded path),
  // offsets large and small.
  constexpr float kSentinel = 12345.0f;
  for (auto [rows, n] : {std::pair<int64_t, int64_t>{1, 7}, {2, 1}, {3, 2}, {2, 6}, {4, 16}, {3, 19}, {2, 30},
                         {3, 37}, {20, 1152}, {9, 2563}}) {
    for (float offset : {0.0f, 300.0f}) {
      const std::vector<float> x = random_rows(rows, n, static_cast<unsigned>(n), offset);
      const std::vector<float> gamma = random_rows(1, n, 11, 1.0f), beta = random_rows(1, n, 12, 0.0f);
      std::vector<float> ln(x.size() + 4, kSentinel), rms(x.size() + 4, kSentinel);  // + 4 past the end
      layer_norm(x.data(), rows, n, gamma.data(), beta.data(), 1e-5f, ln.data());
      rms_norm(x.data(), rows, n, gamma.data(), 1e-6f, rms.data());
      for (size_t i = x.size(); i < ln.size(); ++i) {
        ASSERT_EQ(ln[i], kSentinel) << "layer_norm n=" << n << " wrote past the end";
        ASSERT_EQ(rms[i], kSentinel) << "rms_norm n=" << n << " wrote past the end";
      }
      ln.resize(x.size());
      rms.resize(x.size());
      for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x.data() + r * n;
        double mean = 0, var = 0, square = 0;
        for (int64_t i = 0; i < n; ++i) mean += xr[i];
        mean /= static_cast<double>(n);
        for (int64_t i = 0; i < n; ++i) {
          var += (xr[i] - mean) * (xr[i] - mean);
          square += static_cast<double>(xr[i]) * xr[i];
        }
        const double inv = 1.0 / std::sqrt(var / static_cast<double>(n) + 1e-5);
        const double inv_rms = 1.0 / std::sqrt(square / static_cast<double>(n) + 1e-6);
        for (int64_t i = 0; i < n; ++i) {
          const double expected_ln = (xr[i] - mean) * inv * gamma[i] + beta[i];
          const double expected_rms = xr[i] * inv_rms * gamma[i];
          // fp32 rounding of the mean and of x - mean: a few ulp of |x| + |mean|, scaled by the norm.
          const double ln_tolerance = 1e-5 + 2.4e-7 * (std::fabs(xr[i]) + std::fabs(mean)) * inv * std::fabs(gamma[i]);
          ASSERT_NEAR(ln[r * n + i], expected_ln, ln_tolerance) << "n=" << n << " offset=" << offset;
          ASSERT_NEAR(rms[r * n + i], expected_rms, 2e-6 * (1 + std::fabs(expected_rms))) << "n=" << n;
        }
      }
      // In place, as the blocks call it.
      std::vector<float> same = x;
      layer_norm(same.data(), rows, n, gamma.data(), beta.data(), 1e-5f, same.data());
      EXPECT_EQ(same, ln) << "layer_norm in place, n=" << n;
      same = x;
      rms_norm(same.data(), rows, n, gamma.data(), 1e-6f, same.data());
      EXPECT_EQ(same, rms) << "rms_norm in place, n=" << n;
    }
  }
}

TEST_P(ElementwiseAtLevel, SoftmaxMatchesDoubleReference) {
  // Every tail (mod 4, 8 and 16), and one row of large |x| whose small weights underflow.
  constexpr float kSentinel = 12345.0f;
  for (auto [n, scale] : {std::pair<int64_t, float>{1, 1.0f}, {2, 1.0f}, {3, 1.0f}, {4, 1.0f}, {5, 1.0f}, {6, 1.0f},
                          {8, 1.0f}, {15, 1.0f}, {16, 1.0f}, {17, 1.0f}, {33, 1.0f}, {77, 1.0f}, {1000, 1.0f},
                          {41, 40.0f}}) {
    std::vector<float> x = random_rows(1, n, static_cast<unsigned>(n) + 3, 0.0f);
    for (float& v : x) v *= scale;
    if (n > 1) x[0] = -INFINITY;  // a masked entry contributes zero
    std::vector<double> expected(x.size());
    double max = -INFINITY, sum = 0;
    for (float v : x) max = std::max<double>(max, v);
    for (size_t i = 0; i < x.size(); ++i) sum += (expected[i] = std::exp(x[i] - max));
    std::vector<float> y = x;
    y.insert(y.end(), 4, kSentinel);  // past the end
    softmax_inplace(y.data(), n);
    for (size_t i = 0; i < x.size(); ++i) {
      const double e = expected[i] / sum;
      ASSERT_NEAR(y[i], e, 1e-6 * (1 + e)) << "n=" << n << " scale=" << scale << " i=" << i;
    }
    for (size_t i = x.size(); i < y.size(); ++i) ASSERT_EQ(y[i], kSentinel) << "n=" << n << " wrote past the end";
  }
}

INSTANTIATE_TEST_SUITE_P(Levels, ElementwiseAtLevel,
                         ::testing::ValuesIn(cpu_levels_of_this_arch()),
                         [](const auto& info) { return std::string(cpu_level_name(info.param)); });

}  // namespace
}  // namespace lumen
