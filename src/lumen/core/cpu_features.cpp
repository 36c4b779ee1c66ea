#include "lumen/core/cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace lumen {

namespace {

CpuFeatures detect() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  // __builtin_cpu_supports also checks that the OS saves the wide registers (XCR0).
  f.avx2 = __builtin_cpu_supports("avx2");
  f.fma = __builtin_cpu_supports("fma");
  // F16C from CPUID leaf 1 (ECX bit 29): clang before 16 has no __builtin_cpu_supports("f16c").
  // It works on YMM registers, so it also needs what "avx" checks.
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  f.f16c = __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0 && __builtin_cpu_supports("avx");
  f.avx512f = __builtin_cpu_supports("avx512f");
  f.avx512bw = __builtin_cpu_supports("avx512bw");
  f.avx512vl = __builtin_cpu_supports("avx512vl");
  f.avx512dq = __builtin_cpu_supports("avx512dq");
  f.avx512vnni = __builtin_cpu_supports("avx512vnni");
  f.avx512bf16 = __builtin_cpu_supports("avx512bf16");
#endif
  return f;
}

CpuLevel detected_level() {
  const CpuFeatures& f = cpu_features();
  CpuLevel level = CpuLevel::kGeneric;
  if (f.avx2 && f.fma && f.f16c) level = CpuLevel::kAvx2;
  if (level == CpuLevel::kAvx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni &&
      f.avx512bf16) {
    level = CpuLevel::kAvx512;
  }
  if (const char* env = std::getenv("LUMEN_CPU_LEVEL")) {
    CpuLevel cap = level;
    if (std::strcmp(env, "generic") == 0) cap = CpuLevel::kGeneric;
    if (std::strcmp(env, "avx2") == 0) cap = CpuLevel::kAvx2;
    if (cap < level) level = cap;
  }
  return level;
}

std::atomic<int> g_cap{static_cast<int>(CpuLevel::kAvx512)};

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

CpuLevel cpu_level() {
  static const CpuLevel detected = detected_level();
  const int cap = g_cap.load(std::memory_order_relaxed);
  return static_cast<int>(detected) < cap ? detected : static_cast<CpuLevel>(cap);
}

void set_cpu_level_cap(CpuLevel cap) { g_cap.store(static_cast<int>(cap), std::memory_order_relaxed); }

const char* cpu_level_name(CpuLevel level) {
  switch (level) {
    case CpuLevel::kGeneric: return "generic";
    case CpuLevel::kAvx2: return "avx2";
    case CpuLevel::kAvx512: return "avx512";
  }
  return "?";
}

}  // namespace lumen
