// The primitives a model's forward pass is built from, behind one interface per device
// (CTranslate2's primitives<Device>, MLX's eval_cpu/eval_gpu). Model code (models/imp_device_model)
// calls these and never sees CUDA: a build without CUDA has the CPU backend only, and asking for
// another device throws "lumen was built without CUDA".
//
// Conventions:
//   - every pointer an op takes is backend memory (host memory for the CPU backend, device memory
//     for CUDA), allocated with allocate();
//   - activations are either fp32 (`float*`: the residual stream, logits) or in the backend's
//     activation dtype (`void*` + DType: GEMM inputs, q/k/v, the KV cache). The CPU backend's
//     activation dtype is always F32; CUDA's is F32, F16 or BF16;
//   - ops are ordered (one stream): copy_to_host waits for everything before it;
//   - errors (bad shapes, unsupported dtypes, device failures) throw lumen::Error naming the op.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lumen/core/dtype.h"
#include "lumen/kernels/cpu/attention.h"
#include "lumen/kernels/cpu/weights.h"
#include "lumen/core/activation.h"

namespace lumen {

class Backend;

// Memory owned by a backend; freed by it. Move-only.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(Backend* backend, void* data, size_t bytes) : backend_(backend), data_(data), bytes_(bytes) {}
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(DeviceBuffer&& other) noexcept { *this = std::move(other); }
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  template <typename T>
  T* as() const { return static_cast<T*>(data_); }
  void reset();
  // Gives up ownership without freeing: the caller (a backend wrapping another) frees it.
  void* detach() {
    void* data = data_;
    backend_ = nullptr;
    data_ = nullptr;
    bytes_ = 0;
    return data;
  }

 private:
  Backend* backend_ = nullptr;
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// A weight matrix resident on a backend: [rows = out features, cols = in features], row-major.
// The CPU backend keeps the checkpoint's dtype and does not copy: `parts` are views into the
// memory-mapped file (or the in-memory quantized store), one per stacked part unless they sit
// back to back; CUDA stores one matrix in its activation dtype so GEMM operands match.
struct DeviceWeight {
  DeviceBuffer storage;               // owned memory (CUDA); empty for the CPU backend's views
  std::vector<WeightMatrix> parts;    // the CPU backend's views, stacked row-wise
  DType dtype = DType::kF32;
  MatmulPrecision precision = MatmulPrecision::kExact;  // --quant: reduced-precision matmuls
  int64_t rows = 0;
  int64_t cols = 0;
  const void* data() const { return parts.empty() ? storage.data() : parts.front().data; }
};

// A recorded sequence of ops replayed with one launch (a CUDA graph). Pointers and sizes are
// frozen at capture; values that change between replays (token ids, positions) must be read
// from backend memory that is rewritten before each replay.
class BackendGraph {
 public:
  virtual ~BackendGraph() = default;
  virtual void launch() = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // "cpu" or e.g. "cuda:0 (NVIDIA H200)".
  virtual std::string name() const = 0;
  // The dtype activations are stored in when the weights are `weights` and the caller asked for
  // `requested` (kF32/kF16/kBF16, or kU8 meaning "follow the weights").
  virtual DType activation_dtype(DType weights, DType requested) const = 0;
  // The dtype the KV cache is kept in for activations `act` and matmuls of `precision`. By
  // default the activation dtype; the CPU backend keeps fp32 activations but f16 keys and
  // values at reduced precision (half the bytes decode attention reads, less error than the
  // bf16/int8 matmuls already add).
  virtual DType kv_cache_dtype(DType act, MatmulPrecision precision) const { return act; }

  // ---- memory
  virtual DeviceBuffer allocate(size_t bytes) = 0;  // uninitialised; throws Error when exhausted
  virtual void release(void* data, size_t bytes) noexcept = 0;  // used by DeviceBuffer
  virtual void copy_to_device(void* dst, const void* host_src, size_t bytes) = 0;
  virtual void copy_to_host(void* host_dst, const void* src, size_t bytes) = 0;  // waits
  virtual void copy_device(void* dst, const void* src, size_t bytes) = 0;
  virtual void synchronize() = 0;
  // The bytes at data (inside one allocation) are no longer needed and may read back as
  // anything: the CPU backend hands their whole pages back to the OS, so a KV-cache slot freed
  // after a long sequence stops counting as resident memory. A hint; the default does nothing.
  virtual void discard(void* data, size_t bytes) noexcept {}
  // Whether allocate() only reserves: memory is taken when first written (the CPU backend),
  // so a large buffer costs what is used of it. CUDA allocates all of it at once.
  virtual bool allocates_lazily() const { return false; }

