// `lumen` for the slim GPU-check build (scripts/gpu-check/CMakeLists.txt): only the commands a
// GPU check needs, so it builds without the server and retrieval dependencies.
#include <cstdio>
#include <cstring>
#include <exception>

#include "cli/args.h"
#include "cli/commands.h"
#include "lumen/core/error.h"

int main(int argc, char** argv) {
  struct Command {
    const char* name;
    int (*run)(int, char**);
  };
  const Command commands[] = {{"ask", lumen::cli::run_ask},
                              {"generate", lumen::cli::run_generate},
                              {"bench", lumen::cli::run_bench}};
  if (argc < 2) {
    std::fprintf(stderr, "usage: lumen ask|generate|bench [options]\n");
    return 2;
  }
  for (const Command& c : commands) {
    if (std::strcmp(argv[1], c.name) != 0) continue;
    try {
      return c.run(argc, argv);
    } catch (const lumen::cli::UsageError& e) {
      std::fprintf(stderr, "lumen %s: %s\n", c.name, e.what());
      return 2;
    } catch (const lumen::Error& e) {
      std::fprintf(stderr, "lumen: error: %s\n", e.what());
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "lumen: internal error: %s\n", e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "lumen: unknown command '%s'\n", argv[1]);
  return 2;
}
