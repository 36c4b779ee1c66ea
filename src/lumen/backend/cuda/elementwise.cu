// Row-wise and element-wise CUDA kernels: LayerNorm, activations, bias/position adds, dtype
// conversion, NeoX rotary, KV-cache writes, embedding lookup, argmax, random fill. Each is
// memory-bound and simple; the CPU references are in kernels/cpu (tests compare op by op).
#include <cmath>

#include "lumen/backend/cuda/cuda_common.cuh"
#include "lumen/backend/cuda/kernels.cuh"

namespace lumen::cuda {

namespace {

constexpr int kThreads = 256;

// Block-wide sum for kThreads threads; every thread gets the result.
__device__ float block_sum(float v, float* shared) {
  v = warp_sum(v);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();  // shared may still be read from a previous call
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  float total = 0.0f;
  for (int i = 0; i < kThreads / 32; ++i) total += shared[i];
  return total;
}

// One block per row: mean, then the centred variance (two passes, as torch), then the output.
template <typename T>
__global__ void layer_norm_kernel(const float* x, int64_t n, const float* gamma, const float* beta, float eps, T* y) {
  __shared__ float shared[kThreads / 32];
  const float* xr = x + blockIdx.x * n;
  T* yr = y + blockIdx.x * n;
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) sum += xr[i];
  const float mean = block_sum(sum, shared) / static_cast<float>(n);
  float sq = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) {
    const float d = xr[i] - mean;
    sq += d * d;
  }
  const float var = block_sum(sq, shared) / static_cast<float>(n);
  const float inv = rsqrtf(var + eps);
  for (int64_t i = threadIdx.x; i < n; i += kThreads) yr[i] = from_float<T>((xr[i] - mean) * inv * gamma[i] + beta[i]);
}

template <typename T>
__global__ void rms_norm_kernel(const float* x, int64_t n, const float* gamma, float eps, T* y) {
  __shared__ float shared[kThreads / 32];
  const float* xr = x + blockIdx.x * n;
  T* yr = y + blockIdx.x * n;
  float sq = 0.0f;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) sq += xr[i] * xr[i];
  const float inv = rsqrtf(block_sum(sq, shared) / static_cast<float>(n) + eps);
  for (int64_t i = threadIdx.x; i < n; i += kThreads) yr[i] = from_float<T>(xr[i] * inv * gamma[i]);
}

__device__ __forceinline__ float apply_activation(Activation act, float x) {
  switch (act) {
    case Activation::kGeluErf:
      return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f));
    case Activation::kGeluTanh:
      return 0.5f * x * (1.0f + tanhf(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    case Activation::kQuickGelu:
      return x / (1.0f + expf(-1.702f * x));
    case Activation::kRelu:
      return fmaxf(0.0f, x);
    case Activation::kSilu:
      return x / (1.0f + expf(-x));
  }
  return x;
}

// out[r, i] = act(gate_up[r, i]) * gate_up[r, inner + i].
template <typename T>
__global__ void gated_activation_kernel(Activation act, const T* gate_up, int64_t rows, int64_t inner, T* out) {
  const int64_t n = rows * inner;
  for (int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x; i < n; i += int64_t{gridDim.x} * kThreads) {
    const int64_t r = i / inner, c = i % inner;
    const T* row = gate_up + r * 2 * inner;
    out[i] = from_float<T>(apply_activation(act, to_float(row[c])) * to_float(row[inner + c]));
  }
}

template <typename T>
__global__ void activation_kernel(Activation act, T* x, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x; i < n; i += int64_t{gridDim.x} * kThreads) {
    x[i] = from_float<T>(apply_activation(act, to_float(x[i])));
  }
}

__global__ void add_rows_kernel(float* y, const float* table, int64_t rows, int64_t table_rows, int64_t n) {
  const int64_t total = rows * n;
  for (int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x; i < total; i += int64_t{gridDim.x} * kThreads) {
    const int64_t r = i / n, c = i % n;
    y[i] += table[(r % table_rows) * n + c];
  }
}

