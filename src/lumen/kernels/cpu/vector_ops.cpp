#include "lumen/kernels/cpu/vector_ops.h"

#include <cmath>

namespace lumen {

float dot(const float* a, const float* b, int64_t n) {
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += static_cast<double>(a[i]) * static_cast<double>(b[i]);
  return static_cast<float>(sum);
}

void l2_normalize_rows(float* x, int64_t rows, int64_t dim) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * dim;
    double norm2 = 0;
    for (int64_t i = 0; i < dim; ++i) norm2 += static_cast<double>(row[i]) * row[i];
    if (norm2 <= 0) continue;
    const double inv = 1.0 / std::sqrt(norm2);
    for (int64_t i = 0; i < dim; ++i) row[i] = static_cast<float>(row[i] * inv);
  }
}

}  // namespace lumen
