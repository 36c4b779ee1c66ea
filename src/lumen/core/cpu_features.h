// Which SIMD instruction sets this CPU (and OS) supports, detected once at run time, so one
// binary built without -march picks the fastest kernels the machine can run: x86-64
// (cpuid) or AArch64 (the kernel's HWCAP bits).
#pragma once

#include <string>
#include <vector>

namespace lumen {

// Levels are ordered within one architecture; the two architectures' values are kept apart
// so no Arm level ever equals an x86 one (x86 dispatch compares with == kAvx2 / == kAvx512).
enum class CpuLevel {
  kGeneric = 0,  // portable C++ kernels, any CPU
  // x86-64
  kAvx2 = 1,     // AVX2 + FMA + F16C
  kAvx512 = 2,   // AVX-512 F/BW/VL/DQ + VNNI + BF16 (Zen 4/5, Sapphire Rapids and later)
  // AArch64
  kNeon = 16,         // ARMv8.0 Advanced SIMD, which every AArch64 CPU has
  kNeonDotprod = 17,  // + SDOT/UDOT (ARMv8.2 dotprod: Cortex-A55/A76, Neoverse N1 and later)
  kNeonFp16 = 18,     // + half-precision arithmetic (FPHP and ASIMDHP), on top of dotprod
};

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false;
  bool neon = false, dotprod = false, fp16 = false;  // HWCAP ASIMD, ASIMDDP, FPHP && ASIMDHP
};

const CpuFeatures& cpu_features();

// The detected features by name, space-separated ("avx2 fma f16c"), or "none" (for reports).
std::string cpu_features_string();

// The CPU's model name from /proc/cpuinfo ("model name", or Arm's "CPU part"), or "unknown".
std::string cpu_model_name();

// The best level this machine supports, capped by $LUMEN_CPU_LEVEL (generic|avx2|avx512 on
// x86-64, generic|neon|dotprod|fp16 on AArch64) and by set_cpu_level_cap(); tests lower the
// cap to exercise every kernel path on one machine. A cap naming the other architecture's
// level caps nothing (so set_cpu_level_cap(CpuLevel::kAvx512) lifts the cap on Arm too);
// kGeneric caps every architecture to the portable kernels.
CpuLevel cpu_level();
void set_cpu_level_cap(CpuLevel cap);
const char* cpu_level_name(CpuLevel level);

// Every level of the architecture this binary was built for, lowest (kGeneric) first, whether
// or not this CPU supports it: what kernel tests run at (a cap above what the CPU supports
// gives what it supports).
std::vector<CpuLevel> cpu_levels_of_this_arch();

}  // namespace lumen