  // ---- weights
  // Stacks `parts` (same cols) row-wise into one matrix stored as `dtype` (fused QKV).
  virtual DeviceWeight upload_weight(std::span<const WeightMatrix> parts, DType dtype) = 0;
  // n fp32 values uniform in [-scale, scale] + offset.
  virtual void fill_random(float* x, int64_t n, float scale, float offset, uint64_t seed) = 0;

  // ---- ops
  // y[m, w.rows] = x[m, w.cols] W^T + bias (bias: fp32 [w.rows] or null). x has x_dtype; y has
  // y_dtype. accumulate: y += x W^T + bias (y must be F32).
  virtual void linear(const void* x, DType x_dtype, int64_t m, const DeviceWeight& w, const float* bias, void* y,
                      DType y_dtype, bool accumulate) = 0;
  // y = LayerNorm(x) over rows of width n, written as y_dtype.
  virtual void layer_norm(const float* x, int64_t rows, int64_t n, const float* gamma, const float* beta, float eps,
                          void* y, DType y_dtype) = 0;
  // y = RMSNorm(x) = x / sqrt(mean(x^2) + eps) * gamma over rows of width n, as y_dtype.
  virtual void rms_norm(const float* x, int64_t rows, int64_t n, const float* gamma, float eps, void* y,
                        DType y_dtype) = 0;
  // Gated MLP: rows of gate_up [rows, 2 inner] are [gate | up]; out[r, i] = act(gate) * up.
  // Both in `dtype`.
  virtual void gated_activation(Activation act, const void* gate_up, int64_t rows, int64_t inner, void* out,
                                DType dtype) = 0;
  // In-place activation over n values.
  virtual void activation(Activation act, void* x, DType dtype, int64_t n) = 0;
  // y[r, :] += table[r % table_rows, :] for rows of width n (biases, position embeddings).
  virtual void add_rows(float* y, const float* table, int64_t rows, int64_t table_rows, int64_t n) = 0;
  // y = x converted between fp32 and the activation dtype.
  virtual void convert(const void* x, DType from, void* y, DType to, int64_t n) = 0;
  // NeoX rotary on the first rotary_dim dims of n_heads heads of each token (row stride
  // token_stride elements); token t is at positions[t] (int32 backend memory).
  virtual void rope_neox(void* x, DType dtype, int64_t n_tokens, int64_t token_stride, int64_t n_heads,
                         int64_t head_dim, int64_t rotary_dim, const int32_t* positions, double theta) = 0;
  // Copies token t's key and value rows (width kv_width, row stride src_stride, in `dtype`) into
  // the cache at [slots[t], positions[t]], converting to cache_dtype; each cache is [slots,
  // capacity, kv_width] (slot_stride = capacity * kv_width elements).
  virtual void store_kv(const void* k, const void* v, DType dtype, int64_t n_tokens, int64_t src_stride,
                        void* k_cache, void* v_cache, DType cache_dtype, int64_t kv_width, int64_t slot_stride,
                        const int32_t* slots, const int32_t* positions) = 0;
  // Attention over `batch` independent sequences of one shape (prefill, vision). q and out are
  // in `dtype`, k and v in shape.kv_dtype (a KV cache's dtype, or `dtype` for fresh keys).
  // Strides in elements; sequence b's q/k/v/out start at b * the matching batch stride.
  virtual void attention(const void* q, const void* k, const void* v, void* out, DType dtype,
                         const AttentionShape& shape, int64_t batch, int64_t q_batch_stride,
                         int64_t kv_batch_stride, int64_t out_batch_stride) = 0;
  // Decode: query b (one token, row stride shape.q_stride) attends keys [0, positions[b]] of
  // cache slot slots[b] (keys and values in shape.kv_dtype). shape.n_queries/n_keys/causal are
  // ignored; shape.kv_stride is kv_width.
  virtual void attention_decode(const void* q, const void* k_cache, const void* v_cache, void* out, DType dtype,
                                const AttentionShape& shape, int64_t batch, int64_t slot_stride,
                                const int32_t* slots, const int32_t* positions) = 0;
  // out[i, :] = table[ids[i], :] as fp32. ids must be in range (callers check on the host).
  virtual void embed(const int32_t* ids, int64_t n, const DeviceWeight& table, float* out) = 0;
  // out[r] = index of the largest value of row r (lowest index on ties).
  virtual void argmax_rows(const float* x, int64_t rows, int64_t n, int32_t* out) = 0;

  // ---- graphs
  virtual bool supports_graphs() const { return false; }
  virtual void begin_capture();
  virtual std::unique_ptr<BackendGraph> end_capture();
};

// The CPU backend: forwards to kernels/cpu. Activations are always F32; weights are the
// checkpoint's own bytes.
std::unique_ptr<Backend> make_cpu_backend();

}  // namespace lumen