template <typename T>
__global__ void add_bias_kernel(T* y, const float* bias, int64_t rows, int64_t n) {
  const int64_t total = rows * n;
  for (int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x; i < total; i += int64_t{gridDim.x} * kThreads) {
    y[i] = from_float<T>(to_float(y[i]) + bias[i % n]);
  }
}

template <typename From, typename To>
__global__ void convert_kernel(const From* x, To* y, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x; i < n; i += int64_t{gridDim.x} * kThreads) {
    y[i] = from_float<To>(to_float(x[i]));
  }
}

// One thread per (token, head, rotary pair). Angles in double like the CPU kernel, so the
// cos/sin rounded to float agree with it.
template <typename T>
__global__ void rope_kernel(T* x, int64_t n_tokens, int64_t token_stride, int64_t n_heads, int64_t head_dim,
                            int64_t half, const int32_t* positions, double theta) {
  const int64_t total = n_tokens * n_heads * half;
  for (int64_t idx = blockIdx.x * int64_t{kThreads} + threadIdx.x; idx < total;
       idx += int64_t{gridDim.x} * kThreads) {
    const int64_t i = idx % half;
    const int64_t h = (idx / half) % n_heads;
    const int64_t t = idx / (half * n_heads);
    const double inv_freq = 1.0 / pow(theta, static_cast<double>(2 * i) / static_cast<double>(2 * half));
    const double angle = static_cast<double>(positions[t]) * inv_freq;
    const float c = static_cast<float>(cos(angle));
    const float s = static_cast<float>(sin(angle));
    T* v = x + t * token_stride + h * head_dim;
    const float a = to_float(v[i]);
    const float b = to_float(v[i + half]);
    v[i] = from_float<T>(a * c - b * s);
    v[i + half] = from_float<T>(b * c + a * s);
  }
}

template <typename T>
__global__ void store_kv_kernel(const T* k, const T* v, int64_t n_tokens, int64_t src_stride, T* k_cache, T* v_cache,
                                int64_t kv_width, int64_t slot_stride, const int32_t* slots,
                                const int32_t* positions) {
  const int64_t total = n_tokens * kv_width;
  for (int64_t idx = blockIdx.x * int64_t{kThreads} + threadIdx.x; idx < total;
       idx += int64_t{gridDim.x} * kThreads) {
    const int64_t t = idx / kv_width, c = idx % kv_width;
    const int64_t at = slots[t] * slot_stride + static_cast<int64_t>(positions[t]) * kv_width + c;
    k_cache[at] = k[t * src_stride + c];
    v_cache[at] = v[t * src_stride + c];
  }
}

template <typename T>
__global__ void embed_kernel(const int32_t* ids, int64_t n, const T* table, int64_t rows, int64_t cols, float* out) {
  const int64_t total = n * cols;
  for (int64_t idx = blockIdx.x * int64_t{kThreads} + threadIdx.x; idx < total;
       idx += int64_t{gridDim.x} * kThreads) {
    const int64_t i = idx / cols, c = idx % cols;
    const int64_t id = ids[i];
    // Ids are checked on the host; an out-of-range one reads as zeros rather than faulting.
    out[idx] = (id >= 0 && id < rows) ? to_float(table[id * cols + c]) : 0.0f;
  }
}

