// Conversation formats: how a list of turns becomes the prompt text a model was trained on.
// Imp uses LLaVA's "phi2" conversation (SeparatorStyle.TWO with sep " " and sep2 "</s>"):
//   "{system} USER: {msg} ASSISTANT: {reply}</s>USER: {msg} ASSISTANT:"
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace lumen {

struct ChatTurn {
  enum class Role { kUser, kAssistant };
  Role role = Role::kUser;
  std::string text;
  int images = 0;  // images attached to a user turn; each becomes an <image> line before the text
};

struct ChatTemplate {
  std::string name;           // "phi2", "vicuna_v1", "llava_v1", "plain"
  std::string system;         // system prompt
  std::string user_role = "USER";
  std::string assistant_role = "ASSISTANT";
  std::string sep = " ";      // after the system prompt and after each user turn
  std::string sep2 = "</s>";  // after each finished assistant turn
  bool plain = false;         // "plain": turns concatenated, no roles

  // Renders the turns and, if the last turn is the user's, the assistant's opening. Throws
  // Error if roles do not alternate starting with the user, or an assistant turn has images.
  std::string render(const std::vector<ChatTurn>& turns, const std::string& image_token = "<image>") const;
};

// Imp's own template ("phi2").
ChatTemplate imp_chat_template();
// A template by name; throws Error for an unknown name.
ChatTemplate chat_template_by_name(const std::string& name);
// The template a checkpoint names (config.json "conv_template" / "chat_template_name", or a
// template *name* in tokenizer_config.json "chat_template"); Imp's when it names none.
ChatTemplate load_chat_template(const std::filesystem::path& model_dir);

}  // namespace lumen
