// The vectorised activations against the scalar formulas (gelu_tanh, quick_gelu).
#include <gtest/gtest.h>

#include <cmath>
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

TEST(Activation, VectorisedMatchesScalarFormulas) {
  for (Activation act : {Activation::kGeluTanh, Activation::kQuickGelu}) {
    std::vector<float> x = inputs();
    std::vector<float> expected(x.size());
    for (size_t i = 0; i < x.size(); ++i) {
      const double v = x[i];
      expected[i] = act == Activation::kGeluTanh
                        ? static_cast<float>(0.5 * v * (1 + std::tanh(0.7978845608028654 * (v + 0.044715 * v * v * v))))
                        : static_cast<float>(v / (1 + std::exp(-1.702 * v)));
    }
    for (CpuLevel level : cpu_levels_of_this_arch()) {
      set_cpu_level_cap(level);
      std::vector<float> y = x;
      activation_inplace(act, y.data(), static_cast<int64_t>(y.size()));
      for (size_t i = 0; i < x.size(); ++i) {
        ASSERT_NEAR(y[i], expected[i], 5e-7 + 2e-6 * std::fabs(expected[i]))
            << activation_name(act) << " " << cpu_level_name(cpu_level()) << " x=" << x[i];
      }
    }
    set_cpu_level_cap(CpuLevel::kAvx512);
  }
}

}  // namespace
}  // namespace lumen
