// lumen bench: speed on Imp-v1-3B's exact shapes (SigLIP-so400m + Phi-2) with random weights
// made in memory, per weight format and thread count. See runtime/bench.h for what is timed.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/json_output.h"
#include "lumen/core/cpu_features.h"
#include "lumen/core/mapped_file.h"
#include "lumen/models/weight_quantization.h"
#include "lumen/runtime/bench.h"

namespace lumen::cli {

namespace {

// MILVLG/Imp-v1-3b's config.json (tests/data/fixtures/imp-v1-3b.config.json); its LLM sizes
// are Phi-2's defaults, filled in by parse_imp_config.
constexpr const char* kImpV1Config = R"({
  "architectures": ["ImpForCausalLM"], "model_type": "imp", "activation_function": "gelu_new",
  "eos_token_id": 50295, "image_token_index": 50296, "pad_token_id": 50256,
  "mm_hidden_size": 1152, "mm_projector_type": "mlp2x_gelu", "mm_vision_select_feature": "patch",
  "mm_vision_select_layer": -2, "mm_vision_tower": "google/siglip-so400m-patch14-384",
  "torch_dtype": "float16",
  "vision_tower_config": {
    "hidden_act": "gelu_pytorch_tanh", "hidden_size": 1152, "image_size": 384, "intermediate_size": 4304,
    "layer_norm_eps": 1e-06, "model_type": "siglip_vision_model", "num_attention_heads": 16,
    "num_channels": 3, "num_hidden_layers": 27, "patch_size": 14
  }
})";

double gb(uint64_t bytes) { return static_cast<double>(bytes) / 1e9; }

}  // namespace

