// Attention kernels. Prefill and vision attention are done by the backend as two cuBLAS
// strided-batched GEMMs (S = scale Q K^T, O = P V, on tensor cores for F16/BF16) around
// softmax_rows below; decode, with one query per sequence and a length read from device memory
// (so the step can be replayed as a graph), is attention_decode_kernel: one block per (head,
// sequence), scores for every key in shared memory, then P V with warps splitting the keys.
#include <cmath>

#include "lumen/backend/cuda/cuda_common.cuh"
#include "lumen/backend/cuda/kernels.cuh"

namespace lumen::cuda {

namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kMaxHeadDim = 256;  // 8 accumulators per lane in the P V phase

__device__ float block_reduce(float v, float* shared, bool is_max) {
  v = is_max ? warp_max(v) : warp_sum(v);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  float r = shared[0];
  for (int i = 1; i < kWarps; ++i) r = is_max ? fmaxf(r, shared[i]) : r + shared[i];
  return r;
}

// Dot product of an fp32 query (shared memory) with one key row of T.
template <typename T, bool kVector>
__device__ __forceinline__ float dot_key(const float* qs, const T* key, int64_t head_dim) {
  float dot = 0.0f;
  if constexpr (kVector) {
    constexpr int V = 16 / sizeof(T);
    const uint4* kv = reinterpret_cast<const uint4*>(key);
    for (int64_t c = 0; c < head_dim / V; ++c) {
      const uint4 bits = __ldg(kv + c);
      const T* e = reinterpret_cast<const T*>(&bits);
#pragma unroll
      for (int i = 0; i < V; ++i) dot = fmaf(qs[c * V + i], to_float(e[i]), dot);
    }
  } else {
    for (int64_t c = 0; c < head_dim; ++c) dot = fmaf(qs[c], to_float(key[c]), dot);
  }
  return dot;
}

template <typename T, bool kVector>
__global__ void __launch_bounds__(kThreads)
    attention_decode_kernel(const T* q, const T* k_cache, const T* v_cache, T* out, int64_t group, int64_t head_dim,
                            int64_t q_stride, int64_t kv_stride, int64_t slot_stride, int64_t out_stride,
                            const int32_t* slots, const int32_t* positions, float scale) {
  extern __shared__ float smem[];
  __shared__ float reduce[kWarps];
  const int64_t h = blockIdx.x, b = blockIdx.y;
  const int64_t kvh = h / group;
  const int64_t n_keys = static_cast<int64_t>(positions[b]) + 1;
  float* qs = smem;                    // [head_dim]
  float* partial = smem + head_dim;    // [kWarps, head_dim]
  float* scores = partial + kWarps * head_dim;  // [n_keys]
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;

  const T* qh = q + b * q_stride + h * head_dim;
  for (int64_t c = threadIdx.x; c < head_dim; c += kThreads) qs[c] = to_float(qh[c]);
  __syncthreads();

  const int64_t slot = slots[b];
  const T* keys = k_cache + slot * slot_stride + kvh * head_dim;
  float local_max = -INFINITY;
  for (int64_t j = threadIdx.x; j < n_keys; j += kThreads) {
    const float s = dot_key<T, kVector>(qs, keys + j * kv_stride, head_dim) * scale;
    scores[j] = s;
    local_max = fmaxf(local_max, s);
  }
  const float max = block_reduce(local_max, reduce, true);
  float local_sum = 0.0f;
  for (int64_t j = threadIdx.x; j < n_keys; j += kThreads) {
    const float p = __expf(scores[j] - max);
    scores[j] = p;
    local_sum += p;
  }
  const float sum = block_reduce(local_sum, reduce, false);  // its barriers also publish scores

  const T* values = v_cache + slot * slot_stride + kvh * head_dim;
  float acc[kMaxHeadDim / 32];
#pragma unroll
  for (int r = 0; r < kMaxHeadDim / 32; ++r) acc[r] = 0.0f;
  for (int64_t j = warp; j < n_keys; j += kWarps) {
    const float p = scores[j];
    const T* vj = values + j * kv_stride;
#pragma unroll
    for (int r = 0; r < kMaxHeadDim / 32; ++r) {
      const int64_t c = lane + 32 * r;
      if (c < head_dim) acc[r] = fmaf(p, to_float(vj[c]), acc[r]);
    }
  }
#pragma unroll
  for (int r = 0; r < kMaxHeadDim / 32; ++r) {
    const int64_t c = lane + 32 * r;
    if (c < head_dim) partial[warp * head_dim + c] = acc[r];
  }
  __syncthreads();
  const float inv = 1.0f / sum;
  T* oh = out + b * out_stride + h * head_dim;
  for (int64_t c = threadIdx.x; c < head_dim; c += kThreads) {
    float total = 0.0f;
    for (int w = 0; w < kWarps; ++w) total += partial[w * head_dim + c];
    oh[c] = from_float<T>(total * inv);
  }
}

// One block per row of scores; masked keys (beyond the causal limit) get probability 0.
template <typename T>
__global__ void __launch_bounds__(kThreads)
    softmax_rows_kernel(const float* scores, T* probs, int64_t n_keys, int64_t ld, int64_t rows_per_head,
                        int64_t first_query, int64_t n_queries, int64_t total_keys, bool causal) {
  __shared__ float reduce[kWarps];
  const int64_t row = blockIdx.x;
  const int64_t query = first_query + row % rows_per_head;
  int64_t visible = n_keys;
  if (causal) visible = min(n_keys, total_keys - n_queries + query + 1);
  const float* s = scores + row * ld;
  T* p = probs + row * ld;
  float local_max = -INFINITY;
  for (int64_t j = threadIdx.x; j < visible; j += kThreads) local_max = fmaxf(local_max, s[j]);
  const float max = block_reduce(local_max, reduce, true);
  float local_sum = 0.0f;
  for (int64_t j = threadIdx.x; j < visible; j += kThreads) local_sum += __expf(s[j] - max);
  const float sum = block_reduce(local_sum, reduce, false);
  const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
  for (int64_t j = threadIdx.x; j < n_keys; j += kThreads) {
    p[j] = from_float<T>(j < visible ? __expf(s[j] - max) * inv : 0.0f);
  }
}

}  // namespace

