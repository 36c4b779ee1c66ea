// The `lumen` command: dispatches to a subcommand and turns errors into one line on stderr
// and a non-zero exit status (1 for errors, 2 for bad usage).
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>

#include "cli/args.h"
#include "cli/commands.h"
#include "lumen/core/error.h"

namespace {

struct Command {
  const char* name;
  const char* summary;
  int (*run)(int, char**);
};

constexpr Command kCommands[] = {
    {"ask", "answer a question about an image", lumen::cli::run_ask},
    {"caption", "caption images or folders of images", lumen::cli::run_caption},
    {"chat", "chat interactively, with images", lumen::cli::run_chat},
    {"eval", "measure accuracy on a questions.jsonl file", lumen::cli::run_eval},
    {"generate", "generate from a raw prompt with <image> markers", lumen::cli::run_generate},
    {"tokenize", "show the token ids of a text", lumen::cli::run_tokenize},
    {"info", "describe a checkpoint", lumen::cli::run_info},
    {"embed", "joint image/text embeddings", lumen::cli::run_embed},
    {"index", "build, merge or change a search index over a catalog", lumen::cli::run_index},
    {"search", "search an index by text or image", lumen::cli::run_search},
    {"recommend", "recommend index items from liked/disliked ones", lumen::cli::run_recommend},
    {"serve", "serve an OpenAI-compatible HTTP API", lumen::cli::run_serve},
    {"bench", "measure speed on Imp-v1-3B shapes, CPU or GPU (random weights)", lumen::cli::run_bench},
    {"quantize", "write a checkpoint in another weight format", lumen::cli::run_quantize},
};

void print_usage(FILE* out) {
  std::fprintf(out,
               "usage: lumen COMMAND [options]\n\n"
               "Lumen runs small vision-language models (MILVLG Imp) locally.\n\ncommands:\n");
  for (const auto& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
  std::fprintf(out, "\nRun 'lumen COMMAND --help' for a command's options.\n");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    print_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  if (std::strcmp(argv[1], "--version") == 0) {
    std::printf("lumen 0.1.0\n");
    return 0;
  }
  for (const auto& command : kCommands) {
    if (std::strcmp(argv[1], command.name) != 0) continue;
    try {
      return command.run(argc, argv);
    } catch (const lumen::cli::UsageError& e) {
      std::fprintf(stderr, "lumen %s: %s\n", command.name, e.what());
      return 2;
    } catch (const lumen::Error& e) {
      std::fprintf(stderr, "lumen: error: %s\n", e.what());
      return 1;
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "lumen: error: out of memory\n");
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "lumen: internal error: %s\n", e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "lumen: unknown command '%s'\n\n", argv[1]);
  print_usage(stderr);
  return 2;
}
