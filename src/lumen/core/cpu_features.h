// Which x86-64 instruction sets this CPU (and OS) supports, detected once at run time, so one
// binary built without -march picks the fastest kernels the machine can run.
#pragma once

namespace lumen {

enum class CpuLevel {
  kGeneric = 0,  // baseline x86-64 (SSE2): portable C++ kernels
  kAvx2 = 1,     // AVX2 + FMA + F16C
  kAvx512 = 2,   // AVX-512 F/BW/VL/DQ + VNNI + BF16 (Zen 4/5, Sapphire Rapids and later)
};

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vnni = false, avx512bf16 = false;
};

const CpuFeatures& cpu_features();

// The best level this machine supports, capped by $LUMEN_CPU_LEVEL (generic|avx2|avx512) and
// by set_cpu_level_cap(); tests lower the cap to exercise every kernel path on one machine.
CpuLevel cpu_level();
void set_cpu_level_cap(CpuLevel cap);
const char* cpu_level_name(CpuLevel level);

}  // namespace lumen
