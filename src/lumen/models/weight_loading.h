// Fetching named weights from a checkpoint with the shapes config.json implies. Matrices stay
// in the mapped file (any stored dtype); small vectors (biases, norms) become fp32 copies.
#pragma once

#include <string>
#include <vector>

#include "lumen/formats/checkpoint.h"
#include "lumen/kernels/cpu/weights.h"

namespace lumen {

// The [rows, cols] matrix `name`; throws Error naming it if absent or mis-shaped, or if its
// dtype cannot be used as weights.
WeightMatrix load_matrix(const TensorStore& store, const std::string& name, int64_t rows, int64_t cols);

// A stored tensor of `shape` viewed as a [rows, cols] matrix (e.g. a conv kernel
// [out, c, kh, kw] as [out, c*kh*kw]); rows * cols must equal the element count.
WeightMatrix load_matrix_reshaped(const TensorStore& store, const std::string& name, const std::vector<int64_t>& shape,
                                  int64_t rows, int64_t cols);

// A view of rows [first, first + count) of a stored [*, cols] matrix (fused Wqkv splits).
WeightMatrix slice_rows(const WeightMatrix& matrix, int64_t first, int64_t count);

// The [n] vector `name` as fp32.
std::vector<float> load_vector(const TensorStore& store, const std::string& name, int64_t n);

// Any tensor of the given shape as fp32 (embedding tables used row by row stay matrices).
std::vector<float> load_dense(const TensorStore& store, const std::string& name, const std::vector<int64_t>& shape);

// A fp32 linear layer: y = x W^T + b.
struct Linear {
  WeightMatrix weight;
  std::vector<float> bias;  // empty: no bias

  void forward(const float* x, int64_t m, float* y) const;
  int64_t in_features() const { return weight.cols; }
  int64_t out_features() const { return weight.rows; }
};

Linear load_linear(const TensorStore& store, const std::string& prefix, int64_t out_features, int64_t in_features,
                   bool with_bias = true);

struct LayerNormWeights {
  std::vector<float> gamma, beta;
  float eps = 1e-5f;
  void forward(const float* x, int64_t rows, float* y) const;
};

LayerNormWeights load_layer_norm(const TensorStore& store, const std::string& prefix, int64_t n, double eps);

}  // namespace lumen
