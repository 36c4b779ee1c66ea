// AArch64 dotprod (ARMv8.2 SDOT) matmul for MatmulPrecision::kReduced over Q8_0/Q4_0 weights:
// activations quantized per 32-block to int8 (quantize_activations_q8, as llama.cpp does), each
// block's integer dot product from two SDOTs, scaled by d_w * d_x and summed in fp32 (the
// arithmetic of linear_reference_reduced). Compiled with -march=armv8.2-a+dotprod and called
// only at CpuLevel::kNeonDotprod and above, so like the x86 kernel files it gets plain
// pointers and uses no standard-library templates (an out-of-line copy built with these flags
// could be picked by the linker for every caller).
#include <arm_neon.h>

#include "lumen/kernels/cpu/neon_kernels.h"

namespace lumen::kernels {

namespace {

// The IEEE half at the start of a block (any alignment) as fp32, by the conversion
// instruction; reads the block's first 8 bytes.
inline float half_at(const uint8_t* block) {
  return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u8(vld1_u8(block))), 0);
}

}  // namespace

void linear_rows_q8_dotprod(const int8_t* xq, const float* xd, int64_t m, int64_t k, DType dtype, const uint8_t* w,
                            size_t row_bytes, const float* bias, float* y, int64_t ldy, int64_t n0, int64_t n1) {
  const int64_t nb = k / 32;
  const uint8x16_t low_mask = vdupq_n_u8(0x0f);
  const int8x16_t eight = vdupq_n_s8(8);
  for (int64_t n = n0; n < n1; ++n) {
    const uint8_t* row = w + static_cast<size_t>(n) * row_bytes;
    for (int64_t i = 0; i < m; ++i) {
      const int8_t* xi = xq + i * k;
      const float* di = xd + i * nb;
      float32x4_t sum = vdupq_n_f32(0.0f);
      for (int64_t b = 0; b < nb; ++b) {
        int8x16_t w_lo, w_hi;  // the block's weights 0..15 and 16..31 as int8
        float d;
        if (dtype == DType::kQ8_0) {
          const uint8_t* block = row + b * 34;
          d = half_at(block);
          w_lo = vld1q_s8(reinterpret_cast<const int8_t*>(block + 2));
          w_hi = vld1q_s8(reinterpret_cast<const int8_t*>(block + 18));
        } else {  // Q4_0: byte j = weight j (low nibble), j + 16 (high nibble), stored + 8
          const uint8_t* block = row + b * 18;
          d = half_at(block);
          const uint8x16_t q = vld1q_u8(block + 2);
          w_lo = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, low_mask)), eight);
          w_hi = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), eight);
        }
        int32x4_t acc = vdotq_s32(vdupq_n_s32(0), w_lo, vld1q_s8(xi + b * 32));
        acc = vdotq_s32(acc, w_hi, vld1q_s8(xi + b * 32 + 16));
        sum = vfmaq_n_f32(sum, vcvtq_f32_s32(acc), d * di[b]);
      }
      y[i * ldy + n] = vaddvq_f32(sum) + (bias ? bias[n] : 0.0f);
    }
  }
}

}  // namespace lumen::kernels
