// lumen bench-gpu: throughput of the device path (image encode, prefill, batch-1 and batched
// decode) on random weights of Imp-v1-3B's shapes (or a checkpoint's config), made in device
// memory. `lumen bench --device cuda` reports the same through runtime/device_bench.h.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/json_output.h"
#include "lumen/backend/device.h"
#include "lumen/runtime/device_bench.h"

namespace lumen::cli {

int run_bench_gpu(int argc, char** argv) {
  std::string device = "cuda";
  std::string dtype = "bf16";
  std::string model_dir;
  int64_t prefill = 789, steps = 128, batch = 32, repeats = 10;
  bool json = false, no_compare = false;
  ArgParser parser("bench-gpu", "lumen bench-gpu [--device cuda[:N]] [--dtype bf16|f16|f32] [options]",
                   "Measure image encode, prefill, batch-1 and batched decode throughput on a device, with random\n"
                   "weights of Imp-v1-3B's shapes (or of -m DIR's config.json) made in device memory.");
  parser.option("--device", "", "DEV", "cuda, cuda:N or cpu (default cuda)", &device);
  parser.option("--dtype", "", "T", "weight and activation dtype: bf16, f16 or f32 (default bf16)", &dtype);
  parser.option("--model", "-m", "DIR", "take the shapes from DIR/config.json (default: Imp-v1-3B)", &model_dir);
  parser.option("--prefill", "", "N", "prompt positions to prefill (default 789)", &prefill, 1, 1 << 20);
  parser.option("--steps", "", "N", "decode steps to time (default 128)", &steps, 1, 1 << 20);
  parser.option("--batch", "", "N", "sequences in the batched decode (default 32)", &batch, 1, 4096);
  parser.option("--repeats", "", "N", "timed runs of encode and prefill, median reported (default 10)", &repeats, 1,
                10000);
  parser.flag("--no-graph-compare", "", "skip the batch-1 decode run without graphs", &no_compare);
  parser.flag("--json", "", "print one JSON object", &json);
  if (!parser.parse(argc, argv)) return 0;

  DeviceBenchOptions options;
  if (dtype == "bf16") {
    options.weights = DType::kBF16;
  } else if (dtype == "f16") {
    options.weights = DType::kF16;
  } else if (dtype == "f32") {
    options.weights = DType::kF32;
  } else {
    throw UsageError("--dtype must be bf16, f16 or f32");
  }
  options.prefill_tokens = prefill;
  options.decode_steps = steps;
  options.batch = batch;
  options.repeats = repeats;
  options.compare_without_graphs = !no_compare;
  const ImpConfig config = model_dir.empty() ? ImpConfig{} : load_imp_config(model_dir);
  if (config.text.max_positions < prefill + steps + 8) {
    throw UsageError("--prefill + --steps exceed the model's context of " + std::to_string(config.text.max_positions));
  }
  auto backend = make_backend(parse_device(device));
  DeviceBenchResult r = run_device_bench(*backend, config, options);
  if (json) {
    print_json(nlohmann::json{{"device", r.device},
                              {"dtype", r.dtype},
                              {"weight_gb", r.weight_gb},
                              {"image_encode_ms", r.image_encode_ms},
                              {"prefill_tokens", r.prefill_tokens},
                              {"prefill_ms", r.prefill_ms},
                              {"decode_b1_tok_s", r.decode_b1_tok_s},
                              {"decode_b1_nograph_tok_s", r.decode_b1_nograph_tok_s},
                              {"batch", r.batch},
                              {"decode_batch_tok_s", r.decode_batch_tok_s}});
    return 0;
  }
  std::printf("device          %s\n", r.device.c_str());
  std::printf("model           %s shapes, random %s weights (%.2f GB)\n", model_dir.empty() ? "Imp-v1-3B" : model_dir.c_str(),
              r.dtype.c_str(), r.weight_gb);
  std::printf("image encode    %8.2f ms   (1 image, %lld patches, median of %lld)\n", r.image_encode_ms,
              static_cast<long long>(config.vision.num_patches()), static_cast<long long>(repeats));
  std::printf("prefill         %8.2f ms   (%lld positions, %.0f tok/s)\n", r.prefill_ms,
              static_cast<long long>(r.prefill_tokens), 1000.0 * double(r.prefill_tokens) / r.prefill_ms);
  std::printf("decode batch 1  %8.1f tok/s (graphs; %.1f tok/s op by op; weights read at %.0f GB/s)\n",
              r.decode_b1_tok_s, r.decode_b1_nograph_tok_s, r.decode_b1_tok_s * r.weight_gb);
  std::printf("decode batch %-3lld%8.1f tok/s aggregate (%lld positions of context each)\n",
              static_cast<long long>(r.batch), r.decode_batch_tok_s, static_cast<long long>(r.prefill_tokens));
  return 0;
}

}  // namespace lumen::cli
