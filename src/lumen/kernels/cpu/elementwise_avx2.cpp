// AVX2 + FMA element-wise and row-wise kernels for x86-64 CPUs without AVX-512: the
// activations after every MLP's first matmul (729 x 4304 values per SigLIP layer, 789 x 10240
// per Phi-2 layer, where scalar tanh/exp would cost as much as a matmul), LayerNorm/RMSNorm
// (every layer, twice in SigLIP) and softmax.
//
// Norms keep the portable path's arithmetic: statistics accumulated in double (4 lanes at a
// time), then the normalisation in fp32. Only summation order differs from the scalar code.
#include <immintrin.h>

#include <cmath>

#include "lumen/kernels/cpu/elementwise_kernels.h"
#include "lumen/kernels/cpu/vec_math_avx2.h"

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace lumen::kernels {

namespace {

// Applies f to every 8-float vector of x[0, n) in place, the tail through a masked load/store.
template <typename F>
inline void map_inplace(float* x, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, f(_mm256_loadu_ps(x + i)));
  if (i < n) {
    const __m256i m = tail_mask_avx2(n - i);
    _mm256_maskstore_ps(x + i, m, f(_mm256_maskload_ps(x + i, m)));
  }
}

// erf(x) by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7): for t = 1 / (1 + p|x|),
// erf|x| = 1 - (a1 t + a2 t^2 + ... + a5 t^5) e^(-x^2), sign restored afterwards.
inline __m256 erf_avx2(__m256 x) {
  const __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.0f));
  const __m256 ax = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x);
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(0.3275911f), ax, one));
  __m256 poly = _mm256_set1_ps(1.061405429f);
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(-1.453152027f));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(1.421413741f));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(-0.284496736f));
  poly = _mm256_fmadd_ps(poly, t, _mm256_set1_ps(0.254829592f));
  poly = _mm256_mul_ps(poly, t);
  const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), _mm256_mul_ps(ax, ax)));
  return _mm256_or_ps(sign, _mm256_fnmadd_ps(poly, e, one));
}

// Sum of x[0, n) and of (x - mean)^2 in double, 4 lanes per accumulator, two accumulators.
inline double sum_double(const float* x, int64_t n) {
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    a0 = _mm256_add_pd(a0, _mm256_cvtps_pd(_mm_loadu_ps(x + i)));
    a1 = _mm256_add_pd(a1, _mm256_cvtps_pd(_mm_loadu_ps(x + i + 4)));
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, _mm256_add_pd(a0, a1));
  double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; i < n; ++i) sum += x[i];
  return sum;
}

inline double sum_squares_double(const float* x, int64_t n, double center) {
  const __m256d c = _mm256_set1_pd(center);
  __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i)), c);
    const __m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + i + 4)), c);
    a0 = _mm256_fmadd_pd(d0, d0, a0);
    a1 = _mm256_fmadd_pd(d1, d1, a1);
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, _mm256_add_pd(a0, a1));
  double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; i < n; ++i) {
    const double d = x[i] - center;
    sum += d * d;
  }
  return sum;
}

}  // namespace

void gelu_tanh_avx2(float* x, int64_t n) {
  // x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  const __m256 beta = _mm256_set1_ps(0.7978845608028654f);
  const __m256 kappa = _mm256_set1_ps(0.044715f);
  const __m256 half = _mm256_set1_ps(0.5f);
  const __m256 one = _mm256_set1_ps(1.0f);
  map_inplace(x, n, [&](__m256 v) {
    const __m256 inner = _mm256_mul_ps(beta, _mm256_fmadd_ps(_mm256_mul_ps(kappa, v), _mm256_mul_ps(v, v), v));
    return _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, tanh_avx2(inner)));
  });
}

void gelu_erf_avx2(float* x, int64_t n) {
  // x/2 (1 + erf(x / sqrt 2))
  const __m256 inv_sqrt2 = _mm256_set1_ps(0.70710678118654752f);
  const __m256 half = _mm256_set1_ps(0.5f);
  const __m256 one = _mm256_set1_ps(1.0f);
  map_inplace(x, n, [&](__m256 v) {
    return _mm256_mul_ps(_mm256_mul_ps(half, v), _mm256_add_ps(one, erf_avx2(_mm256_mul_ps(v, inv_sqrt2))));
  });
}

void sigmoid_scaled_avx2(float* x, int64_t n, float k) {
  // x / (1 + e^(-k x)): quick_gelu (k = 1.702) and SiLU (k = 1)
  const __m256 neg_k = _mm256_set1_ps(-k);
  const __m256 one = _mm256_set1_ps(1.0f);
  map_inplace(x, n, [&](__m256 v) {
    return _mm256_div_ps(v, _mm256_add_ps(one, exp_avx2(_mm256_mul_ps(neg_k, v))));
  });
}

void layer_norm_row_avx2(const float* x, int64_t n, const float* gamma, const float* beta, float eps, float* y) {
  // Two passes in double, as the portable path: the mean, then the centred variance.
  const double mean = sum_double(x, n) / static_cast<double>(n);
  const double var = sum_squares_double(x, n, mean) / static_cast<double>(n);
  const float inv_f = static_cast<float>(1.0 / std::sqrt(var + eps));
  const float mean_f = static_cast<float>(mean);
  const __m256 inv = _mm256_set1_ps(inv_f), m = _mm256_set1_ps(mean_f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 centred = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m), inv);
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(centred, _mm256_loadu_ps(gamma + i), _mm256_loadu_ps(beta + i)));
  }
  for (; i < n; ++i) y[i] = (x[i] - mean_f) * inv_f * gamma[i] + beta[i];
}

void rms_norm_row_avx2(const float* x, int64_t n, const float* gamma, float eps, float* y) {
  const double mean_square = sum_squares_double(x, n, 0.0) / static_cast<double>(n);
  const float inv_f = static_cast<float>(1.0 / std::sqrt(mean_square + eps));
  const __m256 inv = _mm256_set1_ps(inv_f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), inv), _mm256_loadu_ps(gamma + i)));
  }
  for (; i < n; ++i) y[i] = x[i] * inv_f * gamma[i];
}

void softmax_avx2(float* x, int64_t n) {
  __m256 vmax = _mm256_set1_ps(-INFINITY);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
  float max = hmax_avx2(vmax);
  for (; i < n; ++i) max = x[i] > max ? x[i] : max;
  // e^(x - max), summed in double like the portable path.
  const __m256 shift = _mm256_set1_ps(max);
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  for (i = 0; i + 8 <= n; i += 8) {
    const __m256 e = exp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), shift));
    _mm256_storeu_ps(x + i, e);
    s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  }
  alignas(32) double lanes[4];
  _mm256_store_pd(lanes, _mm256_add_pd(s0, s1));
  double sum = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
  for (; i < n; ++i) {
    x[i] = std::exp(x[i] - max);
    sum += x[i];
  }
  const float inv_f = static_cast<float>(1.0 / sum);
  const __m256 inv = _mm256_set1_ps(inv_f);
  for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
  for (; i < n; ++i) x[i] *= inv_f;
}

}  // namespace lumen::kernels