int run_bench(int argc, char** argv) {
  // `lumen bench --device cuda[:N]`: the GPU figures (cmd_bench_gpu.cpp, runtime/device_bench.h).
  for (int i = 2; i + 1 < argc; ++i) {
    if (std::string(argv[i]) == "--device" && std::string(argv[i + 1]) != "cpu") return run_bench_gpu(argc, argv);
  }
  std::vector<std::string> quants, thread_args;
  int64_t repeats = 3, batch = 2, text_tokens = 60, decode_tokens = 128;
  std::string config_path;
  bool json = false, no_vision = false;
  ArgParser parser("bench", "lumen bench [--quant Q]... [--threads T]... [--repeats N] [--json]",
                   "Measure image encode time, prefill and decode tokens/s, GFLOP/s, GB/s and peak memory on\n"
                   "Imp-v1-3B's exact shapes with random weights made in memory (nothing is downloaded or\n"
                   "written). Figures are medians over --repeats runs after one warm-up.");
  parser.repeated("--quant", "-q", "Q", "weight format: f32, f16, bf16, q8_0, q4_0 (repeatable; default f16, q8_0, q4_0)",
                  &quants);
  parser.repeated("--threads", "-t", "T", "thread count (repeatable; default: one per core)", &thread_args);
  parser.option("--repeats", "-r", "N", "timed runs per figure, reported as the median (default 3)", &repeats, 1, 1000);
  parser.option("--batch", "", "N", "images per forward pass for the images/s figure; 0 skips it (default 2)", &batch,
                0, 64);
  parser.option("--text-tokens", "", "N", "text tokens after the image in the prompt (default 60)", &text_tokens, 1,
                2000);
  parser.option("--decode-tokens", "", "N", "tokens decoded after the prefill (default 128)", &decode_tokens, 1, 2000);
  parser.option("--config", "", "FILE", "an Imp config.json to take the shapes from (default: Imp-v1-3B)",
                &config_path);
  parser.flag("--no-vision", "", "skip the vision stages (the prompt uses random image embeddings)", &no_vision);
  parser.flag("--json", "", "print one JSON object per run instead of the table", &json);
  if (!parser.parse(argc, argv)) return 0;
  if (quants.empty()) quants = {"f16", "q8_0", "q4_0"};
  std::vector<int> threads;
  for (const auto& t : thread_args) {
    int value = 0;
    try {
      value = std::stoi(t);
    } catch (const std::exception&) {
      throw UsageError("--threads expects a number, got '" + t + "'");
    }
    if (value < 1 || value > 1024) throw UsageError("--threads must be in [1, 1024]");
    threads.push_back(value);
  }
  if (threads.empty()) threads.push_back(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));

  BenchOptions options;
  options.config = config_path.empty() ? parse_imp_config(kImpV1Config, "Imp-v1-3B config")
                                       : parse_imp_config(read_text_file(config_path), config_path);
  options.repeats = static_cast<int>(repeats);
  options.batch = static_cast<int>(batch);
  options.text_tokens = text_tokens;
  options.decode_tokens = decode_tokens;
  options.vision = !no_vision;
  for (const auto& q : quants) parse_weight_format(q);  // reject bad names before any run

  if (!json) {
    std::printf("lumen bench: %s kernels, prompt %lld image + %lld text tokens, %lld decoded, median of %lld\n",
                cpu_level_name(cpu_level()), (long long)options.config.vision.num_patches(), (long long)text_tokens,
                (long long)decode_tokens, (long long)repeats);
    std::printf("%-5s %3s | %9s %7s %7s | %8s %7s | %7s %6s %6s %7s | %7s %7s %6s\n", "quant", "thr", "encode s",
                "img/s", "GFLOP/s", "prefill", "GFLOP/s", "decode", "GB/s", "probe", "target", "weights", "peak",
                "load s");
    std::printf("%-5s %3s | %9s %7s %7s | %8s %7s | %7s %6s %6s %7s | %7s %7s %6s\n", "", "", "", "", "", "tok/s",
                "", "tok/s", "", "GB/s", "tok/s", "GB", "GB", "");
  }
  int runs = 0;
  for (int t : threads) {
    for (const auto& q : quants) {
      options.quant = q;
      options.threads = t;
      const BenchResult r = lumen::run_bench(options);
      // 70% of what the measured read bandwidth allows for this format's bytes per token.
      const double target = 0.7 * r.read_bandwidth_gb_s * 1e9 / static_cast<double>(r.decode_bytes_per_token);
      if (json) {
        print_json({{"quant", r.quant},
                    {"threads", r.threads},
                    {"cpu_kernels", cpu_level_name(cpu_level())},
                    {"image_encode_s", r.image_encode_s},
                    {"images_per_s", r.images_per_s},
                    {"vision_gflop_s", r.vision_gflops},
                    {"prefill_tokens", r.prefill_tokens},
                    {"prefill_tok_s", r.prefill_tok_s},
                    {"prefill_gflop_s", r.prefill_gflops},
                    {"decode_tokens", decode_tokens},
                    {"decode_tok_s", r.decode_tok_s},
                    {"decode_gb_s", r.decode_gb_s},
                    {"decode_gflop_s", r.decode_gflops},
                    {"read_bandwidth_gb_s", r.read_bandwidth_gb_s},
                    {"decode_target_tok_s", target},
                    {"weight_bytes", r.weight_bytes},
                    {"decode_weight_bytes_per_token", r.decode_bytes_per_token},
                    {"peak_rss_bytes", r.peak_rss_bytes},
                    {"earlier_runs_in_process", runs},
                    {"load_s", r.load_s}});
      } else {
        std::printf("%-5s %3d | %9.2f %7.2f %7.0f | %8.1f %7.0f | %7.2f %6.1f %6.1f %7.1f | %7.2f %7.2f %6.1f\n",
                    r.quant.c_str(), r.threads, r.image_encode_s, r.images_per_s, r.vision_gflops, r.prefill_tok_s,
                    r.prefill_gflops, r.decode_tok_s, r.decode_gb_s, r.read_bandwidth_gb_s, target, gb(r.weight_bytes),
                    gb(r.peak_rss_bytes), r.load_s);
      }
      std::fflush(stdout);
      ++runs;
    }
  }
  if (!json && runs > 1) {
    std::printf("peak: the process's high-water mark during each run; a run after another can include memory the\n"
                "allocator kept from it. For memory figures, run one --quant and --threads per invocation.\n");
  }
  return 0;
}

}  // namespace lumen::cli
