// The CPU backend: host memory, fp32 activations, every op forwarding to kernels/cpu. It is the
// reference the CUDA backend is tested against, op by op (tests/backend/cuda/backend_ops_test).
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "lumen/backend/backend.h"
#include "lumen/core/error.h"
#include "lumen/core/large_buffer.h"
#include "lumen/kernels/cpu/attention.h"
#include "lumen/kernels/cpu/elementwise.h"
#include "lumen/kernels/cpu/linear.h"
#include "lumen/kernels/cpu/rope.h"

namespace lumen {

DeviceBuffer& DeviceBuffer::operator=(DeviceBuffer&& other) noexcept {
  if (this != &other) {
    reset();
    backend_ = other.backend_;
    data_ = other.data_;
    bytes_ = other.bytes_;
    other.backend_ = nullptr;
    other.data_ = nullptr;
    other.bytes_ = 0;
  }
  return *this;
}

void DeviceBuffer::reset() {
  if (backend_ != nullptr && data_ != nullptr) backend_->release(data_, bytes_);
  backend_ = nullptr;
  data_ = nullptr;
  bytes_ = 0;
}

void Backend::begin_capture() { fail("[graph] backend ", name(), " cannot record graphs"); }
std::unique_ptr<BackendGraph> Backend::end_capture() { fail("[graph] backend ", name(), " cannot record graphs"); }

namespace {

void require_f32(DType dtype, const char* op) {
  if (dtype != DType::kF32) fail("[", op, "] the CPU backend keeps activations in F32, not ", dtype_name(dtype));
}

// The CPU attention kernels read keys and values as F32 or F16 (kernels/cpu/attention.h).
void require_cpu_kv(DType dtype, const char* op) {
  if (dtype != DType::kF32 && dtype != DType::kF16) {
    fail("[", op, "] the CPU backend keeps keys and values in F32 or F16, not ", dtype_name(dtype));
  }
}

class CpuBackend final : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  DType activation_dtype(DType, DType) const override { return DType::kF32; }

  DType kv_cache_dtype(DType, MatmulPrecision precision) const override {
    return precision == MatmulPrecision::kReduced ? DType::kF16 : DType::kF32;
  }

