#include "cli/conversation.h"

#include <cstdio>
#include <memory>

namespace lumen::cli {

TextCallback stream_reply_to_stdout() {
  auto started = std::make_shared<bool>(false);
  return [started](std::string_view piece) {
    if (!*started) {
      size_t skip = piece.find_first_not_of(' ');
      if (skip == std::string_view::npos) return true;
      piece.remove_prefix(skip);
      *started = true;
    }
    std::fwrite(piece.data(), 1, piece.size(), stdout);
    std::fflush(stdout);
    return true;
  };
}

}  // namespace lumen::cli
