// AArch64 Advanced SIMD element-wise and row-wise kernels for every Arm level: the activations
// after every MLP's first matmul ([tokens x intermediate] values, where scalar tanh/exp/erf
// would cost as much as the matmul), LayerNorm/RMSNorm (every layer, twice in SigLIP) and
// softmax. The activations keep the AVX-512 kernels' accuracy targets (elementwise_avx512.cpp);
// GELU-erf, SiLU, the norms and softmax mirror elementwise_avx2.cpp with 4 lanes instead of 8.
//
// Norms keep the portable path's arithmetic: statistics accumulated in double (each 4-float
// vector widened exactly by fcvtl/fcvtl2), then the normalisation in fp32. Only summation
// order differs from the scalar code.
#include <arm_neon.h>

#include <cmath>

#include "lumen/kernels/cpu/neon_kernels.h"

namespace lumen::kernels {

namespace {

// e^x for 4 floats, max relative error ~2 ulp. Range reduction x = n ln2 + r, |r| <= ln2/2
// (ln2 in a high and a low part so n ln2 is exact enough), e^r by its degree-7 Taylor
// polynomial (truncation error r^8/8! < 2e-9), then 2^n applied as two exponent-field
// multiplies, so n from -150 to 128 neither wraps the exponent nor loses the underflow to 0
// (x < -104 gives 0) and overflow to inf (x > 89 gives inf).
inline float32x4_t exp4(float32x4_t x) {
  x = vmaxq_f32(x, vdupq_n_f32(-104.0f));
  x = vminq_f32(x, vdupq_n_f32(89.0f));
  const float32x4_t n = vrndnq_f32(vmulq_n_f32(x, 1.44269504088896341f));
  float32x4_t r = vfmsq_f32(x, n, vdupq_n_f32(0.693359375f));
  r = vfmsq_f32(r, n, vdupq_n_f32(-2.12194440e-4f));
  float32x4_t p = vdupq_n_f32(1.0f / 5040.0f);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 720.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 120.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 24.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f / 6.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(0.5f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
  p = vfmaq_f32(vdupq_n_f32(1.0f), p, r);
  const int32x4_t ni = vcvtq_s32_f32(n);
  const int32x4_t n1 = vshrq_n_s32(ni, 1);
  const int32x4_t n2 = vsubq_s32(ni, n1);
  const int32x4_t bias = vdupq_n_s32(127);
  const float32x4_t s1 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n1, bias), 23));
  const float32x4_t s2 = vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n2, bias), 23));
  return vmulq_f32(vmulq_f32(p, s1), s2);
}

// tanh(x) = 1 - 2 / (e^{2x} + 1): exact limits at +-inf, absolute error ~1e-7 near 0.
inline float32x4_t tanh4(float32x4_t x) {
  const float32x4_t one = vdupq_n_f32(1.0f);
  const float32x4_t e = exp4(vaddq_f32(x, x));
  return vsubq_f32(one, vdivq_f32(vdupq_n_f32(2.0f), vaddq_f32(e, one)));
}

// x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
inline float32x4_t gelu_tanh4(float32x4_t v) {
  const float32x4_t inner = vmulq_n_f32(vfmaq_f32(v, vmulq_n_f32(v, 0.044715f), vmulq_f32(v, v)), 0.7978845608028654f);
  return vmulq_f32(vmulq_n_f32(v, 0.5f), vaddq_f32(vdupq_n_f32(1.0f), tanh4(inner)));
}

// x / (1 + e^(-1.702 x))
inline float32x4_t quick_gelu4(float32x4_t v) {
  return vdivq_f32(v, vaddq_f32(vdupq_n_f32(1.0f), exp4(vmulq_n_f32(v, -1.702f))));
}

// x / (1 + e^(-x))
inline float32x4_t silu4(float32x4_t v) { return vdivq_f32(v, vaddq_f32(vdupq_n_f32(1.0f), exp4(vnegq_f32(v)))); }

// max(0, x) as std::max(0.0f, x) computes it: 0 for -0 and NaN, which fmax would keep.
inline float32x4_t relu4(float32x4_t v) {
  const float32x4_t zero = vdupq_n_f32(0.0f);
  return vbslq_f32(vcgtq_f32(v, zero), v, zero);
}

