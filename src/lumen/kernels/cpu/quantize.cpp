#include "lumen/kernels/cpu/quantize.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "lumen/core/error.h"

namespace lumen {

void quantize_block_q8_0(const float* x, uint8_t* out) {
  float amax = 0.0f;
  for (int i = 0; i < 32; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float d = amax / 127.0f;
  const float inv = d != 0.0f ? 1.0f / d : 0.0f;
  uint16_t d_bits = f32_to_f16(d);
  std::memcpy(out, &d_bits, 2);
  for (int i = 0; i < 32; ++i) {
    out[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(std::lround(x[i] * inv)));
  }
}

void quantize_block_q4_0(const float* x, uint8_t* out) {
  float signed_max = 0.0f;
  float amax = 0.0f;
  for (int i = 0; i < 32; ++i) {
    if (std::fabs(x[i]) > amax) {
      amax = std::fabs(x[i]);
      signed_max = x[i];
    }
  }
  const float d = signed_max / -8.0f;
  const float inv = d != 0.0f ? 1.0f / d : 0.0f;
  uint16_t d_bits = f32_to_f16(d);
  std::memcpy(out, &d_bits, 2);
  for (int j = 0; j < 16; ++j) {
    auto q = [&](float v) { return static_cast<uint8_t>(std::clamp(static_cast<int>(v * inv + 8.5f), 0, 15)); };
    out[2 + j] = static_cast<uint8_t>(q(x[j]) | (q(x[j + 16]) << 4));
  }
}

std::vector<uint8_t> quantize_matrix(const float* values, int64_t rows, int64_t cols, DType dtype) {
  const size_t count = static_cast<size_t>(rows * cols);
  std::vector<uint8_t> out;
  switch (dtype) {
    case DType::kF32:
      out.resize(count * 4);
      std::memcpy(out.data(), values, count * 4);
      return out;
    case DType::kF16:
    case DType::kBF16: {
      out.resize(count * 2);
      auto* dst = reinterpret_cast<uint16_t*>(out.data());
      for (size_t i = 0; i < count; ++i) dst[i] = dtype == DType::kF16 ? f32_to_f16(values[i]) : f32_to_bf16(values[i]);
      return out;
    }
    case DType::kQ8_0:
    case DType::kQ4_0: {
      if (cols % 32 != 0) fail("cannot quantize a matrix with ", cols, " columns to ", dtype_name(dtype), " (needs a multiple of 32)");
      const size_t block_bytes = dtype_size(dtype);
      out.resize(count / 32 * block_bytes);
      for (size_t b = 0; b < count / 32; ++b) {
        if (dtype == DType::kQ8_0) {
          quantize_block_q8_0(values + b * 32, out.data() + b * block_bytes);
        } else {
          quantize_block_q4_0(values + b * 32, out.data() + b * block_bytes);
        }
      }
      return out;
    }
    default:
      fail("cannot store weights as ", dtype_name(dtype));
  }
}

}  // namespace lumen
