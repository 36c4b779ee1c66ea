// Device selection (--device) and the benchmark's plumbing (lumen bench), on the CPU backend.
#include <gtest/gtest.h>

#include "lumen/backend/device.h"
#include "lumen/core/error.h"
#include "lumen/models/imp_config.h"
#include "lumen/core/thread_pool.h"
#include "lumen/runtime/bench.h"
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

// The benchmark runs end to end on the CPU backend at a fixture's tiny shapes, batched decode
// included; the figures only graph-recording backends have stay empty.
TEST(Bench, RunsOnCpuAtTinyShapes) {
  BenchOptions options;
  options.config = load_imp_config(testing::fixtures_dir() / "imp-tiny-a");
  options.device = "cpu";
  options.quant = "f32";
  options.threads = ThreadPool::global().size();  // leave the pool as the other tests have it
  options.repeats = 1;
  options.text_tokens = 5;
  options.decode_tokens = 4;
  options.decode_batch = 3;
  options.probe_bytes = 0;
  const BenchResult r = run_bench(options);
  EXPECT_EQ(r.device, "cpu");
  EXPECT_EQ(r.activation_dtype, "F32");
  EXPECT_GT(r.image_encode_s, 0);
  EXPECT_GT(r.images_per_s, 0);
  EXPECT_EQ(r.prefill_tokens, options.config.vision.num_patches() + 5);
  EXPECT_GT(r.prefill_tok_s, 0);
  EXPECT_GT(r.decode_tok_s, 0);
  EXPECT_GT(r.decode_gb_s, 0);
  EXPECT_FALSE(r.decode_graphs);
  EXPECT_EQ(r.decode_nograph_tok_s, 0);
  EXPECT_EQ(r.decode_batch, 3);
  EXPECT_GT(r.decode_batch_tok_s, 0);
  EXPECT_GT(r.weight_bytes, r.decode_bytes_per_token);
  EXPECT_EQ(r.read_bandwidth_gb_s, 0);
}

TEST(Bench, RefusesAPromptLongerThanTheContext) {
  BenchOptions options;
  options.config = load_imp_config(testing::fixtures_dir() / "imp-tiny-a");
  options.threads = ThreadPool::global().size();
  options.decode_tokens = options.config.text.max_positions;
  EXPECT_THROW(run_bench(options), Error);
}

TEST(Bench, CudaWithoutADeviceSaysSoBeforeMakingWeights) {
  if (cuda_built() && cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  BenchOptions options;  // Imp-v1-3B's shapes: failing late would take seconds and gigabytes
  options.device = "cuda";
  options.threads = ThreadPool::global().size();
  options.probe_bytes = 0;
  try {
    run_bench(options);
    FAIL() << "bench ran on cuda without a device";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_TRUE(message.find("no CUDA device") != std::string::npos ||
                message.find("lumen was built without CUDA") != std::string::npos)
        << message;
  }
}

}  // namespace
}  // namespace lumen
