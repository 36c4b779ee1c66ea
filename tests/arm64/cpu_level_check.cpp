// Which level this run's kernels use, checked against what run.sh asked for: qemu's -cpu
// model reaches the library only through HWCAP, so this is what shows that run-time
// detection (and the LUMEN_CPU_LEVEL cap) picks the level each run is named after.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "lumen/core/cpu_features.h"

namespace lumen {
namespace {

TEST(Arm64CpuLevel, IsTheLevelThisRunAskedFor) {
  const CpuFeatures& f = cpu_features();
  const std::string level = cpu_level_name(cpu_level());
  std::printf("[ cpu      ] kernels at level %s (HWCAP: asimd %d, asimddp %d, fphp+asimdhp %d)\n", level.c_str(),
              f.neon, f.dotprod, f.fp16);
  const char* expected = std::getenv("LUMEN_EXPECT_CPU_LEVEL");
  if (expected == nullptr) GTEST_SKIP() << "LUMEN_EXPECT_CPU_LEVEL not set";
  EXPECT_EQ(level, expected);
}

}  // namespace
}  // namespace lumen
