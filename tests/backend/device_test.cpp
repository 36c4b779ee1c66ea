// Device selection (--device) and the device benchmark's plumbing, on the CPU backend.
#include <gtest/gtest.h>

#include "lumen/backend/device.h"
#include "lumen/core/error.h"
#include "lumen/models/imp_config.h"
#include "lumen/runtime/device_bench.h"
#include "test_data.h"

namespace lumen {
namespace {

TEST(ParseDevice, AcceptsCpuCudaAndIndices) {
  EXPECT_TRUE(parse_device("cpu").is_cpu());
  DeviceSpec spec = parse_device("cuda");
  EXPECT_EQ(spec.kind, DeviceKind::kCuda);
  EXPECT_EQ(spec.index, 0);
  spec = parse_device("cuda:3");
  EXPECT_EQ(spec.index, 3);
  EXPECT_EQ(spec.to_string(), "cuda:3");
  EXPECT_EQ(parse_device("gpu:1").index, 1);
  for (const char* bad : {"", "cuda:", "cuda:x", "cuda:-1", "cuda1", "metal", "cuda:1x"}) {
    EXPECT_THROW(parse_device(bad), Error) << bad;
  }
}

TEST(MakeBackend, CpuAlwaysWorksCudaSaysWhyNot) {
  EXPECT_EQ(make_backend(parse_device("cpu"))->name(), "cpu");
  if (cuda_built() && cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  try {
    make_backend(parse_device("cuda"));
    FAIL() << "cuda accepted without a device";
  } catch (const Error& e) {
    const std::string message = e.what();
    if (!cuda_built()) {
      EXPECT_NE(message.find("lumen was built without CUDA"), std::string::npos) << message;
    } else {
      EXPECT_NE(message.find("no CUDA device"), std::string::npos) << message;
    }
  }
}

// The benchmark runs end to end on the CPU backend at a fixture's tiny shapes.
TEST(DeviceBench, RunsOnCpuAtTinyShapes) {
  const ImpConfig config = load_imp_config(testing::fixtures_dir() / "imp-tiny-a");
  auto backend = make_cpu_backend();
  DeviceBenchOptions options;
  options.weights = DType::kF32;
  options.prefill_tokens = 12;
  options.decode_steps = 4;
  options.batch = 3;
  options.repeats = 1;
  DeviceBenchResult r = run_device_bench(*backend, config, options);
  EXPECT_EQ(r.device, "cpu");
  EXPECT_GT(r.image_encode_ms, 0);
  EXPECT_GT(r.prefill_ms, 0);
  EXPECT_GT(r.decode_b1_tok_s, 0);
  EXPECT_GT(r.decode_batch_tok_s, 0);
}

}  // namespace
}  // namespace lumen
