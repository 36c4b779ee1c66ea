#include "lumen/kernels/cpu/elementwise.h"

#include <algorithm>
#include <cmath>

#include "lumen/core/cpu_features.h"
#include "lumen/core/thread_pool.h"
#include "lumen/kernels/cpu/elementwise_kernels.h"
#include "lumen/kernels/cpu/neon_kernels.h"

namespace lumen {

namespace {
// AVX2 kernels serve both x86 vector levels where no AVX-512 version exists; the NEON kernels
// serve every Arm level above generic (ARMv8.0 Advanced SIMD is all they use).
// (Each architecture's kernels are compiled only there, so their calls sit inside #if.)
#if defined(__x86_64__)
#define LUMEN_X86 1
bool has_avx2() { return cpu_level() == CpuLevel::kAvx2 || cpu_level() == CpuLevel::kAvx512; }
#else
#define LUMEN_X86 0
#endif
#if defined(__aarch64__)
bool has_neon() { return cpu_level() != CpuLevel::kGeneric; }
#endif
}  // namespace

void layer_norm(const float* x, int64_t rows, int64_t n, const float* gamma, const float* beta, float eps, float* y) {
#if LUMEN_X86
  const bool avx2 = has_avx2();
#elif defined(__aarch64__)
  const bool neon = has_neon();
#endif
  auto body = [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; ++r) {
#if LUMEN_X86
      if (avx2) {
        kernels::layer_norm_row_avx2(x + r * n, n, gamma, beta, eps, y + r * n);
        continue;
      }
#elif defined(__aarch64__)
      if (neon) {
        kernels::layer_norm_row_neon(x + r * n, n, gamma, beta, eps, y + r * n);
        continue;
      }
#endif
      const float* xr = x + r * n;
      float* yr = y + r * n;
      // Two passes in double: the mean, then the centred variance (as torch computes it).
      double mean = 0.0;
      for (int64_t i = 0; i < n; ++i) mean += xr[i];
      mean /= static_cast<double>(n);
      double var = 0.0;
      for (int64_t i = 0; i < n; ++i) {
        double d = xr[i] - mean;
        var += d * d;
      }
      var /= static_cast<double>(n);
      const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
      const float m = static_cast<float>(mean);
      for (int64_t i = 0; i < n; ++i) yr[i] = (xr[i] - m) * inv * gamma[i] + beta[i];
    }
  };
  if (rows * n < 16384) {
    body(0, static_cast<size_t>(rows));
  } else {
    ThreadPool::global().parallel_for(static_cast<size_t>(rows), 4, body);
  }
}

void rms_norm(const float* x, int64_t rows, int64_t n, const float* gamma, float eps, float* y) {
#if LUMEN_X86
  const bool avx2 = has_avx2();
#elif defined(__aarch64__)
  const bool neon = has_neon();
#endif
  auto body = [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; ++r) {
#if LUMEN_X86
      if (avx2) {
        kernels::rms_norm_row_avx2(x + r * n, n, gamma, eps, y + r * n);
        continue;
      }
#elif defined(__aarch64__)
      if (neon) {
        kernels::rms_norm_row_neon(x + r * n, n, gamma, eps, y + r * n);
        continue;
      }
#endif
      const float* xr = x + r * n;
      float* yr = y + r * n;
      double sq = 0.0;
      for (int64_t i = 0; i < n; ++i) sq += static_cast<double>(xr[i]) * xr[i];
      const float inv = static_cast<float>(1.0 / std::sqrt(sq / static_cast<double>(n) + eps));
      for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * inv * gamma[i];
    }
  };
  if (rows * n < 16384) {
    body(0, static_cast<size_t>(rows));
  } else {
    ThreadPool::global().parallel_for(static_cast<size_t>(rows), 4, body);
  }
}

float gelu_erf(float x) { return 0.5f * x * (1.0f + std::erf(x * 0.70710678118654752f)); }

float gelu_tanh(float x) {
  const float kBeta = 0.7978845608028654f;  // sqrt(2/pi)
  return 0.5f * x * (1.0f + std::tanh(kBeta * (x + 0.044715f * x * x * x)));
}

namespace {

// act over x[0, n) on the calling thread, by the best kernel of this CPU level.
void activate_span(Activation act, float* x, int64_t n) {
#if LUMEN_X86
  const CpuLevel level = cpu_level();
  if (level == CpuLevel::kAvx512 && act == Activation::kGeluTanh) return kernels::gelu_tanh_avx512(x, n);
  if (level == CpuLevel::kAvx512 && act == Activation::kQuickGelu) return kernels::quick_gelu_avx512(x, n);
  if (has_avx2()) {
    switch (act) {
      case Activation::kGeluTanh: return kernels::gelu_tanh_avx2(x, n);
      case Activation::kGeluErf: return kernels::gelu_erf_avx2(x, n);
      case Activation::kQuickGelu: return kernels::sigmoid_scaled_avx2(x, n, 1.702f);
      case Activation::kSilu: return kernels::sigmoid_scaled_avx2(x, n, 1.0f);
      case Activation::kRelu: break;  // the portable loop vectorises
    }
  }
#elif defined(__aarch64__)
  if (has_neon() && kernels::activation_neon(act, x, n)) return;
#endif
  switch (act) {
    case Activation::kGeluErf:
      for (int64_t i = 0; i < n; ++i) x[i] = gelu_erf(x[i]);
      break;
    case Activation::kGeluTanh:
      for (int64_t i = 0; i < n; ++i) x[i] = gelu_tanh(x[i]);
      break;
    case Activation::kQuickGelu:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-1.702f * x[i]));
      break;
    case Activation::kRelu:
      for (int64_t i = 0; i < n; ++i) x[i] = std::max(0.0f, x[i]);
      break;
    case Activation::kSilu:
      for (int64_t i = 0; i < n; ++i) x[i] = x[i] / (1.0f + std::exp(-x[i]));
      break;
  }
}

}  // namespace

void activation_inplace(Activation act, float* x, int64_t n) {
  if (n < 65536) {
    activate_span(act, x, n);
    return;
  }
  ThreadPool::global().parallel_for(static_cast<size_t>(n), 4096, [&](size_t begin, size_t end) {
    activate_span(act, x + begin, static_cast<int64_t>(end - begin));
  });
}

void gated_activation(Activation act, const float* gate_up, int64_t rows, int64_t inner, float* out) {
  auto body = [&](size_t begin, size_t end) {
    for (size_t r = begin; r < end; ++r) {
      float* o = out + r * inner;
      std::copy_n(gate_up + r * 2 * inner, inner, o);
      activate_span(act, o, inner);
      const float* up = gate_up + r * 2 * inner + inner;
      for (int64_t i = 0; i < inner; ++i) o[i] *= up[i];  // vectorises at any ISA level
    }
  };
  if (rows * inner < 65536) {
    body(0, static_cast<size_t>(rows));
  } else {
    ThreadPool::global().parallel_for(static_cast<size_t>(rows), 1, body);
  }
}

void add_inplace(float* y, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += x[i];
}

void softmax_inplace(float* x, int64_t n) {
  if (n <= 0) return;
#if LUMEN_X86
  if (has_avx2()) {
    kernels::softmax_avx2(x, n);
    return;
  }
#elif defined(__aarch64__)
  if (has_neon()) {
    kernels::softmax_neon(x, n);
    return;
  }
#endif
  float max = x[0];
  for (int64_t i = 1; i < n; ++i) max = std::max(max, x[i]);
  double sum = 0.0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace lumen
