// TokenLoop: the token-by-token logic of one sequence, the only copy of it. From each row of
// logits it samples a token (the sequence's own Sampler, with the prompt and the reply so far
// as the repetition penalty's history), stops at eos, a stop string or the token budget, keeps
// special tokens out of the text, and hands out text pieces only once they are final: whole
// UTF-8 characters, never bytes that might begin a stop string.
//
// It runs no forward pass: its driver does. The generator (runtime/generator.cpp) feeds one
// sequence through a DecoderRun; the scheduler (runtime/scheduler.cpp) feeds many through one
// batched decode step. Both go through step(), so a greedy request gets the same reply, split
// into the same pieces, alone or batched.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lumen/runtime/engine.h"
#include "lumen/runtime/generator.h"
#include "lumen/runtime/sampler.h"
#include "lumen/runtime/stop_strings.h"

namespace lumen {

class TokenLoop {
 public:
  enum class Next {
    kFeed,      // feed token() through the decoder, then step() with the logits it gives
    kFinished,  // the sequence is over; finish_reason() says why
  };

  // `engine` and `options` (sampling, stop, ignore_eos, on_token) must outlive the loop.
  // `prompt_tokens` start the repetition penalty's history. `budget` is how many tokens may be
  // sampled; with none the loop is finished at once ("length"). Throws Error for invalid
  // sampling parameters.
  TokenLoop(const Engine& engine, const GenerationOptions& options, std::span<const int32_t> prompt_tokens,
            int64_t budget);

  // Samples the next token from `logits` [vocab] (modified in place: penalty, temperature),
  // calls options.on_token with it, and advances the text. Newly final text goes to `on_text`
  // when given: a piece per step while running, then whatever was held back when the sequence
  // ends by eos, a stop string or the budget. on_text returning false cancels the sequence
  // ("cancelled"; nothing more is handed out). Must not be called once finished.
  Next step(std::span<float> logits, const TextCallback& on_text = {});

  // Ends the sequence from outside (its client went away): "cancelled", no more text.
  void cancel();

  bool finished() const { return !finish_reason_.empty(); }
  // "stop" (eos or a stop string), "length" (the budget) or "cancelled"; empty while running.
  const std::string& finish_reason() const { return finish_reason_; }
  // The last sampled token: the one to feed after kFeed.
  int32_t token() const { return history_.back(); }
  // Every sampled token, a final eos included.
  std::span<const int32_t> tokens() const { return std::span<const int32_t>(history_).subspan(prompt_size_); }
  int64_t sampled() const { return static_cast<int64_t>(history_.size() - prompt_size_); }
  // The reply so far, without special tokens, cut before a stop string.
  const std::string& text() const { return text_; }
  std::string take_text() { return std::move(text_); }

 private:
  Next finish(const char* reason, const TextCallback& on_text);

  const Engine& engine_;
  const GenerationOptions& options_;
  Sampler sampler_;
  StopStringMatcher stops_;
  std::vector<int32_t> history_;  // prompt and sampled tokens
  size_t prompt_size_;
  int64_t budget_;
  std::string text_;
  size_t emitted_ = 0;  // bytes of text_ already handed to on_text
  std::string finish_reason_;
};

}  // namespace lumen
