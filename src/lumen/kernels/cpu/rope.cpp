#include "lumen/kernels/cpu/rope.h"

#include <cmath>
#include <vector>

namespace lumen {

void rope_neox_inplace(float* x, int64_t n_tokens, int64_t token_stride, int64_t n_heads, int64_t head_dim,
                       int64_t rotary_dim, int64_t first_position, double theta) {
  const int64_t half = rotary_dim / 2;
  if (half == 0) return;
  // inv_freq[i] = theta^(-2i/rotary_dim); angles in double, then cos/sin rounded to float.
  std::vector<double> inv_freq(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    inv_freq[i] = 1.0 / std::pow(theta, static_cast<double>(2 * i) / static_cast<double>(rotary_dim));
  }
  std::vector<float> cos_v(static_cast<size_t>(half)), sin_v(static_cast<size_t>(half));
  for (int64_t t = 0; t < n_tokens; ++t) {
    const double pos = static_cast<double>(first_position + t);
    for (int64_t i = 0; i < half; ++i) {
      cos_v[i] = static_cast<float>(std::cos(pos * inv_freq[i]));
      sin_v[i] = static_cast<float>(std::sin(pos * inv_freq[i]));
    }
    for (int64_t h = 0; h < n_heads; ++h) {
      float* v = x + t * token_stride + h * head_dim;
      for (int64_t i = 0; i < half; ++i) {
        const float a = v[i];
        const float b = v[i + half];
        v[i] = a * cos_v[i] - b * sin_v[i];
        v[i + half] = b * cos_v[i] + a * sin_v[i];
      }
    }
  }
}

}  // namespace lumen