// erf(x) by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7), as erf_avx2: for t = 1 / (1 + p|x|),
// erf|x| = 1 - (a1 t + a2 t^2 + ... + a5 t^5) e^(-x^2), then x's sign bit copied in.
inline float32x4_t erf4(float32x4_t x) {
  const float32x4_t one = vdupq_n_f32(1.0f);
  const float32x4_t ax = vabsq_f32(x);
  const float32x4_t t = vdivq_f32(one, vfmaq_n_f32(one, ax, 0.3275911f));
  float32x4_t poly = vdupq_n_f32(1.061405429f);
  poly = vfmaq_f32(vdupq_n_f32(-1.453152027f), poly, t);
  poly = vfmaq_f32(vdupq_n_f32(1.421413741f), poly, t);
  poly = vfmaq_f32(vdupq_n_f32(-0.284496736f), poly, t);
  poly = vfmaq_f32(vdupq_n_f32(0.254829592f), poly, t);
  poly = vmulq_f32(poly, t);
  const float32x4_t e = exp4(vnegq_f32(vmulq_f32(ax, ax)));
  return vbslq_f32(vdupq_n_u32(0x80000000u), x, vfmsq_f32(one, poly, e));
}

// x/2 (1 + erf(x / sqrt 2)), torch's exact gelu
inline float32x4_t gelu_erf4(float32x4_t v) {
  const float32x4_t erf = erf4(vmulq_n_f32(v, 0.70710678118654752f));
  return vmulq_f32(vmulq_n_f32(v, 0.5f), vaddq_f32(vdupq_n_f32(1.0f), erf));
}

// f over n values in place; the tail goes through a zero-padded 4-lane buffer so every
// value sees the same vector arithmetic.
template <typename F>
void apply(float* x, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(x + i, f(vld1q_f32(x + i)));
  if (i < n) {
    float tail[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t j = i; j < n; ++j) tail[j - i] = x[j];
    vst1q_f32(tail, f(vld1q_f32(tail)));
    for (int64_t j = i; j < n; ++j) x[j] = tail[j - i];
  }
}

// Sum of (x[i] - center)^2 over x[0, n) in double (center = 0: the sum of squares), and the
// plain sum: 8 values a step into four float64x2 accumulators (fcvtl/fcvtl2 widen exactly,
// four chains hide the fadd/fmla latency), then one 4-value step, then at most 3 scalar values.
inline double sum_double(const float* x, int64_t n) {
  float64x2_t a0 = vdupq_n_f64(0.0), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float32x4_t v0 = vld1q_f32(x + i), v1 = vld1q_f32(x + i + 4);
    a0 = vaddq_f64(a0, vcvt_f64_f32(vget_low_f32(v0)));
    a1 = vaddq_f64(a1, vcvt_high_f64_f32(v0));
    a2 = vaddq_f64(a2, vcvt_f64_f32(vget_low_f32(v1)));
    a3 = vaddq_f64(a3, vcvt_high_f64_f32(v1));
  }
  if (i + 4 <= n) {
    const float32x4_t v = vld1q_f32(x + i);
    a0 = vaddq_f64(a0, vcvt_f64_f32(vget_low_f32(v)));
    a1 = vaddq_f64(a1, vcvt_high_f64_f32(v));
    i += 4;
  }
  double sum = vaddvq_f64(vaddq_f64(vaddq_f64(a0, a1), vaddq_f64(a2, a3)));
  for (; i < n; ++i) sum += x[i];
  return sum;
}

inline double sum_squares_double(const float* x, int64_t n, double center) {
  const float64x2_t c = vdupq_n_f64(center);
  float64x2_t a0 = vdupq_n_f64(0.0), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float32x4_t v0 = vld1q_f32(x + i), v1 = vld1q_f32(x + i + 4);
    const float64x2_t d0 = vsubq_f64(vcvt_f64_f32(vget_low_f32(v0)), c);
    const float64x2_t d1 = vsubq_f64(vcvt_high_f64_f32(v0), c);
    const float64x2_t d2 = vsubq_f64(vcvt_f64_f32(vget_low_f32(v1)), c);
    const float64x2_t d3 = vsubq_f64(vcvt_high_f64_f32(v1), c);
    a0 = vfmaq_f64(a0, d0, d0);
    a1 = vfmaq_f64(a1, d1, d1);
    a2 = vfmaq_f64(a2, d2, d2);
    a3 = vfmaq_f64(a3, d3, d3);
  }
  if (i + 4 <= n) {
    const float32x4_t v = vld1q_f32(x + i);
    const float64x2_t d0 = vsubq_f64(vcvt_f64_f32(vget_low_f32(v)), c);
    const float64x2_t d1 = vsubq_f64(vcvt_high_f64_f32(v), c);
    a0 = vfmaq_f64(a0, d0, d0);
    a1 = vfmaq_f64(a1, d1, d1);
    i += 4;
  }
  double sum = vaddvq_f64(vaddq_f64(vaddq_f64(a0, a1), vaddq_f64(a2, a3)));
  for (; i < n; ++i) {
    const double d = x[i] - center;
    sum += d * d;
  }
  return sum;
}

}  // namespace

