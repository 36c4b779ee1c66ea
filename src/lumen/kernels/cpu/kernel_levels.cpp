#include "lumen/kernels/cpu/kernel_levels.h"

#include "lumen/core/cpu_features.h"
#include "lumen/kernels/cpu/linear.h"

namespace lumen {

std::string cpu_kernel_summary() {
  const CpuLevel level = cpu_level();
  switch (level) {
    case CpuLevel::kAvx512:
      return std::string("matmul avx512 (") +
             (linear_uses_bf16_dot()       ? "bf16 / int8 vnni"
              : cpu_features().avx512bf16 ? "int8 vnni; F16/BF16 widened to fp32: vdpbf16ps no faster here"
                                          : "int8 vnni; F16/BF16 widened to fp32: no avx512bf16") +
             " at reduced precision), attention avx512, kv store avx512, gelu_tanh and quick_gelu avx512, other "
             "activations, norms and softmax avx2";
    case CpuLevel::kAvx2:
      return "matmul avx2 (int8 for Q8_0/Q4_0 at reduced precision, exact fp32 otherwise), attention avx2, "
             "kv store avx2, activations, norms and softmax avx2";
    case CpuLevel::kNeon:
    case CpuLevel::kNeonFp16:
    case CpuLevel::kNeonDotprod:
      return std::string("matmul neon") +
             (level == CpuLevel::kNeon ? "" : " (int8 sdot for q8_0/q4_0 at reduced precision)") +
             ", attention neon, kv store neon, activations, norms and softmax neon";
    case CpuLevel::kGeneric:
      break;
  }
  return "every op generic (portable C++)";
}

}  // namespace lumen
