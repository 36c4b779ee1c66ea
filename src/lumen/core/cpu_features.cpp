#include "lumen/core/cpu_features.h"

#include <atomic>
#include <fstream>
#include <string>
#include <utility>
#include <climits>
#include <cstdlib>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
// Bit numbers from the kernel's uapi (arch/arm64/include/uapi/asm/hwcap.h), for C libraries
// whose headers predate them.
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1UL << 1)
#endif
#ifndef HWCAP_FPHP
#define HWCAP_FPHP (1UL << 9)
#endif
#ifndef HWCAP_ASIMDHP
#define HWCAP_ASIMDHP (1UL << 10)
#endif
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1UL << 20)
#endif
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
#elif defined(__aarch64__)
#if defined(__linux__)
  // HWCAP is what the kernel lets user space use (reading ID registers directly would trap
  // on older kernels); qemu-user reports its -cpu model's features the same way.
  const unsigned long hwcap = getauxval(AT_HWCAP);
  f.neon = (hwcap & HWCAP_ASIMD) != 0;
  f.dotprod = (hwcap & HWCAP_ASIMDDP) != 0;
  f.fp16 = (hwcap & HWCAP_FPHP) != 0 && (hwcap & HWCAP_ASIMDHP) != 0;
#else
  f.neon = true;  // Advanced SIMD is mandatory in AArch64; the optional extensions stay off
#endif
#endif
  return f;
}

bool is_arm(CpuLevel level) { return static_cast<int>(level) >= static_cast<int>(CpuLevel::kNeon); }

CpuLevel best_supported() {
  const CpuFeatures& f = cpu_features();
  CpuLevel level = CpuLevel::kGeneric;
  if (f.avx2 && f.fma && f.f16c) level = CpuLevel::kAvx2;
  // AVX512_BF16 is not required: Skylake-SP's successors without it (Cascade Lake, Ice Lake,
  // Rocket Lake) run every AVX-512 kernel, and the matmul widens F16/BF16 to fp32 instead of
  // using vdpbf16ps (linear.cpp), as it also does where vdpbf16ps is slow (linear_uses_bf16_dot).
  if (level == CpuLevel::kAvx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni) {
    level = CpuLevel::kAvx512;
  }
  if (f.neon) level = CpuLevel::kNeon;
  if (f.neon && f.dotprod) level = CpuLevel::kNeonDotprod;
  if (f.neon && f.dotprod && f.fp16) level = CpuLevel::kNeonFp16;
  return level;
}

// `level` lowered to `cap` when the cap is kGeneric or a lower level of the same architecture.
CpuLevel apply_cap(CpuLevel level, CpuLevel cap) {
  if (cap == CpuLevel::kGeneric) return CpuLevel::kGeneric;
  if (level == CpuLevel::kGeneric || is_arm(level) != is_arm(cap)) return level;
  return static_cast<int>(cap) < static_cast<int>(level) ? cap : level;
}

CpuLevel detected_level() {
  CpuLevel level = best_supported();
  if (const char* env = std::getenv("LUMEN_CPU_LEVEL")) {
    // Unknown names cap nothing, like an unset variable.
    for (CpuLevel named : {CpuLevel::kGeneric, CpuLevel::kAvx2, CpuLevel::kAvx512, CpuLevel::kNeon,
                           CpuLevel::kNeonDotprod, CpuLevel::kNeonFp16}) {
      if (std::strcmp(env, cpu_level_name(named)) == 0) level = apply_cap(level, named);
    }
  }
  return level;
}

constexpr int kNoCap = INT_MAX;
std::atomic<int> g_cap{kNoCap};

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures features = detect();
  return features;
}

CpuLevel cpu_level() {
  static const CpuLevel detected = detected_level();
  const int cap = g_cap.load(std::memory_order_relaxed);
  return cap == kNoCap ? detected : apply_cap(detected, static_cast<CpuLevel>(cap));
}

void set_cpu_level_cap(CpuLevel cap) { g_cap.store(static_cast<int>(cap), std::memory_order_relaxed); }

const char* cpu_level_name(CpuLevel level) {
  switch (level) {
    case CpuLevel::kGeneric: return "generic";
    case CpuLevel::kAvx2: return "avx2";
    case CpuLevel::kAvx512: return "avx512";
    case CpuLevel::kNeon: return "neon";
    case CpuLevel::kNeonDotprod: return "dotprod";
    case CpuLevel::kNeonFp16: return "fp16";
  }
  return "?";
}

std::string cpu_features_string() {
  const CpuFeatures& f = cpu_features();
  const std::pair<bool, const char*> named[] = {
      {f.avx2, "avx2"},          {f.fma, "fma"},           {f.f16c, "f16c"},         {f.avx512f, "avx512f"},
      {f.avx512bw, "avx512bw"},  {f.avx512vl, "avx512vl"}, {f.avx512dq, "avx512dq"}, {f.avx512vnni, "avx512vnni"},
      {f.avx512bf16, "avx512bf16"}, {f.neon, "neon"},      {f.dotprod, "dotprod"},   {f.fp16, "fp16"}};
  std::string out;
  for (const auto& [present, name] : named) {
    if (!present) continue;
    if (!out.empty()) out += ' ';
    out += name;
  }
  return out.empty() ? "none" : out;
}

std::string cpu_model_name() {
  std::ifstream info("/proc/cpuinfo");
  std::string line;
  while (std::getline(info, line)) {
    for (const char* key : {"model name", "CPU part"}) {
      if (line.rfind(key, 0) != 0) continue;
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      const size_t start = line.find_first_not_of(" \t", colon + 1);
      if (start != std::string::npos) return line.substr(start);
    }
  }
  return "unknown";
}

std::vector<CpuLevel> cpu_levels_of_this_arch() {
#if defined(__aarch64__)
  return {CpuLevel::kGeneric, CpuLevel::kNeon, CpuLevel::kNeonDotprod, CpuLevel::kNeonFp16};
#elif defined(__x86_64__)
  return {CpuLevel::kGeneric, CpuLevel::kAvx2, CpuLevel::kAvx512};
#else
  return {CpuLevel::kGeneric};
#endif
}

}  // namespace lumen
