// The CUDA backend: one device, one stream, one cuBLAS handle. Weights live on the device in
// the activation dtype (F32, F16 or BF16) so GEMM operands match; the residual stream and logits
// stay fp32. Projections go to gemv.cu for a few rows (decode) and to cuBLAS (fp32 accumulate)
// otherwise; prefill/vision attention is two strided-batched cuBLAS GEMMs around a masked row
// softmax; the decode step can be recorded as a CUDA graph (begin_capture / end_capture).
#include <cublas_v2.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "lumen/backend/device.h"
#include "lumen/backend/cuda/cuda_common.cuh"
#include "lumen/backend/cuda/kernels.cuh"

namespace lumen {

namespace {

using cuda::check;

void check_cublas(cublasStatus_t status, const char* what) {
  if (status != CUBLAS_STATUS_SUCCESS) {
    fail_kind(ErrorKind::kInternal, "[cuda] ", what, ": cuBLAS error ", static_cast<int>(status), " (",
              cublasGetStatusString(status), ")");
  }
}

cudaDataType_t cuda_type(DType dtype) {
  switch (dtype) {
    case DType::kF32:
      return CUDA_R_32F;
    case DType::kF16:
      return CUDA_R_16F;
    case DType::kBF16:
      return CUDA_R_16BF;
    default:
      fail("[cuda] no cuBLAS type for ", dtype_name(dtype));
  }
}

// Host-side conversion of any stored weight dtype to an activation dtype (upload only).
void convert_rows_on_host(const WeightMatrix& w, DType to, std::vector<uint8_t>& out) {
  const size_t n = static_cast<size_t>(w.rows * w.cols);
  out.resize(n * dtype_size(to));
  std::vector<float> row(static_cast<size_t>(w.cols));
  for (int64_t r = 0; r < w.rows; ++r) {
    convert_row_to_f32(w.dtype, w.row(r), w.cols, row.data());
    uint8_t* dst = out.data() + static_cast<size_t>(r * w.cols) * dtype_size(to);
    for (int64_t c = 0; c < w.cols; ++c) {
      if (to == DType::kF32) {
        std::memcpy(dst + c * 4, &row[c], 4);
      } else {
        const uint16_t h = to == DType::kF16 ? f32_to_f16(row[c]) : f32_to_bf16(row[c]);
        std::memcpy(dst + c * 2, &h, 2);
      }
    }
  }
}

class CudaGraph final : public BackendGraph {
 public:
  CudaGraph(cudaGraphExec_t exec, cudaStream_t stream) : exec_(exec), stream_(stream) {}
  ~CudaGraph() override { cudaGraphExecDestroy(exec_); }
  void launch() override { check(cudaGraphLaunch(exec_, stream_), "graph launch"); }

