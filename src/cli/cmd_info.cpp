// lumen info: what a checkpoint is, without running it.
#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "cli/common.h"
#include "lumen/core/dtype.h"

namespace lumen::cli {

int run_info(int argc, char** argv) {
  ModelOptions model;
  ArgParser parser("info", "lumen info [-m DIR]",
                   "Describe a checkpoint: architecture, sizes, weight dtypes and image tokens per image.");
  model.add_to(parser);
  if (!parser.parse(argc, argv)) return 0;

  auto engine = model.load();
  const ImpModel& m = engine->model();
  const ImpConfig& c = m.config();
  std::map<std::string, int64_t> params_by_dtype;
  int64_t params = 0;
  size_t bytes = 0;
  for (const auto& [name, view] : m.store().tensors()) {
    params_by_dtype[std::string(dtype_name(view->dtype))] += view->numel();
    params += view->numel();
    bytes += view->nbytes;
  }
  std::printf("model:        %s\n", model.resolved_dir().c_str());
  std::printf("family:       %s: %s\n", m.family().name, m.family().description);
  std::printf("architecture: %s vision tower + %s projector + %s decoder, %s weight layout\n", m.family().vision.name,
              c.projector_type.c_str(), m.family().decoder.name, weight_layout_name(m.layout()));
  std::printf("parameters:   %.2f M (%.1f MB on disk)\n", static_cast<double>(params) / 1e6, static_cast<double>(bytes) / 1e6);
  std::printf("dtypes:      ");
  for (const auto& [dtype, n] : params_by_dtype) std::printf(" %s %.2f M", dtype.c_str(), static_cast<double>(n) / 1e6);
  std::printf("\n");
  std::printf("vision:       image %lldx%lld, patch %lld, hidden %lld, %lld heads, %lld of %lld layers run (select %lld), %s\n",
              (long long)c.vision.image_size, (long long)c.vision.image_size, (long long)c.vision.patch_size,
              (long long)c.vision.hidden_size, (long long)c.vision.num_heads, (long long)c.vision_layers_to_run,
              (long long)c.vision.num_layers, (long long)c.vision_select_layer, activation_name(c.vision.activation));
  const ImageProcessorConfig& ip = c.image_processor;
  if (ip.resize == ImageProcessorConfig::Resize::kShortestEdgeCrop) {
    std::printf("image tokens: %lld per image (%s), shorter side resized to %lld, centre crop %lldx%lld, "
                "mean %.4g %.4g %.4g, std %.4g %.4g %.4g\n",
                (long long)m.tokens_per_image(), c.vision.keep_class_feature ? "class row kept" : "class row dropped",
                (long long)ip.shortest_edge, (long long)ip.crop_width, (long long)ip.crop_height, ip.mean[0], ip.mean[1],
                ip.mean[2], ip.std[0], ip.std[1], ip.std[2]);
  } else {
    std::printf("image tokens: %lld per image, %s\n", (long long)m.tokens_per_image(),
                c.image_aspect == ImageAspect::kPad ? "padded to a square first (image_aspect_ratio pad)"
                                                    : "squash-resized (image_aspect_ratio square)");
  }
  std::printf("language:     hidden %lld, %lld layers, %lld heads (%lld kv), head dim %lld, rotary %lld, mlp %lld, %s\n",
              (long long)c.text.hidden_size, (long long)c.text.num_layers, (long long)c.text.num_heads,
              (long long)c.text.num_kv_heads, (long long)c.text.head_dim(), (long long)c.text.rotary_dim,
              (long long)c.text.intermediate_size, activation_name(c.text.activation));
  if (engine->has_tokenizer()) {
    std::printf("vocabulary:   %lld (tokenizer %zu)\n", (long long)c.text.vocab_size, engine->tokenizer().vocab_size());
    std::printf("tokenizer:    %s\n", engine->tokenizer().describe().c_str());
    std::printf("chat format:  %s\n", engine->chat_template().name.c_str());
  } else {
    std::printf("vocabulary:   %lld (no tokenizer files: prompts as token ids, --prompt-ids)\n",
                (long long)c.text.vocab_size);
  }
  if (c.text.sliding_window > 0) {
    std::printf("context:      %lld positions (capped at sliding_window %lld: no position is ever masked)\n",
                (long long)c.text.max_positions, (long long)c.text.sliding_window);
  } else {
    std::printf("context:      %lld positions\n", (long long)c.text.max_positions);
  }
  std::printf("eos:         ");
  for (int32_t id : c.eos_token_ids) std::printf(" %d", id);
  std::printf("\n");
  if (!c.unrecognised_keys.empty()) {
    // Neither read nor known to be irrelevant: the README's config table says what each known key does.
    std::printf("config keys Lumen does not know (not used):");
    for (const std::string& key : c.unrecognised_keys) std::printf(" %s", key.c_str());
    std::printf("\n");
  }
  return 0;
}

}  // namespace lumen::cli