bool activation_neon(Activation act, float* x, int64_t n) {
  switch (act) {
    case Activation::kGeluTanh:
      apply(x, n, gelu_tanh4);
      return true;
    case Activation::kGeluErf:
      apply(x, n, gelu_erf4);
      return true;
    case Activation::kQuickGelu:
      apply(x, n, quick_gelu4);
      return true;
    case Activation::kSilu:
      apply(x, n, silu4);
      return true;
    case Activation::kRelu:
      apply(x, n, relu4);
      return true;
  }
  return false;
}

void layer_norm_row_neon(const float* x, int64_t n, const float* gamma, const float* beta, float eps, float* y) {
  // Two passes in double, as the portable path: the mean, then the centred variance.
  const double mean = sum_double(x, n) / static_cast<double>(n);
  const double var = sum_squares_double(x, n, mean) / static_cast<double>(n);
  const float inv_f = static_cast<float>(1.0 / std::sqrt(var + eps));
  const float mean_f = static_cast<float>(mean);
  const float32x4_t m = vdupq_n_f32(mean_f);
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float32x4_t centred = vmulq_n_f32(vsubq_f32(vld1q_f32(x + i), m), inv_f);
    vst1q_f32(y + i, vfmaq_f32(vld1q_f32(beta + i), centred, vld1q_f32(gamma + i)));
  }
  // The last < 4 values with the lanes' arithmetic (one fused multiply-add).
  for (; i < n; ++i) y[i] = std::fma((x[i] - mean_f) * inv_f, gamma[i], beta[i]);
}

void rms_norm_row_neon(const float* x, int64_t n, const float* gamma, float eps, float* y) {
  const double mean_square = sum_squares_double(x, n, 0.0) / static_cast<double>(n);
  const float inv_f = static_cast<float>(1.0 / std::sqrt(mean_square + eps));
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) vst1q_f32(y + i, vmulq_f32(vmulq_n_f32(vld1q_f32(x + i), inv_f), vld1q_f32(gamma + i)));
  for (; i < n; ++i) y[i] = x[i] * inv_f * gamma[i];
}

void softmax_neon(float* x, int64_t n) {
  // The last n % 4 values go through a 4-lane buffer padded with -inf, which changes neither
  // the max nor the sum (e^-inf is 0 here), so every value sees the same vector exp.
  const int64_t body = n & ~int64_t{3};
  float tail[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
  for (int64_t j = body; j < n; ++j) tail[j - body] = x[j];

  float32x4_t max0 = vld1q_f32(tail), max1 = max0;
  int64_t i = 0;
  for (; i + 8 <= body; i += 8) {
    max0 = vmaxq_f32(max0, vld1q_f32(x + i));
    max1 = vmaxq_f32(max1, vld1q_f32(x + i + 4));
  }
  if (i < body) max0 = vmaxq_f32(max0, vld1q_f32(x + i));
  const float32x4_t shift = vdupq_n_f32(vmaxvq_f32(vmaxq_f32(max0, max1)));

  // e^(x - max), summed in double like the portable path.
  float64x2_t s0 = vdupq_n_f64(0.0), s1 = s0;
  for (i = 0; i < body; i += 4) {
    const float32x4_t e = exp4(vsubq_f32(vld1q_f32(x + i), shift));
    vst1q_f32(x + i, e);
    s0 = vaddq_f64(s0, vcvt_f64_f32(vget_low_f32(e)));
    s1 = vaddq_f64(s1, vcvt_high_f64_f32(e));
  }
  const float32x4_t e_tail = exp4(vsubq_f32(vld1q_f32(tail), shift));
  vst1q_f32(tail, e_tail);
  s0 = vaddq_f64(s0, vcvt_f64_f32(vget_low_f32(e_tail)));
  s1 = vaddq_f64(s1, vcvt_high_f64_f32(e_tail));
  const double sum = vaddvq_f64(vaddq_f64(s0, s1));

  const float inv_f = static_cast<float>(1.0 / sum);
  for (i = 0; i < body; i += 4) vst1q_f32(x + i, vmulq_n_f32(vld1q_f32(x + i), inv_f));
  for (int64_t j = body; j < n; ++j) x[j] = tail[j - body] * inv_f;
}

}  // namespace lumen::kernels
