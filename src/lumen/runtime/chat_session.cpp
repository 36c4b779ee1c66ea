#include "lumen/runtime/chat_session.h"

#include <algorithm>

#include "lumen/core/error.h"

namespace lumen {

std::string trim_whitespace(const std::string& text) {
  const char* ws = " \t\r\n";
  const size_t begin = text.find_first_not_of(ws);
  if (begin == std::string::npos) return "";
  return text.substr(begin, text.find_last_not_of(ws) - begin + 1);
}

ChatSession::ChatSession(const Engine& engine, int64_t capacity)
    : engine_(engine),
      capacity_(capacity > 0 ? std::min(capacity, engine.model().config().text.max_positions)
                             : engine.model().config().text.max_positions),
      template_(engine.chat_template()) {}

void ChatSession::attach_images(std::span<const Image> images) {
  if (images.empty()) return;
  attach_encoded(engine_.encode_images(images));
}

void ChatSession::attach_encoded(std::span<const ImageEmbedding> images) {
  images_.insert(images_.end(), images.begin(), images.end());
  pending_images_ += static_cast<int>(images.size());
}

GenerationResult ChatSession::send(const std::string& text, const GenerationOptions& options,
                                   const TextCallback& on_text) {
  std::vector<ChatTurn> turns = turns_;
  turns.push_back({ChatTurn::Role::kUser, text, pending_images_});
  std::vector<int32_t> tokens = engine_.encode_prompt(template_.render(turns));
  // Image markers match only themselves, and the k-th marker of every prompt of this session is
  // its k-th image, so a common token prefix is a common prefix of positions. At least one
  // token is left to prefill: its logits start the reply.
  size_t common = static_cast<size_t>(
      std::mismatch(cached_tokens_.begin(), cached_tokens_.end(), tokens.begin(), tokens.end()).first -
      cached_tokens_.begin());
  if (common > 0 && common == tokens.size()) --common;
  if (!run_) run_ = std::make_unique<DecoderRun>(engine_, capacity_);

  GenerationResult result;
  try {
    result = generate_continuing(engine_, *run_, tokens, common, images_, options, on_text);
  } catch (...) {
    // The cache may hold part of this turn; start the next one from scratch.
    cached_tokens_.clear();
    run_->truncate(0);
    throw;
  }
  // The decoder holds the prompt and every reply token but the last (decode_reply's contract).
  cached_tokens_ = std::move(tokens);
  if (!result.tokens.empty()) cached_tokens_.insert(cached_tokens_.end(), result.tokens.begin(), result.tokens.end() - 1);
  turns.push_back({ChatTurn::Role::kAssistant, trim_whitespace(result.text), 0});
  turns_ = std::move(turns);
  pending_images_ = 0;
  return result;
}

void ChatSession::clear() {
  turns_.clear();
  images_.clear();
  pending_images_ = 0;
  cached_tokens_.clear();
  if (run_) run_->truncate(0);
}

}  // namespace lumen