// One block per row; ties go to the lowest index, NaNs are never chosen.
__global__ void argmax_kernel(const float* x, int64_t n, int32_t* out) {
  __shared__ float best_v[kThreads];
  __shared__ int64_t best_i[kThreads];
  const float* row = x + blockIdx.x * n;
  float bv = -INFINITY;
  int64_t bi = n;  // "none yet"
  for (int64_t i = threadIdx.x; i < n; i += kThreads) {
    const float v = row[i];
    if (v == v && (bi == n || v > bv)) {  // indices rise, so a tie keeps the earlier one
      bv = v;
      bi = i;
    }
  }
  best_v[threadIdx.x] = bv;
  best_i[threadIdx.x] = bi;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride >>= 1) {
    if (threadIdx.x < stride) {
      const float ov = best_v[threadIdx.x + stride];
      const int64_t oi = best_i[threadIdx.x + stride];
      const float mv = best_v[threadIdx.x];
      const int64_t mi = best_i[threadIdx.x];
      const bool take = oi != n && (mi == n || ov > mv || (ov == mv && oi < mi));
      if (take) {
        best_v[threadIdx.x] = ov;
        best_i[threadIdx.x] = oi;
      }
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = static_cast<int32_t>(best_i[0] == n ? 0 : best_i[0]);
}

__device__ __forceinline__ uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

template <typename T>
__global__ void fill_random_kernel(T* x, int64_t n, float scale, float offset, uint64_t seed) {
  for (int64_t i = blockIdx.x * int64_t{kThreads} + threadIdx.x; i < n; i += int64_t{gridDim.x} * kThreads) {
    const uint64_t bits = splitmix64(seed * 0x100000001b3ull + static_cast<uint64_t>(i));
    const float unit = static_cast<float>(bits >> 40) * (1.0f / 16777216.0f);  // [0, 1)
    x[i] = from_float<T>((2.0f * unit - 1.0f) * scale + offset);
  }
}

}  // namespace

void layer_norm(const float* x, int64_t rows, int64_t n, const float* gamma, const float* beta, float eps, void* y,
                DType y_dtype, cudaStream_t stream) {
  if (rows <= 0) return;
  if (rows > 0x7fffffff) fail("[layer_norm] too many rows: ", rows);
  dispatch_act(y_dtype, "layer_norm", [&](auto t) {
    using T = decltype(t);
    layer_norm_kernel<T><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(x, n, gamma, beta, eps,
                                                                                static_cast<T*>(y));
  });
  check_launch("layer_norm");
}

void rms_norm(const float* x, int64_t rows, int64_t n, const float* gamma, float eps, void* y, DType y_dtype,
              cudaStream_t stream) {
  if (rows <= 0) return;
  if (rows > 0x7fffffff) fail("[rms_norm] too many rows: ", rows);
  dispatch_act(y_dtype, "rms_norm", [&](auto t) {
    using T = decltype(t);
    rms_norm_kernel<T><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(x, n, gamma, eps, static_cast<T*>(y));
  });
  check_launch("rms_norm");
}

void gated_activation(Activation act, const void* gate_up, int64_t rows, int64_t inner, void* out, DType dtype,
                      cudaStream_t stream) {
  if (rows <= 0 || inner <= 0) return;
  dispatch_act(dtype, "gated_activation", [&](auto t) {
    using T = decltype(t);
    gated_activation_kernel<T><<<blocks_for(rows * inner, kThreads), kThreads, 0, stream>>>(
        act, static_cast<const T*>(gate_up), rows, inner, static_cast<T*>(out));
  });
  check_launch("gated_activation");
}

void activation(Activation act, void* x, DType dtype, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  dispatch_act(dtype, "activation", [&](auto t) {
    using T = decltype(t);
    activation_kernel<T><<<blocks_for(n, kThreads), kThreads, 0, stream>>>(act, static_cast<T*>(x), n);
  });
  check_launch("activation");
}

void add_rows(float* y, const float* table, int64_t rows, int64_t table_rows, int64_t n, cudaStream_t stream) {
  if (rows <= 0 || n <= 0) return;
  if (table_rows <= 0) fail("[add_rows] table_rows must be positive");
  add_rows_kernel<<<blocks_for(rows * n, kThreads), kThreads, 0, stream>>>(y, table, rows, table_rows, n);
  check_launch("add_rows");
}

