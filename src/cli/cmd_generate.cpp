// lumen generate: the raw layer. The prompt is used verbatim (no chat template) and each
// <image> marker takes the next -i image. --prompt-ids gives the prompt as token ids instead
// (models without tokenizer files, exact reproduction of a reference's ids).
#include <charconv>
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/json_output.h"

namespace lumen::cli {

namespace {

// "1,2,3" -> {1, 2, 3}; anything else is a usage error naming the bad item.
std::vector<int32_t> parse_token_ids(const std::string& text) {
  std::vector<int32_t> ids;
  size_t begin = 0;
  while (begin <= text.size()) {
    const size_t end = std::min(text.find(',', begin), text.size());
    const std::string item = text.substr(begin, end - begin);
    int32_t id = -1;
    auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), id);
    if (item.empty() || ec != std::errc() || ptr != item.data() + item.size() || id < 0) {
      throw UsageError("--prompt-ids: '" + item + "' is not a token id (expected comma-separated ids, e.g. 1,2,3)");
    }
    ids.push_back(id);
    begin = end + 1;
  }
  return ids;
}

}  // namespace

int run_generate(int argc, char** argv) {
  ModelOptions model;
  SamplingOptions sampling;
  std::string prompt, prompt_ids;
  std::vector<std::string> images;
  bool json = false;
  ArgParser parser("generate", "lumen generate [-m DIR] (--raw-prompt TEXT | --prompt-ids IDS) [-i IMG]... [options]",
                   "Generate a continuation of TEXT, used verbatim: no chat template is applied. Each <image> in\n"
                   "TEXT is replaced by the next -i image's embeddings. With --prompt-ids the prompt is token ids\n"
                   "and the model's image token id marks each -i image (for LLaVA either once per image or\n"
                   "repeated once per image feature, as its processor expands it); a model without tokenizer\n"
                   "files prints the generated ids.");
  model.add_to(parser);
  parser.option("--raw-prompt", "-p", "TEXT", "the prompt, verbatim", &prompt);
  parser.option("--prompt-ids", "", "IDS", "the prompt as comma-separated token ids, e.g. 1,2,3", &prompt_ids);
  parser.repeated("--image", "-i", "IMG", "an image (JPEG or PNG) for the next <image> marker; repeatable", &images);
  sampling.add_to(parser, /*with_ignore_eos=*/true);
  parser.flag("--json", "", "print one JSON object: prompt_tokens, tokens, text, finish_reason, timings", &json);
  if (!parser.parse(argc, argv)) return 0;
  const bool by_ids = parser.was_set("--prompt-ids");
  if (by_ids == parser.was_set("--raw-prompt")) {
    throw UsageError("give exactly one of --raw-prompt and --prompt-ids (see lumen generate --help)");
  }
  const std::vector<int32_t> ids = by_ids ? parse_token_ids(prompt_ids) : std::vector<int32_t>{};

  auto engine = model.load();
  std::vector<Image> loaded;
  for (const auto& path : images) loaded.push_back(engine->load_image(path));
  GenerationOptions options = sampling.to_generation_options();
  auto run = [&](const TextCallback& on_text) {
    return by_ids ? generate(*engine, ids, loaded, options, on_text) : generate(*engine, prompt, loaded, options, on_text);
  };

  if (json) {
    GenerationResult result = run({});
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
  GenerationResult result = run([](std::string_view piece) {
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    return true;
  });
  if (!engine->has_tokenizer()) {  // no text to print: the ids, comma-separated as they came in
    for (size_t i = 0; i < result.tokens.size(); ++i) std::printf("%s%d", i > 0 ? "," : "", result.tokens[i]);
  }
  std::fputc('\n', stdout);
  return 0;
}

}  // namespace lumen::cli
