// Small vector helpers for embeddings: dot products and L2 normalisation of rows.
#pragma once

#include <cstdint>

namespace lumen {

// sum_i a[i] * b[i], accumulated in double so rankings do not depend on summation order.
float dot(const float* a, const float* b, int64_t n);

// Scales each row of x [rows, dim] to unit L2 norm; all-zero rows stay zero.
void l2_normalize_rows(float* x, int64_t rows, int64_t dim);

}  // namespace lumen