void add_bias(void* y, DType y_dtype, const float* bias, int64_t rows, int64_t n, cudaStream_t stream) {
  if (rows <= 0 || n <= 0 || bias == nullptr) return;
  dispatch_act(y_dtype, "add_bias", [&](auto t) {
    using T = decltype(t);
    add_bias_kernel<T><<<blocks_for(rows * n, kThreads), kThreads, 0, stream>>>(static_cast<T*>(y), bias, rows, n);
  });
  check_launch("add_bias");
}

void convert(const void* x, DType from, void* y, DType to, int64_t n, cudaStream_t stream) {
  if (n <= 0) return;
  if (from == to) {
    check(cudaMemcpyAsync(y, x, static_cast<size_t>(n) * dtype_size(from), cudaMemcpyDeviceToDevice, stream),
          "convert");
    return;
  }
  dispatch_act(from, "convert", [&](auto f) {
    using From = decltype(f);
    dispatch_act(to, "convert", [&](auto t) {
      using To = decltype(t);
      convert_kernel<From, To><<<blocks_for(n, kThreads), kThreads, 0, stream>>>(static_cast<const From*>(x),
                                                                                  static_cast<To*>(y), n);
    });
  });
  check_launch("convert");
}

void rope_neox(void* x, DType dtype, int64_t n_tokens, int64_t token_stride, int64_t n_heads, int64_t head_dim,
               int64_t rotary_dim, const int32_t* positions, double theta, cudaStream_t stream) {
  const int64_t half = rotary_dim / 2;
  if (half == 0 || n_tokens <= 0) return;
  if (rotary_dim > head_dim) fail("[rope_neox] rotary_dim ", rotary_dim, " exceeds head_dim ", head_dim);
  dispatch_act(dtype, "rope_neox", [&](auto t) {
    using T = decltype(t);
    rope_kernel<T><<<blocks_for(n_tokens * n_heads * half, kThreads), kThreads, 0, stream>>>(
        static_cast<T*>(x), n_tokens, token_stride, n_heads, head_dim, half, positions, theta);
  });
  check_launch("rope_neox");
}

void store_kv(const void* k, const void* v, DType dtype, int64_t n_tokens, int64_t src_stride, void* k_cache,
              void* v_cache, int64_t kv_width, int64_t slot_stride, const int32_t* slots, const int32_t* positions,
              cudaStream_t stream) {
  if (n_tokens <= 0) return;
  dispatch_act(dtype, "store_kv", [&](auto t) {
    using T = decltype(t);
    store_kv_kernel<T><<<blocks_for(n_tokens * kv_width, kThreads), kThreads, 0, stream>>>(
        static_cast<const T*>(k), static_cast<const T*>(v), n_tokens, src_stride, static_cast<T*>(k_cache),
        static_cast<T*>(v_cache), kv_width, slot_stride, slots, positions);
  });
  check_launch("store_kv");
}

void embed(const int32_t* ids, int64_t n, const void* table, DType dtype, int64_t rows, int64_t cols, float* out,
           cudaStream_t stream) {
  if (n <= 0) return;
  dispatch_act(dtype, "embed", [&](auto t) {
    using T = decltype(t);
    embed_kernel<T><<<blocks_for(n * cols, kThreads), kThreads, 0, stream>>>(ids, n, static_cast<const T*>(table),
                                                                              rows, cols, out);
  });
  check_launch("embed");
}

void argmax_rows(const float* x, int64_t rows, int64_t n, int32_t* out, cudaStream_t stream) {
  if (rows <= 0) return;
  argmax_kernel<<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(x, n, out);
  check_launch("argmax_rows");
}

void fill_random(void* x, DType dtype, int64_t n, float scale, float offset, uint64_t seed, cudaStream_t stream) {
  if (n <= 0) return;
  dispatch_act(dtype, "fill_random", [&](auto t) {
    using T = decltype(t);
    fill_random_kernel<T><<<blocks_for(n, kThreads), kThreads, 0, stream>>>(static_cast<T*>(x), n, scale, offset,
                                                                             seed);
  });
  check_launch("fill_random");
}

}  // namespace lumen::cuda
