#include "lumen/runtime/sequence.h"

#include <algorithm>
#include <string_view>

namespace lumen {

namespace {
const SamplingParams& validated(const SamplingParams& params) {
  params.validate();
  return params;
}
}  // namespace

TokenLoop::TokenLoop(const Engine& engine, const GenerationOptions& options, std::span<const int32_t> prompt_tokens,
                     int64_t budget)
    : engine_(engine),
      options_(options),
      sampler_(validated(options.sampling)),
      stops_(options.stop),
      history_(prompt_tokens.begin(), prompt_tokens.end()),
      prompt_size_(prompt_tokens.size()),
      budget_(budget) {
  if (budget_ <= 0) finish_reason_ = "length";  // the prompt fills the context, or max_new_tokens is 0
}

TokenLoop::Next TokenLoop::step(std::span<float> logits, const TextCallback& on_text) {
  const ImpConfig& config = engine_.model().config();
  const int32_t token = sampler_.sample(logits, history_);
  if (options_.on_token) options_.on_token(token, logits);
  history_.push_back(token);
  const bool is_eos =
      std::find(config.eos_token_ids.begin(), config.eos_token_ids.end(), token) != config.eos_token_ids.end();
  if (is_eos && !options_.ignore_eos) return finish("stop", on_text);
  // Special tokens never reach the text (HF's decode(skip_special_tokens=True), as Imp's
  // model card decodes); one that does not end the reply is dropped and the reply goes on.
  // Without a tokenizer (a model given token ids) the reply is its tokens only.
  if (!is_eos && engine_.has_tokenizer() && !engine_.tokenizer().is_special(token)) {
    text_ += engine_.tokenizer().token_bytes(token);
  }
  const size_t stop_at = stops_.find_stop(text_);
  if (stop_at != std::string::npos) {
    text_.resize(stop_at);
    return finish("stop", on_text);
  }
  if (on_text) {
    const size_t safe = std::min(complete_utf8_prefix(text_), stops_.safe_prefix(text_));
    if (safe > emitted_) {
      if (!on_text(std::string_view(text_).substr(emitted_, safe - emitted_))) {
        cancel();
        return Next::kFinished;
      }
      emitted_ = safe;
    }
  }
  if (sampled() == budget_) return finish("length", on_text);
  return Next::kFeed;
}

void TokenLoop::cancel() { finish_reason_ = "cancelled"; }

TokenLoop::Next TokenLoop::finish(const char* reason, const TextCallback& on_text) {
  finish_reason_ = reason;
  // What was held back (a partial character, a possible stop-string start) is final now.
  if (on_text && emitted_ < text_.size()) on_text(std::string_view(text_).substr(emitted_));
  emitted_ = text_.size();
  return Next::kFinished;
}

}  // namespace lumen
