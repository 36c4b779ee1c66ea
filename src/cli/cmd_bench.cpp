// lumen bench: speed on Imp-v1-3B's exact shapes (SigLIP-so400m + Phi-2) with random weights
// made in memory, per device, weight format and thread count. See runtime/bench.h for what is
// timed; every device runs the same measurement.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/json_output.h"
#include "lumen/backend/device.h"
#include "lumen/core/cpu_features.h"
#include "lumen/kernels/cpu/kernel_levels.h"
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

template <typename... Args>
std::string printf_string(const char* format, Args... args) {
  char buffer[256];
  std::snprintf(buffer, sizeof buffer, format, args...);
  return buffer;
}

// A figure that is absent (not measured) is null in JSON.
nlohmann::json measured(double value) { return value > 0 ? nlohmann::json(value) : nlohmann::json(nullptr); }

}  // namespace

int run_bench(int argc, char** argv) {
  std::vector<std::string> quants, thread_args;
  int64_t repeats = 3, batch = -1, text_tokens = 60, decode_tokens = -1, decode_batch = -1;
  std::string config_path, device = "cpu";
  bool json = false, no_vision = false, no_graph_compare = false;
  ArgParser parser("bench", "lumen bench [--device cpu|cuda[:N]] [--quant Q]... [--threads T]... [--repeats N] [--json]",
                   "Measure image encode time, prefill and decode tokens/s, GFLOP/s, GB/s and peak memory on\n"
                   "Imp-v1-3B's exact shapes with random weights made in memory (nothing is downloaded or\n"
                   "written), on the CPU or a GPU, through the same code. Figures are medians over --repeats\n"
                   "runs after one warm-up. The CPU defaults (one format, 32 decoded tokens, no batched\n"
                   "figures, short warm-ups) finish in a few minutes on a 2-core machine.");
  parser.option("--device", "", "DEV", "cpu, cuda or cuda:N (default cpu)", &device);
  parser.repeated("--quant", "-q", "Q",
                  "weight format: f32, f16, bf16, q8_0, q4_0 (repeatable; default q4_0 on cpu, bf16 on a GPU, "
                  "whose activations follow: bf16 for q8_0 and q4_0)",
                  &quants);
  parser.repeated("--threads", "-t", "T", "thread count (repeatable; default: one per core)", &thread_args);
  parser.option("--repeats", "-r", "N", "timed runs per figure, reported as the median (default 3)", &repeats, 1, 1000);
  parser.option("--batch", "", "N", "images per forward pass for the images/s figure; 0 skips it (default 0 on cpu, 2 on a GPU)",
                &batch, 0, 64);
  parser.option("--text-tokens", "", "N", "text tokens after the image in the prompt (default 60)", &text_tokens, 1,
                2000);
  parser.option("--decode-tokens", "", "N", "tokens decoded after the prefill (default 32 on cpu, as llama-bench's tg32; 128 on a GPU)",
                &decode_tokens, 1, 2000);
  parser.option("--decode-batch", "", "N",
                "sequences decoded together for the batched figure; 0 skips it (default 0 on cpu, 32 on a GPU)",
                &decode_batch, 0, 4096);
  parser.option("--config", "", "FILE",
                "a config.json of any supported family to take the shapes from (default: Imp-v1-3B; see bench/configs)",
                &config_path);
  parser.flag("--no-vision", "", "skip the vision stages (the prompt uses random image embeddings)", &no_vision);
  parser.flag("--no-graph-compare", "", "skip the batch-1 decode without graphs (backends with graphs only)",
              &no_graph_compare);
  parser.flag("--json", "", "print one JSON object per run instead of the table", &json);
  if (!parser.parse(argc, argv)) return 0;
  const DeviceSpec spec = parse_device(device);
  if (quants.empty()) quants = {spec.is_cpu() ? "q4_0" : "bf16"};
  if (decode_batch < 0) decode_batch = spec.is_cpu() ? 0 : 32;
  if (batch < 0) batch = spec.is_cpu() ? 0 : 2;
  if (decode_tokens < 0) decode_tokens = spec.is_cpu() ? 32 : 128;
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
  options.device = spec.to_string();
  options.repeats = static_cast<int>(repeats);
  options.batch = static_cast<int>(batch);
  options.text_tokens = text_tokens;
  options.decode_tokens = decode_tokens;
  options.decode_batch = decode_batch;
  options.vision = !no_vision;
  options.compare_graphs = !no_graph_compare;
  options.full_warmup = !spec.is_cpu();
  for (const auto& q : quants) parse_weight_format(q);  // reject bad names before any run
  // The device, before anything is printed: a missing GPU is one line ("no CUDA device").
  std::string device_name;
  bool nograph_column = false;
  {
    const std::unique_ptr<Backend> backend = make_backend(spec);
    device_name = backend->name();
    nograph_column = options.compare_graphs && backend->supports_graphs();
  }
  const bool batch_column = decode_batch > 0;

  if (!json) {
    std::printf("lumen bench on %s, %s kernels, prompt %lld image + %lld text tokens, %lld decoded, median of %lld\n",
                device_name.c_str(), cpu_level_name(cpu_level()), (long long)options.config.vision.num_patches(),
                (long long)text_tokens, (long long)decode_tokens, (long long)repeats);
    std::printf("cpu: %s; features: %s\nkernels: %s\n", cpu_model_name().c_str(), cpu_features_string().c_str(),
                cpu_kernel_summary().c_str());
    // Two header lines laid out like the rows; the optional columns sit between decode and memory.
    constexpr const char* kMain = "%-5s %3s | %9s %7s %7s | %8s %7s | %7s %6s %6s %7s";
    std::string top = printf_string(kMain, "quant", "thr", "encode s", "img/s", "GFLOP/s", "prefill", "GFLOP/s",
                                    "decode", "GB/s", "probe", "target");
    std::string bottom = printf_string(kMain, "", "", "", "", "", "tok/s", "", "tok/s", "", "GB/s", "tok/s");
    if (nograph_column) {
      top += printf_string(" %7s", "nograph");
      bottom += printf_string(" %7s", "tok/s");
    }
    if (batch_column) {
      top += printf_string(" | %9s %6s %7s", ("batch " + std::to_string(decode_batch)).c_str(), "GB/s", "GFLOP/s");
      bottom += printf_string(" | %9s %6s %7s", "tok/s", "", "");
    }
    top += printf_string(" | %7s %7s %6s", "weights", "peak", "load s");
    bottom += printf_string(" | %7s %7s %6s", "GB", "GB", "");
    std::printf("%s\n%s\n", top.c_str(), bottom.c_str());
  }
  int runs = 0;
  for (int t : threads) {
    for (const auto& q : quants) {
      options.quant = q;
      options.threads = t;
      const BenchResult r = lumen::run_bench(options);
      // 70% of what the measured bandwidth allows for this format's bytes per token.
      const double target = r.read_bandwidth_gb_s > 0 ? 0.7 * r.read_bandwidth_gb_s * 1e9 /
                                                            static_cast<double>(r.decode_bytes_per_token)
                                                      : 0;
      if (json) {
        print_json({{"device", r.device},
                    {"quant", r.quant},
                    {"activation_dtype", r.activation_dtype},
                    {"kv_dtype", r.kv_dtype},
                    {"threads", r.threads},
                    {"cpu_kernels", cpu_level_name(cpu_level())},
                    {"cpu_model", cpu_model_name()},
                    {"cpu_features", cpu_features_string()},
                    {"cpu_kernel_summary", cpu_kernel_summary()},
                    {"image_encode_s", r.image_encode_s},
                    {"images_per_s", r.images_per_s},
                    {"vision_gflop_s", r.vision_gflops},
                    {"prefill_tokens", r.prefill_tokens},
                    {"prefill_s", r.prefill_s},
                    {"prefill_tok_s", r.prefill_tok_s},
                    {"prefill_gflop_s", r.prefill_gflops},
                    {"decode_tokens", decode_tokens},
                    {"decode_tok_s", r.decode_tok_s},
                    {"decode_gb_s", r.decode_gb_s},
                    {"decode_gflop_s", r.decode_gflops},
                    {"decode_graphs", r.decode_graphs},
                    {"decode_nograph_tok_s", measured(r.decode_nograph_tok_s)},
                    {"decode_batch", r.decode_batch},
                    {"decode_batch_tok_s", measured(r.decode_batch_tok_s)},
                    {"decode_batch_gb_s", measured(r.decode_batch_gb_s)},
                    {"decode_batch_gflop_s", measured(r.decode_batch_gflops)},
                    {"read_bandwidth_gb_s", r.read_bandwidth_gb_s},
                    {"decode_target_tok_s", target},
                    {"weight_bytes", r.weight_bytes},
                    {"decode_weight_bytes_per_token", r.decode_bytes_per_token},
                    {"peak_rss_bytes", r.peak_rss_bytes},
                    {"earlier_runs_in_process", runs},
                    {"load_s", r.load_s}});
      } else {
        // A GPU encodes in milliseconds: more digits below a second.
        std::printf(r.image_encode_s < 1 ? "%-5s %3d | %9.4f" : "%-5s %3d | %9.2f", r.quant.c_str(), r.threads,
                    r.image_encode_s);
        std::printf(" %7.2f %7.0f | %8.1f %7.0f | %7.2f %6.1f %6.1f %7.1f", r.images_per_s, r.vision_gflops,
                    r.prefill_tok_s, r.prefill_gflops, r.decode_tok_s, r.decode_gb_s, r.read_bandwidth_gb_s, target);
        if (nograph_column) std::printf(" %7.2f", r.decode_nograph_tok_s);
        if (batch_column) std::printf(" | %9.1f %6.1f %7.0f", r.decode_batch_tok_s, r.decode_batch_gb_s, r.decode_batch_gflops);
        std::printf(" | %7.2f %7.2f %6.1f\n", gb(r.weight_bytes), gb(r.peak_rss_bytes), r.load_s);
      }
      std::fflush(stdout);
      ++runs;
    }
  }
  if (!json && runs > 1) {
    std::printf("peak: the process's high-water mark during each run; a run after another can include memory the\n"
                "allocator kept from it. For memory figures, run one --quant and --threads per invocation.\n");
  }
  if (!json && !spec.is_cpu()) {
    std::printf("probe: a device-to-device copy, bytes read + written; weights: as the device holds them; peak: host memory.\n");
  }
  return 0;
}

}  // namespace lumen::cli
