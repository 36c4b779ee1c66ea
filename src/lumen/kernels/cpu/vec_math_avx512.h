// Vectorised helpers for AVX-512 kernel files (include only from *_avx512.cpp): e^x, tanh and
// prefetches.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace lumen::kernels {

// e^x for 16 floats, max relative error ~2 ulp. Range reduction x = n ln2 + r, |r| <= ln2/2
// (ln2 split in a high and a low part, Cody & Waite), e^r by its degree-7 Taylor polynomial
// (truncation error r^8/8! < 2e-9), then scaled by 2^n with vscalefps, which also gives 0 for
// very negative x and inf for large x.
inline __m512 exp_avx512(__m512 x) {
  const __m512 log2e = _mm512_set1_ps(1.44269504088896341f);
  const __m512 ln2_hi = _mm512_set1_ps(0.693359375f);
  const __m512 ln2_lo = _mm512_set1_ps(-2.12194440e-4f);
  x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
  x = _mm512_min_ps(x, _mm512_set1_ps(89.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, ln2_hi, x);
  r = _mm512_fnmadd_ps(n, ln2_lo, r);
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  return _mm512_scalef_ps(p, n);
}

// tanh(x) = 1 - 2 / (e^{2x} + 1): exact limits at +-inf, absolute error ~1e-7 near 0.
inline __m512 tanh_avx512(__m512 x) {
  const __m512 one = _mm512_set1_ps(1.0f);
  const __m512 e = exp_avx512(_mm512_add_ps(x, x));
  return _mm512_sub_ps(one, _mm512_div_ps(_mm512_set1_ps(2.0f), _mm512_add_ps(e, one)));
}

// Prefetches [p, p + bytes) into L1 (bytes a compile-time constant in the callers, so the
// loop unrolls). Hints never fault, so p may run past the end of the data.
template <int64_t bytes>
inline void prefetch_span_avx512(const uint8_t* p) {
  for (int64_t off = 0; off < bytes; off += 64) _mm_prefetch(reinterpret_cast<const char*>(p + off), _MM_HINT_T0);
  _mm_prefetch(reinterpret_cast<const char*>(p + bytes - 1), _MM_HINT_T0);
}

}  // namespace lumen::kernels
