// y = x W^T (+ bias) for a handful of rows of x: the decode-step projections. Purely
// bandwidth-bound (every weight byte is read once per step), so one warp streams one weight row
// with 16-byte loads and keeps one fp32 sum per x row; x (a few KB) stays in L1/L2.
// At batch 1 on Imp-v1-3B this reads the 5.6 GB of BF16 weights once per token.
#include <cstdint>

#include "lumen/backend/cuda/cuda_common.cuh"
#include "lumen/backend/cuda/kernels.cuh"

namespace lumen::cuda {

namespace {

constexpr int kWarps = 8;
constexpr int kMaxRows = 4;  // m above this goes to cuBLAS

template <typename T, typename OutT, int M, bool kVector>
__global__ void __launch_bounds__(kWarps * 32) gemv_kernel(const T* __restrict__ x, const T* __restrict__ w,
                                                            int64_t n_rows, int64_t k, const float* __restrict__ bias,
                                                            OutT* __restrict__ y, bool accumulate) {
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kWarps + warp;
  if (row >= n_rows) return;
  const T* wr = w + row * k;
  float acc[M];
#pragma unroll
  for (int mi = 0; mi < M; ++mi) acc[mi] = 0.0f;
  if constexpr (kVector) {
    constexpr int V = 16 / sizeof(T);
    const int64_t n_vec = k / V;
    const uint4* wv = reinterpret_cast<const uint4*>(wr);
#pragma unroll 4
    for (int64_t j = lane; j < n_vec; j += 32) {
      const uint4 wbits = __ldg(wv + j);
      const T* we = reinterpret_cast<const T*>(&wbits);
#pragma unroll
      for (int mi = 0; mi < M; ++mi) {
        const uint4 xbits = __ldg(reinterpret_cast<const uint4*>(x + mi * k) + j);
        const T* xe = reinterpret_cast<const T*>(&xbits);
#pragma unroll
        for (int e = 0; e < V; ++e) acc[mi] = fmaf(to_float(we[e]), to_float(xe[e]), acc[mi]);
      }
    }
  } else {
    for (int64_t j = lane; j < k; j += 32) {
      const float wj = to_float(wr[j]);
#pragma unroll
      for (int mi = 0; mi < M; ++mi) acc[mi] = fmaf(wj, to_float(x[mi * k + j]), acc[mi]);
    }
  }
#pragma unroll
  for (int mi = 0; mi < M; ++mi) acc[mi] = warp_sum(acc[mi]);
  if (lane == 0) {
    const float b = bias != nullptr ? bias[row] : 0.0f;
#pragma unroll
    for (int mi = 0; mi < M; ++mi) {
      OutT* out = y + mi * n_rows + row;
      float v = acc[mi] + b;
      if (accumulate) v += to_float(*out);
      *out = from_float<OutT>(v);
    }
  }
}

template <typename T, typename OutT, int M>
void launch(const T* x, const T* w, int64_t n_rows, int64_t k, const float* bias, OutT* y, bool accumulate,
            cudaStream_t stream) {
  const unsigned blocks = static_cast<unsigned>((n_rows + kWarps - 1) / kWarps);
  const bool vector = (k * sizeof(T)) % 16 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 &&
                      reinterpret_cast<uintptr_t>(w) % 16 == 0;
  if (vector) {
    gemv_kernel<T, OutT, M, true><<<blocks, kWarps * 32, 0, stream>>>(x, w, n_rows, k, bias, y, accumulate);
  } else {
    gemv_kernel<T, OutT, M, false><<<blocks, kWarps * 32, 0, stream>>>(x, w, n_rows, k, bias, y, accumulate);
  }
}

template <typename T, typename OutT>
void launch_m(int64_t m, const T* x, const T* w, int64_t n_rows, int64_t k, const float* bias, OutT* y,
              bool accumulate, cudaStream_t stream) {
  switch (m) {
    case 1: return launch<T, OutT, 1>(x, w, n_rows, k, bias, y, accumulate, stream);
    case 2: return launch<T, OutT, 2>(x, w, n_rows, k, bias, y, accumulate, stream);
    case 3: return launch<T, OutT, 3>(x, w, n_rows, k, bias, y, accumulate, stream);
    default: return launch<T, OutT, 4>(x, w, n_rows, k, bias, y, accumulate, stream);
  }
}

}  // namespace

bool gemv(const void* x, const void* w, DType dtype, int64_t m, int64_t n_rows, int64_t k, const float* bias, void* y,
          DType y_dtype, bool accumulate, cudaStream_t stream) {
  if (m < 1 || m > kMaxRows || n_rows <= 0) return false;
  if (y_dtype != DType::kF32 && y_dtype != dtype) return false;
  if (accumulate && y_dtype != DType::kF32) fail("[linear] accumulate needs an F32 output");
  dispatch_act(dtype, "linear", [&](auto t) {
    using T = decltype(t);
    if (y_dtype == DType::kF32) {
      launch_m<T, float>(m, static_cast<const T*>(x), static_cast<const T*>(w), n_rows, k, bias, static_cast<float*>(y),
                         accumulate, stream);
    } else {
      launch_m<T, T>(m, static_cast<const T*>(x), static_cast<const T*>(w), n_rows, k, bias, static_cast<T*>(y),
                     accumulate, stream);
    }
  });
  check_launch("linear (gemv)");
  return true;
}

}  // namespace lumen::cuda
