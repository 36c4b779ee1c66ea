// A multi-turn conversation that keeps its KV cache between turns (what `lumen chat`, `ask`,
// `caption` and `eval` run). Each turn renders the whole conversation with the checkpoint's
// chat template, but prefills only the positions after the longest prefix of the new
// prompt the cache already holds: normally everything up to the previous reply, so a turn
// costs its own text (and images), not the history's.
//
// The cache lives in a DecoderRun with room for the model's whole context: on the CPU its
// pages are reserved, not resident, until used; on a GPU it is allocated at the first turn.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "lumen/runtime/decoder_run.h"
#include "lumen/runtime/engine.h"
#include "lumen/runtime/generator.h"
#include "lumen/text/chat_template.h"

namespace lumen {

// Whitespace trimmed from both ends: how a reply joins the history, and how commands print and
// compare replies.
std::string trim_whitespace(const std::string& text);

class ChatSession {
 public:
  // `engine` must outlive the session. `capacity`: the positions its cache holds (0: the model's
  // whole context); a one-turn session that knows its length (the caption embedder) sizes it
  // so, as a GPU allocates all of it at once. Throws Error if the checkpoint names an unknown
  // template.
  explicit ChatSession(const Engine& engine, int64_t capacity = 0);

  // Encodes images and attaches them to the next user turn (each becomes an <image> line
  // before its text). Throws Error; a failed call attaches nothing.
  void attach_images(std::span<const Image> images);
  // Attaches images encoded earlier (Engine::encode_images), in order.
  void attach_encoded(std::span<const ImageEmbedding> images);
  // Runs a user turn and records it and the reply (trimmed, as the CLI records it). Streams
  // through on_text when given. A turn that throws leaves the conversation as it was (its
  // images stay attached) and the next turn prefills from the start.
  GenerationResult send(const std::string& text, const GenerationOptions& options, const TextCallback& on_text = {});
  // Forgets every turn, image and cached position.
  void clear();

  const std::vector<ChatTurn>& turns() const { return turns_; }
  int pending_images() const { return pending_images_; }
  // Positions the cache holds now (the last prompt and the reply's tokens but its last).
  int64_t cached_positions() const { return run_ ? run_->length() : 0; }

 private:
  const Engine& engine_;
  int64_t capacity_;
  ChatTemplate template_;
  std::vector<ChatTurn> turns_;
  std::vector<ImageEmbedding> images_;  // every image of the conversation, in order (backend memory)
  int pending_images_ = 0;
  std::unique_ptr<DecoderRun> run_;   // made at the first turn
  std::vector<int32_t> cached_tokens_;  // the prompt units whose positions run_ holds, in order
};

}  // namespace lumen
