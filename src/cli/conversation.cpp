#include "cli/conversation.h"

#include <cstdio>
#include <memory>

namespace lumen::cli {

Conversation::Conversation(const Engine& engine) : engine_(engine), template_(load_chat_template(engine.dir())) {}

void Conversation::attach_images(const std::vector<float>& embeds, size_t count) {
  image_embeds_.insert(image_embeds_.end(), embeds.begin(), embeds.end());
  images_ += count;
  pending_images_ += static_cast<int>(count);
}

void Conversation::attach_image(const Image& image) { attach_images(engine_.encode_images({&image, 1}), 1); }

GenerationResult Conversation::ask(const std::string& question, const GenerationOptions& options,
                                   const TextCallback& on_text) {
  std::vector<ChatTurn> turns = turns_;
  turns.push_back({ChatTurn::Role::kUser, question, pending_images_});
  std::string prompt = template_.render(turns);
  GenerationResult result = generate_from_embeddings(engine_, engine_.tokenizer().encode(prompt), image_embeds_,
                                                     images_, options, on_text);
  // Only a completed turn joins the history, so a failed turn loses nothing.
  turns.push_back({ChatTurn::Role::kAssistant, trim(result.text), 0});
  turns_ = std::move(turns);
  pending_images_ = 0;
  return result;
}

void Conversation::clear() {
  turns_.clear();
  image_embeds_.clear();
  images_ = 0;
  pending_images_ = 0;
}

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

std::string trim(const std::string& text) {
  const char* ws = " \t\r\n";
  size_t begin = text.find_first_not_of(ws);
  if (begin == std::string::npos) return "";
  size_t end = text.find_last_not_of(ws);
  return text.substr(begin, end - begin + 1);
}

}  // namespace lumen::cli
