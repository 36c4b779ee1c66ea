// lumen ask: one question about one or more images, answered with the chat template.
#include <cstdio>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/conversation.h"
#include "lumen/runtime/chat_session.h"
#include "cli/json_output.h"

namespace lumen::cli {

int run_ask(int argc, char** argv) {
  ModelOptions model;
  SamplingOptions sampling;
  std::vector<std::string> images;
  std::vector<std::string> question;
  bool json = false;
  ArgParser parser("ask", "lumen ask [-m DIR] -i IMG [-i IMG]... \"QUESTION\" [options]",
                   "Answer a question about the given images (or a text-only question without -i).");
  model.add_to(parser);
  parser.repeated("--image", "-i", "IMG", "a JPEG or PNG image; repeatable", &images);
  sampling.add_to(parser);
  parser.flag("--json", "", "print {\"answer\", \"tokens\", \"finish_reason\", \"timings\"} instead of streaming", &json);
  parser.positionals("QUESTION", "the question (several words are joined with spaces)", &question, 1);
  if (!parser.parse(argc, argv)) return 0;
  std::string text;
  for (const auto& word : question) text += (text.empty() ? "" : " ") + word;

  auto engine = model.load();
  // Decode every image before generating anything, so a bad file prints nothing but the error.
  std::vector<Image> loaded;
  for (const auto& path : images) loaded.push_back(engine->load_image(path));
  ChatSession conversation(*engine);
  conversation.attach_images(loaded);

  GenerationOptions options = sampling.to_generation_options();
  if (json) {
    GenerationResult r = conversation.send(text, options);
    print_json({{"answer", trim_whitespace(r.text)},
                {"tokens", r.tokens},
                {"finish_reason", r.finish_reason},
                {"timings", {{"image_encode_ms", r.timings.image_encode_ms}, {"prefill_ms", r.timings.prefill_ms},
                             {"decode_ms", r.timings.decode_ms}}}});
    return 0;
  }
  conversation.send(text, options, stream_reply_to_stdout());
  std::fputc('\n', stdout);
  return 0;
}

}  // namespace lumen::cli
