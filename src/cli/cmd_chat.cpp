// lumen chat: an interactive conversation; answers stream token by token.
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/conversation.h"

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
  model.add_to(parser);
  parser.repeated("--image", "-i", "IMG", "an image for the first message; repeatable", &images);
  sampling.add_to(parser);
  if (!parser.parse(argc, argv)) return 0;

  auto engine = model.load();
  Conversation conversation(*engine);
  for (const auto& path : images) conversation.attach_image(engine->load_image(path));
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
      std::string path = trim(line.substr(6));
      if (path.empty()) {
        std::fputs("lumen: usage: /image PATH\n", stderr);
        continue;
      }
      try {
        conversation.attach_image(engine->load_image(path));
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
      conversation.ask(line, options, stream_reply_to_stdout());
      std::fputc('\n', stdout);
      std::fflush(stdout);
    } catch (const Error& e) {
      // A failed turn (e.g. the context is full) leaves the conversation as it was.
      std::fprintf(stderr, "lumen: error: %s\n", e.what());
    }
  }
  return 0;
}

}  // namespace lumen::cli
