#include "lumen/kernels/cpu/linear.h"

#include <algorithm>
#include <vector>

#include "lumen/core/thread_pool.h"

namespace lumen {

namespace {

// Dot product with eight independent partial sums, so the compiler can keep them in vector
// registers without reassociating a single sum.
inline float dot(const float* a, const float* b, int64_t n) {
  float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  }
  float sum = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace

void linear_reference(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y) {
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t n = 0; n < w.rows; ++n) {
    convert_row_to_f32(w.dtype, w.row(n), w.cols, row.data());
    for (int64_t i = 0; i < m; ++i) {
      double sum = bias ? bias[n] : 0.0;
      for (int64_t k = 0; k < w.cols; ++k) sum += static_cast<double>(x[i * w.cols + k]) * row[k];
      y[i * w.rows + n] = static_cast<float>(sum);
    }
  }
}

void linear(const float* x, int64_t m, const WeightMatrix& w, const float* bias, float* y) {
  const int64_t k_dim = w.cols;
  const int64_t n_dim = w.rows;
  // Each task owns a block of output features: it converts those weight rows once and
  // applies them to every input row, so weights stream from memory exactly once.
  constexpr int64_t kRowsPerBlock = 16;
  const size_t blocks = static_cast<size_t>((n_dim + kRowsPerBlock - 1) / kRowsPerBlock);
  ThreadPool::global().parallel_for(blocks, 1, [&](size_t begin, size_t end) {
    std::vector<float> rows(static_cast<size_t>(kRowsPerBlock * k_dim));
    for (size_t block = begin; block < end; ++block) {
      const int64_t n0 = static_cast<int64_t>(block) * kRowsPerBlock;
      const int64_t n1 = std::min(n_dim, n0 + kRowsPerBlock);
      for (int64_t n = n0; n < n1; ++n) {
        convert_row_to_f32(w.dtype, w.row(n), k_dim, rows.data() + (n - n0) * k_dim);
      }
      for (int64_t i = 0; i < m; ++i) {
        const float* xi = x + i * k_dim;
        float* yi = y + i * n_dim;
        for (int64_t n = n0; n < n1; ++n) {
          yi[n] = dot(xi, rows.data() + (n - n0) * k_dim, k_dim) + (bias ? bias[n] : 0.0f);
        }
      }
    }
  });
}

}  // namespace lumen
