#include "lumen/kernels/cpu/weights.h"

#include <cstring>

namespace lumen {

void convert_row_to_f32(DType dtype, const uint8_t* src, int64_t count, float* dst) {
  switch (dtype) {
    case DType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(count) * sizeof(float));
      return;
    case DType::kF16: {
      const auto* h = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < count; ++i) dst[i] = f16_to_f32(h[i]);
      return;
    }
    case DType::kBF16: {
      const auto* b = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < count; ++i) dst[i] = bf16_to_f32(b[i]);
      return;
    }
    case DType::kQ8_0: {
      // Block: f16 scale d, then 32 int8 q; value = d * q.
      for (int64_t b = 0; b < count / 32; ++b) {
        const uint8_t* block = src + b * 34;
        uint16_t d_bits;
        std::memcpy(&d_bits, block, 2);
        float d = f16_to_f32(d_bits);
        const auto* q = reinterpret_cast<const int8_t*>(block + 2);
        for (int i = 0; i < 32; ++i) dst[b * 32 + i] = d * static_cast<float>(q[i]);
      }
      return;
    }
    case DType::kQ4_0: {
      // Block: f16 scale d, then 16 bytes; byte j holds weight j (low nibble) and j + 16
      // (high nibble), each stored as q + 8; value = d * (nibble - 8). Same as ggml's Q4_0.
      for (int64_t b = 0; b < count / 32; ++b) {
        const uint8_t* block = src + b * 18;
        uint16_t d_bits;
        std::memcpy(&d_bits, block, 2);
        float d = f16_to_f32(d_bits);
        for (int j = 0; j < 16; ++j) {
          dst[b * 32 + j] = d * static_cast<float>((block[2 + j] & 0x0f) - 8);
          dst[b * 32 + j + 16] = d * static_cast<float>((block[2 + j] >> 4) - 8);
        }
      }
      return;
    }
    default:
      for (int64_t i = 0; i < count; ++i) dst[i] = 0.0f;  // unreachable: loaders reject other dtypes
      return;
  }
}

}  // namespace lumen
