#include "lumen/core/dtype.h"

namespace lumen {

size_t dtype_size(DType type) {
  switch (type) {
    case DType::kF32: return 4;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
    case DType::kU8: return 1;
    case DType::kI8: return 1;
    case DType::kI32: return 4;
    case DType::kI64: return 8;
    case DType::kF64: return 8;
    case DType::kBool: return 1;
    case DType::kQ8_0: return 2 + 32;       // f16 scale + 32 int8
    case DType::kQ4_0: return 2 + 16;       // f16 scale + 32 nibbles
  }
  return 0;
}

size_t dtype_block(DType type) {
  return (type == DType::kQ8_0 || type == DType::kQ4_0) ? 32 : 1;
}

std::string_view dtype_name(DType type) {
  switch (type) {
    case DType::kF32: return "F32";
    case DType::kF16: return "F16";
    case DType::kBF16: return "BF16";
    case DType::kU8: return "U8";
    case DType::kI8: return "I8";
    case DType::kI32: return "I32";
    case DType::kI64: return "I64";
    case DType::kF64: return "F64";
    case DType::kBool: return "BOOL";
    case DType::kQ8_0: return "Q8_0";
    case DType::kQ4_0: return "Q4_0";
  }
  return "?";
}

bool parse_dtype(std::string_view name, DType* out) {
  static constexpr DType kAll[] = {DType::kF32, DType::kF16, DType::kBF16, DType::kU8,
                                   DType::kI8,  DType::kI32, DType::kI64,  DType::kF64,
                                   DType::kBool, DType::kQ8_0, DType::kQ4_0};
  for (DType type : kAll) {
    if (dtype_name(type) == name) {
      *out = type;
      return true;
    }
  }
  return false;
}

uint16_t f32_to_f16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  uint32_t sign = (bits >> 16) & 0x8000u;
  uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // overflow -> inf
  if (abs < 0x38800000u) {  // result is subnormal or zero
    if (abs < 0x33000000u) return static_cast<uint16_t>(sign);
    uint32_t exponent = abs >> 23;
    uint32_t mantissa = (abs & 0x7fffffu) | 0x800000u;
    uint32_t shift = 126 - exponent;  // value * 2^24 = mantissa * 2^(exponent - 126)
    uint32_t half = mantissa >> shift;
    uint32_t remainder = mantissa & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (remainder > halfway || (remainder == halfway && (half & 1u))) ++half;
    return static_cast<uint16_t>(sign | half);
  }
  uint32_t rounded = abs + 0xfffu + ((abs >> 13) & 1u);
  rounded -= (127 - 15) << 23;
  return static_cast<uint16_t>(sign | (rounded >> 13));
}

}  // namespace lumen
