// Shared pieces of the CUDA kernels: error checks that throw lumen::Error (library code never
// aborts), the three activation element types and their float conversions, and dtype dispatch.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "lumen/core/dtype.h"
#include "lumen/core/error.h"

namespace lumen::cuda {

inline void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess) {
    fail_kind(ErrorKind::kInternal, "[cuda] ", what, ": ", cudaGetErrorName(status), " (", cudaGetErrorString(status),
              ")");
  }
}
// After a kernel launch: configuration errors surface here, faults at the next sync.
inline void check_launch(const char* what) { check(cudaGetLastError(), what); }

__device__ __forceinline__ float to_float(float x) { return x; }
__device__ __forceinline__ float to_float(__half x) { return __half2float(x); }
__device__ __forceinline__ float to_float(__nv_bfloat16 x) { return __bfloat162float(x); }

template <typename T>
__device__ __forceinline__ T from_float(float x);
template <>
__device__ __forceinline__ float from_float<float>(float x) { return x; }
template <>
__device__ __forceinline__ __half from_float<__half>(float x) { return __float2half_rn(x); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_float<__nv_bfloat16>(float x) { return __float2bfloat16_rn(x); }

// Calls f(T{}) with T the element type of an activation dtype (F32, F16, BF16).
template <typename F>
void dispatch_act(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::kF32:
      f(float{});
      return;
    case DType::kF16:
      f(__half{});
      return;
    case DType::kBF16:
      f(__nv_bfloat16{});
      return;
    default:
      fail("[", op, "] the CUDA backend has no kernel for activation dtype ", dtype_name(dtype));
  }
}

inline unsigned blocks_for(int64_t n, int threads) {
  int64_t blocks = (n + threads - 1) / threads;
  if (blocks > 65535LL * 16) blocks = 65535LL * 16;  // grid-stride loops cover the rest
  return static_cast<unsigned>(blocks < 1 ? 1 : blocks);
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, offset));
  return v;
}

}  // namespace lumen::cuda
