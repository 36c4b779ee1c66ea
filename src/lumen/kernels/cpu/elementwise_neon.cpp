// AArch64 Advanced SIMD activations for every Arm level: the GELU after every MLP's first
// matmul runs over [tokens x intermediate] values, where scalar tanh/exp would cost as much as
// the matmul. Same accuracy targets as the AVX-512 kernels (elementwise_avx512.cpp).
#include <arm_neon.h>

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

}  // namespace

bool activation_neon(Activation act, float* x, int64_t n) {
  switch (act) {
    case Activation::kGeluTanh:
      apply(x, n, gelu_tanh4);
      return true;
    case Activation::kQuickGelu:
      apply(x, n, quick_gelu4);
      return true;
    default:
      return false;
  }
}

}  // namespace lumen::kernels
