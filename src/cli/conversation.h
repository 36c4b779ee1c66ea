// Helpers for commands that print a model's replies (ask, chat, caption, eval). The turns
// themselves run in lumen::ChatSession (runtime/chat_session.h).
#pragma once

#include <string>

#include "lumen/runtime/chat_session.h"  // trim_whitespace
#include "lumen/runtime/generator.h"

namespace lumen::cli {

// A TextCallback that writes a reply to stdout as it streams, without the leading space the
// template leaves after "ASSISTANT:".
TextCallback stream_reply_to_stdout();

}  // namespace lumen::cli
