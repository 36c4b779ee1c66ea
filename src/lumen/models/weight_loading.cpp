#include "lumen/models/weight_loading.h"

#include "lumen/core/error.h"
#include "lumen/kernels/cpu/elementwise.h"
#include "lumen/kernels/cpu/linear.h"

namespace lumen {

namespace {
void check_weight_dtype(const TensorView& view, const std::string& dir) {
  switch (view.dtype) {
    case DType::kF32:
    case DType::kF16:
    case DType::kBF16:
    case DType::kQ8_0:
    case DType::kQ4_0:
      return;
    default:
      fail(dir, ": tensor '", view.name, "' has dtype ", dtype_name(view.dtype),
           ", which is not a weight type (F32, F16, BF16, Q8_0, Q4_0)");
  }
}
}  // namespace

WeightMatrix load_matrix(const TensorStore& store, const std::string& name, int64_t rows, int64_t cols) {
  const TensorView& view = store.require(name, {rows, cols});
  check_weight_dtype(view, store.dir().string());
  if (cols % static_cast<int64_t>(dtype_block(view.dtype)) != 0) {
    fail(store.dir().string(), ": tensor '", name, "' rows are not whole quantization blocks");
  }
  WeightMatrix matrix{view.dtype, view.data, rows, cols};
  if (store.reduced_precision(name)) matrix.precision = MatmulPrecision::kReduced;
  return matrix;
}

WeightMatrix load_matrix_reshaped(const TensorStore& store, const std::string& name, const std::vector<int64_t>& shape,
                                  int64_t rows, int64_t cols) {
  const TensorView& view = store.require(name, shape);
  check_weight_dtype(view, store.dir().string());
  if (view.numel() != rows * cols || cols % static_cast<int64_t>(dtype_block(view.dtype)) != 0) {
    fail(store.dir().string(), ": tensor '", name, "' cannot be used as a [", rows, ", ", cols, "] matrix");
  }
  return WeightMatrix{view.dtype, view.data, rows, cols};
}

WeightMatrix slice_rows(const WeightMatrix& matrix, int64_t first, int64_t count) {
  WeightMatrix slice = matrix;
  slice.data = matrix.row(first);
  slice.rows = count;
  return slice;
}

std::vector<float> load_dense(const TensorStore& store, const std::string& name, const std::vector<int64_t>& shape) {
  const TensorView& view = store.require(name, shape);
  check_weight_dtype(view, store.dir().string());
  std::vector<float> out(static_cast<size_t>(view.numel()));
  convert_row_to_f32(view.dtype, view.data, view.numel(), out.data());
  return out;
}

std::vector<float> load_vector(const TensorStore& store, const std::string& name, int64_t n) {
  return load_dense(store, name, {n});
}

void Linear::forward(const float* x, int64_t m, float* y) const {
  linear(x, m, weight, bias.empty() ? nullptr : bias.data(), y);
}

Linear load_linear(const TensorStore& store, const std::string& prefix, int64_t out_features, int64_t in_features,
                   bool with_bias) {
  Linear layer;
  layer.weight = load_matrix(store, prefix + ".weight", out_features, in_features);
  if (with_bias) layer.bias = load_vector(store, prefix + ".bias", out_features);
  return layer;
}

void LayerNormWeights::forward(const float* x, int64_t rows, float* y) const {
  layer_norm(x, rows, static_cast<int64_t>(gamma.size()), gamma.data(), beta.data(), eps, y);
}

LayerNormWeights load_layer_norm(const TensorStore& store, const std::string& prefix, int64_t n, double eps) {
  LayerNormWeights ln;
  ln.gamma = load_vector(store, prefix + ".weight", n);
  ln.beta = load_vector(store, prefix + ".bias", n);
  ln.eps = static_cast<float>(eps);
  return ln;
}

}  // namespace lumen
