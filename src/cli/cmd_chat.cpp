// lumen chat: an interactive conversation; answers stream token by token.
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/conversation.h"
#include "lumen/core/error.h"
#include "lumen/runtime/chat_session.h"

namespace lumen::cli {

namespace {
constexpr const char* kChatHelp =
    "commands: /image PATH  attach an image to your next message\n"
    "          /clear       start a new conversation\n"
    "          /quit        leave (or Ctrl-D)\n";
}

int run_chat(int argc, char** argv) {
  ModelOptions model;
  SamplingOptions sampling;
  std::vector<std::string> images;
  ArgParser parser("chat", "lumen chat [-m DIR] [-i IMG] [options]",
                   "Chat with the model. Type a message and press Enter.\n" + std::string(kChatHelp));
  bool verbose = false;
  model.add_to(parser);
  parser.repeated("--image", "-i", "IMG", "an image for the first message; repeatable", &images);
  sampling.add_to(parser);
  parser.flag("--verbose", "-v", "after each reply, print to stderr how many prompt positions were prefilled\n"
              "and how many were reused from the earlier turns' cache", &verbose);
  if (!parser.parse(argc, argv)) return 0;

  auto engine = model.load();
  // The session keeps its KV cache across turns: a turn prefills only what follows the last reply.
  ChatSession conversation(*engine);
  for (const auto& path : images) {
    const Image image = engine->load_image(path);
    conversation.attach_images({&image, 1});
  }
  const bool interactive = stderr_is_terminal();
  if (interactive) std::fprintf(stderr, "lumen chat: model %s\n%s", model.resolved_dir().c_str(), kChatHelp);
  GenerationOptions options = sampling.to_generation_options();

  std::string line;
  while (true) {
    if (interactive) std::fputs("> ", stderr);
    if (!std::getline(std::cin, line)) break;
    if (line.empty()) continue;
    if (line == "/quit" || line == "/exit") break;
    if (line == "/clear") {
      conversation.clear();
      std::fputs("(conversation cleared)\n", stderr);
      continue;
    }
    if (line.rfind("/image", 0) == 0) {
      std::string path = trim_whitespace(line.substr(6));
      if (path.empty()) {
        std::fputs("lumen: usage: /image PATH\n", stderr);
        continue;
      }
      try {
        const Image image = engine->load_image(path);
        conversation.attach_images({&image, 1});
        std::fprintf(stderr, "(image attached: %s)\n", path.c_str());
      } catch (const Error& e) {
        std::fprintf(stderr, "lumen: error: %s\n", e.what());
      }
      continue;
    }
    if (line[0] == '/') {
      std::fprintf(stderr, "lumen: unknown command %s\n%s", line.c_str(), kChatHelp);
      continue;
    }
    try {
      const GenerationResult r = conversation.send(line, options, stream_reply_to_stdout());
      std::fputc('\n', stdout);
      std::fflush(stdout);
      if (verbose) {
        const int64_t total = r.timings.prompt_positions, cached = r.timings.cached_positions;
        std::fprintf(stderr, "lumen: prefilled %lld of %lld prompt positions (%lld reused), %zu tokens generated\n",
                     static_cast<long long>(total - cached), static_cast<long long>(total),
                     static_cast<long long>(cached), r.tokens.size());
      }
    } catch (const Error& e) {
      // A failed turn (e.g. the context is full) leaves the conversation as it was.
      std::fprintf(stderr, "lumen: error: %s\n", e.what());
    }
  }
  return 0;
}

}  // namespace lumen::cli
