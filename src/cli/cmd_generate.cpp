// lumen generate: the raw layer. The prompt is used verbatim (no chat template) and each
// <image> marker takes the next -i image.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/json_output.h"

namespace lumen::cli {

int run_generate(int argc, char** argv) {
  ModelOptions model;
  SamplingOptions sampling;
  std::string prompt;
  std::vector<std::string> images;
  bool json = false;
  ArgParser parser("generate", "lumen generate [-m DIR] --raw-prompt TEXT [-i IMG]... [options]",
                   "Generate a continuation of TEXT, used verbatim: no chat template is applied. Each <image> in\n"
                   "TEXT is replaced by the next -i image's embeddings.");
  model.add_to(parser);
  parser.option("--raw-prompt", "-p", "TEXT", "the prompt, verbatim (required)", &prompt);
  parser.repeated("--image", "-i", "IMG", "an image (JPEG or PNG) for the next <image> marker; repeatable", &images);
  sampling.add_to(parser, /*with_ignore_eos=*/true);
  parser.flag("--json", "", "print one JSON object: prompt_tokens, tokens, text, finish_reason, timings", &json);
  if (!parser.parse(argc, argv)) return 0;
  if (!parser.was_set("--raw-prompt")) throw UsageError("--raw-prompt is required (see lumen generate --help)");

  auto engine = model.load();
  std::vector<Image> loaded;
  for (const auto& path : images) loaded.push_back(engine->load_image(path));
  GenerationOptions options = sampling.to_generation_options();

  if (json) {
    GenerationResult result = generate(*engine, prompt, loaded, options);
    const auto& t = result.timings;
    nlohmann::json out = {
        {"prompt_tokens", result.prompt_tokens},
        {"tokens", result.tokens},
        {"text", result.text},
        {"finish_reason", result.finish_reason},
        {"timings",
         {{"image_encode_ms", t.image_encode_ms},
          {"prefill_ms", t.prefill_ms},
          {"decode_ms", t.decode_ms},
          {"prompt_positions", t.prompt_positions},
          {"decode_tokens_per_s", t.decode_ms > 0 ? 1000.0 * static_cast<double>(result.tokens.size()) / t.decode_ms : 0.0}}}};
    print_json(out);
    return 0;
  }
  generate(*engine, prompt, loaded, options, [](std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  std::fputc('\n', stdout);
  return 0;
}

}  // namespace lumen::cli
