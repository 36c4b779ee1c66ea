// AVX-512 activations: the GELU after every MLP's first matmul runs over [tokens x
// intermediate] values (729 x 4304 per SigLIP layer, 789 x 10240 per Phi layer), where scalar
// tanh/exp would cost as much as a matmul.
#include <immintrin.h>

#include "lumen/kernels/cpu/elementwise_kernels.h"
#include "lumen/kernels/cpu/vec_math_avx512.h"

#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace lumen::kernels {

namespace {
inline __mmask16 lanes(int64_t n) { return n >= 16 ? __mmask16(0xffff) : __mmask16((1u << n) - 1); }
}  // namespace

void gelu_tanh_avx512(float* x, int64_t n) {
  // x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
  const __m512 beta = _mm512_set1_ps(0.7978845608028654f);
  const __m512 kappa = _mm512_set1_ps(0.044715f);
  const __m512 half = _mm512_set1_ps(0.5f);
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = lanes(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    const __m512 inner = _mm512_mul_ps(beta, _mm512_fmadd_ps(_mm512_mul_ps(kappa, v), _mm512_mul_ps(v, v), v));
    const __m512 y = _mm512_mul_ps(_mm512_mul_ps(half, v), _mm512_add_ps(one, tanh_avx512(inner)));
    _mm512_mask_storeu_ps(x + i, m, y);
  }
}

void quick_gelu_avx512(float* x, int64_t n) {
  // x / (1 + e^(-1.702 x))
  const __m512 k = _mm512_set1_ps(-1.702f);
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = lanes(n - i);
    const __m512 v = _mm512_maskz_loadu_ps(m, x + i);
    _mm512_mask_storeu_ps(x + i, m, _mm512_div_ps(v, _mm512_add_ps(one, exp_avx512(_mm512_mul_ps(k, v)))));
  }
}

}  // namespace lumen::kernels