  // Large buffers (KV caches, prefill activations) fault in only the pages written and are
  // offered as huge pages (core/large_buffer.h).
  DeviceBuffer allocate(size_t bytes) override {
    try {
      return DeviceBuffer(this, allocate_large_buffer(bytes == 0 ? 1 : bytes).release(), bytes);
    } catch (const std::bad_alloc&) {
      fail_kind(ErrorKind::kLimitExceeded, "[allocate] out of host memory (", bytes, " bytes)");
    }
  }
  void release(void* data, size_t bytes) noexcept override {
    LargeBufferFree{large_buffer_alignment(bytes == 0 ? 1 : bytes)}(static_cast<uint8_t*>(data));
  }
  void copy_to_device(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy_to_host(void* dst, const void* src, size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy_device(void* dst, const void* src, size_t bytes) override { std::memmove(dst, src, bytes); }
  void synchronize() override {}
  bool allocates_lazily() const override { return true; }
  void discard(void* data, size_t bytes) noexcept override {
    const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    const uintptr_t begin = (reinterpret_cast<uintptr_t>(data) + page - 1) / page * page;
    const uintptr_t end = (reinterpret_cast<uintptr_t>(data) + bytes) / page * page;
    if (end > begin) madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
  }

  // Keeps the stored dtype (kernels/cpu/linear reads F32/F16/BF16/Q8_0/Q4_0 directly) and the
  // stored bytes: the weight is a view of each part, and parts that sit back to back in memory
  // (a fused Wqkv sliced at load) become one view again.
  DeviceWeight upload_weight(std::span<const WeightMatrix> parts, DType) override {
    if (parts.empty()) fail("[upload_weight] no parts");
    DeviceWeight w;
    w.dtype = parts[0].dtype;
    w.precision = parts[0].precision;
    w.cols = parts[0].cols;
    for (const WeightMatrix& p : parts) {
      if (p.dtype != w.dtype || p.cols != w.cols || p.precision != w.precision) {
        fail("[upload_weight] stacked parts differ in dtype, width or precision");
      }
      w.rows += p.rows;
      WeightMatrix* last = w.parts.empty() ? nullptr : &w.parts.back();
      if (last != nullptr && last->data + last->row_bytes() * static_cast<size_t>(last->rows) == p.data) {
        last->rows += p.rows;
      } else {
        w.parts.push_back(p);
      }
    }
    return w;
  }

  void fill_random(float* x, int64_t n, float scale, float offset, uint64_t seed) override {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> dist(-scale, scale);
    for (int64_t i = 0; i < n; ++i) x[i] = dist(rng) + offset;
  }

  // Each part writes its columns of y: straight into y for one row (decode), through scratch
  // otherwise. accumulate also goes through scratch (y += x W^T + b).
  void linear(const void* x, DType x_dtype, int64_t m, const DeviceWeight& w, const float* bias, void* y,
              DType y_dtype, bool accumulate) override {
    require_f32(x_dtype, "linear");
    require_f32(y_dtype, "linear");
    const auto* in = static_cast<const float*>(x);
    auto* out = static_cast<float*>(y);
    if (w.parts.size() == 1 && !accumulate) {
      ::lumen::linear(in, m, w.parts[0], bias, out);
      return;
    }
    const bool direct = m == 1 && !accumulate;
    int64_t column = 0;
    for (const WeightMatrix& part : w.parts) {
      const float* part_bias = bias == nullptr ? nullptr : bias + column;
      if (direct) {
        ::lumen::linear(in, 1, part, part_bias, out + column);
      } else {
        float* tmp = scratch(static_cast<size_t>(m * part.rows));
        ::lumen::linear(in, m, part, part_bias, tmp);
        for (int64_t r = 0; r < m; ++r) {
          float* dst = out + r * w.rows + column;
          const float* src = tmp + r * part.rows;
          if (accumulate) {
            add_inplace(dst, src, part.rows);
          } else {
            std::memcpy(dst, src, static_cast<size_t>(part.rows) * sizeof(float));
          }
        }
      }
      column += part.rows;
    }
  }

  void layer_norm(const float* x, int64_t rows, int64_t n, const float* gamma, const float* beta, float eps, void* y,
                  DType y_dtype) override {
    require_f32(y_dtype, "layer_norm");
    ::lumen::layer_norm(x, rows, n, gamma, beta, eps, static_cast<float*>(y));
  }

  void rms_norm(const float* x, int64_t rows, int64_t n, const float* gamma, float eps, void* y,
                DType y_dtype) override {
    require_f32(y_dtype, "rms_norm");
    ::lumen::rms_norm(x, rows, n, gamma, eps, static_cast<float*>(y));
  }

  void gated_activation(Activation act, const void* gate_up, int64_t rows, int64_t inner, void* out,
                        DType dtype) override {
    require_f32(dtype, "gated_activation");
    ::lumen::gated_activation(act, static_cast<const float*>(gate_up), rows, inner, static_cast<float*>(out));
  }

  void activation(Activation act, void* x, DType dtype, int64_t n) override {
    require_f32(dtype, "activation");
    activation_inplace(act, static_cast<float*>(x), n);
  }

  void add_rows(float* y, const float* table, int64_t rows, int64_t table_rows, int64_t n) override {
    for (int64_t r = 0; r < rows; ++r) add_inplace(y + r * n, table + (r % table_rows) * n, n);
  }

  void convert(const void* x, DType from, void* y, DType to, int64_t n) override {
    require_f32(from, "convert");
    require_f32(to, "convert");
    std::memmove(y, x, static_cast<size_t>(n) * sizeof(float));
  }

  void rope_neox(void* x, DType dtype, int64_t n_tokens, int64_t token_stride, int64_t n_heads, int64_t head_dim,
                 int64_t rotary_dim, const int32_t* positions, double theta) override {
    require_f32(dtype, "rope_neox");
    auto* f = static_cast<float*>(x);
    // Runs of consecutive positions go through in one call, as the CPU decoder does.
    int64_t t = 0;
    while (t < n_tokens) {
      int64_t run = 1;
      while (t + run < n_tokens && positions[t + run] == positions[t] + run) ++run;
      rope_neox_inplace(f + t * token_stride, run, token_stride, n_heads, head_dim, rotary_dim, positions[t], theta);
      t += run;
    }
  }

  void store_kv(const void* k, const void* v, DType dtype, int64_t n_tokens, int64_t src_stride, void* k_cache,
                void* v_cache, DType cache_dtype, int64_t kv_width, int64_t slot_stride, const int32_t* slots,
                const int32_t* positions) override {
    require_f32(dtype, "store_kv");
    require_cpu_kv(cache_dtype, "store_kv");
    const size_t element = dtype_size(cache_dtype);
    for (int64_t t = 0; t < n_tokens; ++t) {
      const size_t at = static_cast<size_t>(slots[t] * slot_stride + static_cast<int64_t>(positions[t]) * kv_width);
      store_kv_rows(static_cast<const float*>(k) + t * src_stride, 1, kv_width, cache_dtype,
                    static_cast<uint8_t*>(k_cache) + at * element);
      store_kv_rows(static_cast<const float*>(v) + t * src_stride, 1, kv_width, cache_dtype,
                    static_cast<uint8_t*>(v_cache) + at * element);
    }
  }

  void attention(const void* q, const void* k, const void* v, void* out, DType dtype, const AttentionShape& shape,
                 int64_t batch, int64_t q_batch_stride, int64_t kv_batch_stride, int64_t out_batch_stride) override {
    require_f32(dtype, "attention");
    require_cpu_kv(shape.kv_dtype, "attention");
    const size_t kv_element = dtype_size(shape.kv_dtype);
    for (int64_t b = 0; b < batch; ++b) {
      const size_t kv_at = static_cast<size_t>(b * kv_batch_stride) * kv_element;
      ::lumen::attention(static_cast<const float*>(q) + b * q_batch_stride, static_cast<const uint8_t*>(k) + kv_at,
                         static_cast<const uint8_t*>(v) + kv_at, static_cast<float*>(out) + b * out_batch_stride,
                         shape);
    }
  }

  void attention_decode(const void* q, const void* k_cache, const void* v_cache, void* out, DType dtype,
                        const AttentionShape& shape, int64_t batch, int64_t slot_stride, const int32_t* slots,
                        const int32_t* positions) override {
    require_f32(dtype, "attention_decode");
    require_cpu_kv(shape.kv_dtype, "attention_decode");
    const size_t kv_element = dtype_size(shape.kv_dtype);
    for (int64_t b = 0; b < batch; ++b) {
      AttentionShape s = shape;
      s.n_queries = 1;
      s.n_keys = positions[b] + 1;
      s.causal = false;
      const size_t at = static_cast<size_t>(slots[b] * slot_stride) * kv_element;
      ::lumen::attention(static_cast<const float*>(q) + b * shape.q_stride, static_cast<const uint8_t*>(k_cache) + at,
                         static_cast<const uint8_t*>(v_cache) + at, static_cast<float*>(out) + b * shape.out_stride,
                         s);
    }
  }

  void embed(const int32_t* ids, int64_t n, const DeviceWeight& table, float* out) override {
    if (table.parts.size() != 1) fail("[embed] the table must be one matrix");
    const WeightMatrix& view = table.parts[0];
    for (int64_t i = 0; i < n; ++i) {
      if (ids[i] < 0 || ids[i] >= table.rows) fail("[embed] token id ", ids[i], " outside [0, ", table.rows, ")");
      convert_row_to_f32(view.dtype, view.row(ids[i]), view.cols, out + i * view.cols);
    }
  }

  void argmax_rows(const float* x, int64_t rows, int64_t n, int32_t* out) override {
    for (int64_t r = 0; r < rows; ++r) {
      const float* row = x + r * n;
      int64_t best = 0;
      for (int64_t i = 1; i < n; ++i) {
        if (row[i] > row[best]) best = i;
      }
      out[r] = static_cast<int32_t>(best);
    }
  }

 private:
  // Grow-only fp32 scratch of the calling thread (linear's per-part outputs and accumulation);
  // thread-local because one backend serves every thread that runs a model.
  static float* scratch(size_t n) {
    thread_local std::vector<float> buffer;
    if (buffer.size() < n) buffer.resize(n);
    return buffer.data();
  }
};

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

}  // namespace lumen