void attention_decode(const void* q, const void* k_cache, const void* v_cache, void* out, DType dtype,
                      const AttentionShape& shape, int64_t batch, int64_t slot_stride, int64_t capacity,
                      const int32_t* slots, const int32_t* positions, cudaStream_t stream) {
  if (batch <= 0) return;
  const int64_t hd = shape.head_dim;
  if (hd > kMaxHeadDim) fail("[attention_decode] head_dim ", hd, " exceeds ", kMaxHeadDim);
  if (shape.n_kv_heads <= 0 || shape.n_heads % shape.n_kv_heads != 0) {
    fail("[attention_decode] ", shape.n_heads, " heads cannot share ", shape.n_kv_heads, " KV heads");
  }
  const size_t smem = static_cast<size_t>(hd + kWarps * hd + capacity) * sizeof(float);
  int device = 0, max_smem = 0;
  check(cudaGetDevice(&device), "attention_decode");
  check(cudaDeviceGetAttribute(&max_smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, device), "attention_decode");
  if (smem + kWarps * sizeof(float) > static_cast<size_t>(max_smem)) {
    fail("[attention_decode] a context of ", capacity, " positions needs ", smem,
         " bytes of shared memory; this GPU has ", max_smem);
  }
  dispatch_act(dtype, "attention_decode", [&](auto t) {
    using T = decltype(t);
    const bool vector = (hd * sizeof(T)) % 16 == 0 && (shape.kv_stride * sizeof(T)) % 16 == 0 &&
                        (slot_stride * sizeof(T)) % 16 == 0 && reinterpret_cast<uintptr_t>(k_cache) % 16 == 0;
    auto kernel = vector ? attention_decode_kernel<T, true> : attention_decode_kernel<T, false>;
    if (smem > 48 * 1024) {
      check(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)),
            "attention_decode");
    }
    const dim3 grid(static_cast<unsigned>(shape.n_heads), static_cast<unsigned>(batch));
    kernel<<<grid, kThreads, smem, stream>>>(static_cast<const T*>(q), static_cast<const T*>(k_cache),
                                             static_cast<const T*>(v_cache), static_cast<T*>(out),
                                             shape.n_heads / shape.n_kv_heads, hd, shape.q_stride, shape.kv_stride,
                                             slot_stride, shape.out_stride, slots, positions, shape.scale);
  });
  check_launch("attention_decode");
}

void softmax_rows(const float* scores, void* probs, DType dtype, int64_t rows, int64_t n_keys, int64_t ld,
                  int64_t rows_per_head, int64_t first_query, int64_t n_queries, int64_t total_keys, bool causal,
                  cudaStream_t stream) {
  if (rows <= 0) return;
  dispatch_act(dtype, "attention", [&](auto t) {
    using T = decltype(t);
    softmax_rows_kernel<T><<<static_cast<unsigned>(rows), kThreads, 0, stream>>>(
        scores, static_cast<T*>(probs), n_keys, ld, rows_per_head, first_query, n_queries, total_keys, causal);
  });
  check_launch("attention (softmax)");
}

}  // namespace lumen::cuda
