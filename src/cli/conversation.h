// Question answering on top of the generator: renders the checkpoint's chat template, caches
// encoded images, and runs one turn. Shared by ask, caption, chat and eval.
#pragma once

#include <string>
#include <vector>

#include "lumen/runtime/engine.h"
#include "lumen/runtime/generator.h"
#include "lumen/text/chat_template.h"

namespace lumen::cli {

class Conversation {
 public:
  explicit Conversation(const Engine& engine);

  // Attaches `count` already encoded images ([count * tokens_per_image, hidden]) to the next
  // user turn.
  void attach_images(const std::vector<float>& embeds, size_t count);
  void attach_image(const Image& image);
  // Runs a user turn and records the reply. Streams through on_text when given.
  GenerationResult ask(const std::string& question, const GenerationOptions& options,
                       const TextCallback& on_text = {});
  void clear();
  int pending_images() const { return pending_images_; }

 private:
  const Engine& engine_;
  ChatTemplate template_;
  std::vector<ChatTurn> turns_;
  std::vector<float> image_embeds_;  // every image of the conversation, in order
  size_t images_ = 0;
  int pending_images_ = 0;
};

// A TextCallback that writes a reply to stdout as it streams, without the leading space the
// template leaves after "ASSISTANT:".
TextCallback stream_reply_to_stdout();

// Whitespace trimmed from both ends (eval compares answers this way).
std::string trim(const std::string& text);

}  // namespace lumen::cli
