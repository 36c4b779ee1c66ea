// Fuzzes chat-template rendering: a template (by a fuzzed name, or one of the known ones), a
// list of turns with fuzzed roles, image counts and text, rendered and then tokenised with the
// bundled model's tokenizer. A rendered prompt must hold exactly one <image> token per
// "<image>" in its text, which is what the generator matches images against.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "lumen/core/error.h"
#include "lumen/text/bpe_tokenizer.h"
#include "lumen/text/chat_template.h"

namespace {

const lumen::BpeTokenizer& tokenizer() {
  static const lumen::BpeTokenizer t =
      lumen::BpeTokenizer::load(std::filesystem::path(LUMEN_SOURCE_DIR) / "models" / "imp-shapes");
  return t;
}

size_t count_substrings(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos; pos = text.find(needle, pos + needle.size())) ++n;
  return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  lumen::ChatTemplate chat;
  try {
    static const char* kNames[] = {"phi2", "imp", "imp_v1", "vicuna_v1", "llava_v1", "plain"};
    const uint8_t pick = in.ConsumeIntegral<uint8_t>();
    chat = lumen::chat_template_by_name(pick < 6 ? kNames[pick] : in.ConsumeRandomLengthString(32));
  } catch (const lumen::Error&) {
    chat = lumen::imp_chat_template();
  }
  if (in.ConsumeBool()) chat.system = in.ConsumeRandomLengthString(256);
  std::vector<lumen::ChatTurn> turns;
  const int n_turns = in.ConsumeIntegralInRange<int>(0, 8);
  for (int i = 0; i < n_turns; ++i) {
    lumen::ChatTurn turn;
    // Mostly alternating, as callers send them; sometimes out of order to reach the checks.
    const bool user = in.ConsumeIntegralInRange<int>(0, 9) == 0 ? in.ConsumeBool() : i % 2 == 0;
    turn.role = user ? lumen::ChatTurn::Role::kUser : lumen::ChatTurn::Role::kAssistant;
    turn.images = in.ConsumeIntegralInRange<int>(-1, 3);
    turn.text = in.ConsumeRandomLengthString(512);
    turns.push_back(std::move(turn));
  }
  std::string prompt;
  try {
    prompt = chat.render(turns);
  } catch (const lumen::Error&) {
    return 0;
  }
  const std::vector<int32_t> ids = tokenizer().encode(prompt);
  const auto image_id = tokenizer().token_id("<image>");
  if (!image_id) std::abort();
  size_t markers = 0;
  for (int32_t id : ids) markers += id == *image_id;
  if (markers != count_substrings(prompt, "<image>")) std::abort();
  return 0;
}