 private:
  cudaGraphExec_t exec_;
  cudaStream_t stream_;
};

// Keys and values stay in the activation dtype on this backend (kv_cache_dtype's default).
void require_kv_dtype(DType act, DType kv, const char* op) {
  if (kv != act) fail("[", op, "] the CUDA backend keeps keys and values in ", dtype_name(act), ", not ", dtype_name(kv));
}

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int index) : index_(index) {
    check(cudaSetDevice(index), "cudaSetDevice");
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, index), "cudaGetDeviceProperties");
    name_ = "cuda:" + std::to_string(index) + " (" + prop.name + ")";
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check_cublas(cublasCreate(&cublas_), "cublasCreate");
    check_cublas(cublasSetStream(cublas_, stream_), "cublasSetStream");
    // Plain fp32 for F32 GEMMs (no TF32), so --device cuda matches the CPU in F32.
    check_cublas(cublasSetMathMode(cublas_, CUBLAS_DEFAULT_MATH), "cublasSetMathMode");
    // A fixed workspace: cuBLAS must not allocate while a graph is being recorded.
    workspace_ = allocate(kWorkspaceBytes);
    check_cublas(cublasSetWorkspace(cublas_, workspace_.data(), kWorkspaceBytes), "cublasSetWorkspace");
  }

  ~CudaBackend() override {
    workspace_.reset();
    scores_.reset();
    probs_.reset();
    if (cublas_ != nullptr) cublasDestroy(cublas_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  std::string name() const override { return name_; }

  DType activation_dtype(DType weights, DType requested) const override {
    if (requested == DType::kF32 || requested == DType::kF16 || requested == DType::kBF16) return requested;
    if (weights == DType::kF32 || weights == DType::kF16 || weights == DType::kBF16) return weights;
    return DType::kBF16;  // quantized checkpoints are dequantized to BF16 at upload
  }

  DeviceBuffer allocate(size_t bytes) override {
    void* p = nullptr;
    const cudaError_t status = cudaMalloc(&p, bytes == 0 ? 1 : bytes);
    if (status != cudaSuccess) {
      cudaGetLastError();  // clear the sticky-free error
      fail_kind(ErrorKind::kLimitExceeded, "[cuda] out of device memory allocating ", bytes, " bytes on ", name_);
    }
    return DeviceBuffer(this, p, bytes);
  }
  void release(void* data, size_t) noexcept override { cudaFree(data); }

  void copy_to_device(void* dst, const void* src, size_t bytes) override {
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_), "copy to device");
  }
  void copy_to_host(void* dst, const void* src, size_t bytes) override {
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_), "copy to host");
    synchronize();
  }
  void copy_device(void* dst, const void* src, size_t bytes) override {
    check(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_), "copy on device");
  }
  void synchronize() override { check(cudaStreamSynchronize(stream_), "synchronize"); }

  DeviceWeight upload_weight(std::span<const WeightMatrix> parts, DType dtype) override {
    if (parts.empty()) fail("[upload_weight] no parts");
    cuda_type(dtype);  // validates
    DeviceWeight w;
    w.dtype = dtype;
    w.cols = parts[0].cols;
    for (const WeightMatrix& p : parts) {
      if (p.cols != w.cols) fail("[upload_weight] stacked parts differ in width");
      w.rows += p.rows;
    }
    w.storage = allocate(static_cast<size_t>(w.rows * w.cols) * dtype_size(dtype));
    size_t offset = 0;
    std::vector<uint8_t> converted;
    for (const WeightMatrix& p : parts) {
      const size_t bytes = static_cast<size_t>(p.rows * p.cols) * dtype_size(dtype);
      const void* src = p.data;
      if (p.dtype != dtype) {
        convert_rows_on_host(p, dtype, converted);
        src = converted.data();
      }
      // Synchronous: `converted` is reused for the next part.
      check(cudaMemcpy(w.storage.as<uint8_t>() + offset, src, bytes, cudaMemcpyHostToDevice), "upload weight");
      offset += bytes;
    }
    return w;
  }

  void fill_random(float* x, int64_t n, float scale, float offset, uint64_t seed) override {
    cuda::fill_random(x, DType::kF32, n, scale, offset, seed, stream_);
  }

  void linear(const void* x, DType x_dtype, int64_t m, const DeviceWeight& w, const float* bias, void* y,
              DType y_dtype, bool accumulate) override {
    if (m <= 0) return;
    if (x_dtype != w.dtype) {
      fail("[linear] input is ", dtype_name(x_dtype), " but the weight is stored as ", dtype_name(w.dtype));
    }
    if (accumulate && y_dtype != DType::kF32) fail("[linear] accumulate needs an F32 output");
    if (cuda::gemv(x, w.data(), w.dtype, m, w.rows, w.cols, bias, y, y_dtype, accumulate, stream_)) return;
    // Row-major y[m, N] = x[m, K] W[N, K]^T is column-major y^T[N, m] = W^T' x^T: op(A) = W
    // (stored as column-major [K, N], transposed), B = x^T (column-major [K, m]).
    const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
    check_cublas(cublasGemmEx(cublas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(w.rows), static_cast<int>(m),
                              static_cast<int>(w.cols), &alpha, w.data(), cuda_type(w.dtype),
                              static_cast<int>(w.cols), x, cuda_type(x_dtype), static_cast<int>(w.cols), &beta, y,
                              cuda_type(y_dtype), static_cast<int>(w.rows), CUBLAS_COMPUTE_32F,
                              CUBLAS_GEMM_DEFAULT),
                 "linear (cublasGemmEx)");
    cuda::add_bias(y, y_dtype, bias, m, w.rows, stream_);
  }

  void layer_norm(const float* x, int64_t rows, int64_t n, const float* gamma, const float* beta, float eps, void* y,
                  DType y_dtype) override {
    cuda::layer_norm(x, rows, n, gamma, beta, eps, y, y_dtype, stream_);
  }
  void rms_norm(const float* x, int64_t rows, int64_t n, const float* gamma, float eps, void* y,
                DType y_dtype) override {
    cuda::rms_norm(x, rows, n, gamma, eps, y, y_dtype, stream_);
  }
  void gated_activation(Activation act, const void* gate_up, int64_t rows, int64_t inner, void* out,
                        DType dtype) override {
    cuda::gated_activation(act, gate_up, rows, inner, out, dtype, stream_);
  }
  void activation(Activation act, void* x, DType dtype, int64_t n) override {
    cuda::activation(act, x, dtype, n, stream_);
  }
  void add_rows(float* y, const float* table, int64_t rows, int64_t table_rows, int64_t n) override {
    cuda::add_rows(y, table, rows, table_rows, n, stream_);
  }
  void convert(const void* x, DType from, void* y, DType to, int64_t n) override {
    cuda::convert(x, from, y, to, n, stream_);
  }
  void rope_neox(void* x, DType dtype, int64_t n_tokens, int64_t token_stride, int64_t n_heads, int64_t head_dim,
                 int64_t rotary_dim, const int32_t* positions, double theta) override {
    cuda::rope_neox(x, dtype, n_tokens, token_stride, n_heads, head_dim, rotary_dim, positions, theta, stream_);
  }
  void store_kv(const void* k, const void* v, DType dtype, int64_t n_tokens, int64_t src_stride, void* k_cache,
                void* v_cache, DType cache_dtype, int64_t kv_width, int64_t slot_stride, const int32_t* slots,
                const int32_t* positions) override {
    require_kv_dtype(dtype, cache_dtype, "store_kv");
    cuda::store_kv(k, v, dtype, n_tokens, src_stride, k_cache, v_cache, kv_width, slot_stride, slots, positions,
                   stream_);
  }

  // S = scale Q K^T per head (fp32), masked softmax -> P (activation dtype), O = P V. Queries go
  // in chunks so S stays under kScoresBytes; with a causal mask each chunk computes only the
  // keys it can see.
  void attention(const void* q, const void* k, const void* v, void* out, DType dtype, const AttentionShape& s,
                 int64_t batch, int64_t q_batch_stride, int64_t kv_batch_stride, int64_t out_batch_stride) override {
    require_kv_dtype(dtype, s.kv_dtype, "attention");
    if (s.n_queries <= 0 || batch <= 0) return;
    if (s.n_kv_heads <= 0 || s.n_heads % s.n_kv_heads != 0) {
      fail("[attention] ", s.n_heads, " heads cannot share ", s.n_kv_heads, " KV heads");
    }
    if (s.n_keys < s.n_queries && s.causal) fail("[attention] causal attention needs n_keys >= n_queries");
    const size_t e = dtype_size(dtype);
    const cudaDataType_t type = cuda_type(dtype);
    const int64_t group = s.n_heads / s.n_kv_heads;
    const int64_t per_row = s.n_kv_heads * s.n_keys * static_cast<int64_t>(sizeof(float) + e);
    const int64_t chunk = std::max<int64_t>(1, std::min<int64_t>(s.n_queries, kScoresBytes / std::max<int64_t>(per_row, 1)));
    float* scores = static_cast<float*>(grow(scores_, static_cast<size_t>(s.n_kv_heads * chunk * s.n_keys) * 4));
    void* probs = grow(probs_, static_cast<size_t>(s.n_kv_heads * chunk * s.n_keys) * e);
    const float zero = 0.0f, one = 1.0f;
    for (int64_t b = 0; b < batch; ++b) {
      const auto* qb = static_cast<const uint8_t*>(q) + static_cast<size_t>(b * q_batch_stride) * e;
      const auto* kb = static_cast<const uint8_t*>(k) + static_cast<size_t>(b * kv_batch_stride) * e;
      const auto* vb = static_cast<const uint8_t*>(v) + static_cast<size_t>(b * kv_batch_stride) * e;
      auto* ob = static_cast<uint8_t*>(out) + static_cast<size_t>(b * out_batch_stride) * e;
      for (int64_t q0 = 0; q0 < s.n_queries; q0 += chunk) {
        const int64_t rows = std::min(chunk, s.n_queries - q0);
        // Keys the last query of the chunk can see.
        const int64_t keys = s.causal ? s.n_keys - s.n_queries + q0 + rows : s.n_keys;
        for (int64_t g = 0; g < group; ++g) {
          // Batch over KV heads; query head h = kvh * group + g.
          // S^T[keys, rows] (column-major, ld keys) = K_h (op T of col-major [D, keys]) Q_h^T.
          check_cublas(
              cublasGemmStridedBatchedEx(
                  cublas_, CUBLAS_OP_T, CUBLAS_OP_N, static_cast<int>(keys), static_cast<int>(rows),
                  static_cast<int>(s.head_dim), &s.scale, kb, type, static_cast<int>(s.kv_stride),
                  static_cast<long long>(s.head_dim), qb + static_cast<size_t>(q0 * s.q_stride + g * s.head_dim) * e,
                  type, static_cast<int>(s.q_stride), static_cast<long long>(group * s.head_dim), &zero, scores,
                  CUDA_R_32F, static_cast<int>(keys), static_cast<long long>(rows * keys),
                  static_cast<int>(s.n_kv_heads), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
              "attention (scores)");
          cuda::softmax_rows(scores, probs, dtype, s.n_kv_heads * rows, keys, keys, rows, q0, s.n_queries, s.n_keys,
                             s.causal, stream_);
          // O_h^T[D, rows] (column-major, ld out_stride) = V_h^T (col-major [D, keys]) P_h^T.
          check_cublas(
              cublasGemmStridedBatchedEx(
                  cublas_, CUBLAS_OP_N, CUBLAS_OP_N, static_cast<int>(s.head_dim), static_cast<int>(rows),
                  static_cast<int>(keys), &one, vb, type, static_cast<int>(s.kv_stride),
                  static_cast<long long>(s.head_dim), probs, type, static_cast<int>(keys),
                  static_cast<long long>(rows * keys), &zero,
                  ob + static_cast<size_t>(q0 * s.out_stride + g * s.head_dim) * e, type,
                  static_cast<int>(s.out_stride), static_cast<long long>(group * s.head_dim),
                  static_cast<int>(s.n_kv_heads), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
              "attention (values)");
        }
      }
    }
  }

  void attention_decode(const void* q, const void* k_cache, const void* v_cache, void* out, DType dtype,
                        const AttentionShape& shape, int64_t batch, int64_t slot_stride, const int32_t* slots,
                        const int32_t* positions) override {
    require_kv_dtype(dtype, shape.kv_dtype, "attention_decode");
    const int64_t capacity = shape.kv_stride > 0 ? slot_stride / shape.kv_stride : 0;
    cuda::attention_decode(q, k_cache, v_cache, out, dtype, shape, batch, slot_stride, capacity, slots, positions,
                           stream_);
  }

  void embed(const int32_t* ids, int64_t n, const DeviceWeight& table, float* out) override {
    cuda::embed(ids, n, table.data(), table.dtype, table.rows, table.cols, out, stream_);
  }
  void argmax_rows(const float* x, int64_t rows, int64_t n, int32_t* out) override {
    cuda::argmax_rows(x, rows, n, out, stream_);
  }

  bool supports_graphs() const override { return true; }
  void begin_capture() override {
    check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "graph capture");
  }
  std::unique_ptr<BackendGraph> end_capture() override {
    cudaGraph_t graph = nullptr;
    check(cudaStreamEndCapture(stream_, &graph), "graph capture");
    cudaGraphExec_t exec = nullptr;
    const cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    check(status, "graph instantiate");
    return std::make_unique<CudaGraph>(exec, stream_);
  }

 private:
  static constexpr size_t kWorkspaceBytes = size_t{32} << 20;
  static constexpr int64_t kScoresBytes = int64_t{512} << 20;

  void* grow(DeviceBuffer& buffer, size_t bytes) {
    if (buffer.bytes() < bytes) {
      synchronize();  // the old buffer may still be in use by queued work
      buffer = allocate(bytes);
    }
    return buffer.data();
  }

  int index_;
  std::string name_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  DeviceBuffer workspace_, scores_, probs_;
};

}  // namespace

bool cuda_built() { return true; }

int cuda_device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return count;
}

std::string cuda_unavailable_reason() {
  int count = 0;
  const cudaError_t status = cudaGetDeviceCount(&count);
  if (status != cudaSuccess) {
    cudaGetLastError();
    return std::string("no CUDA device (") + cudaGetErrorString(status) + ")";
  }
  return count == 0 ? "no CUDA device" : "";
}

std::unique_ptr<Backend> make_cuda_backend(int index) { return std::make_unique<CudaBackend>(index); }

}  // namespace lumen
