// Conversation formats: how a list of turns becomes the prompt text a model was trained on.
// Imp-v1 uses LLaVA's "phi2" conversation (SeparatorStyle.TWO with sep " " and sep2 "</s>"):
//   "{system} USER: {msg} ASSISTANT: {reply}</s>USER: {msg} ASSISTANT:"
// Imp-v1.5's Phi-3 and Qwen1.5 models use their conversation.py's PHI3 / QWEN2 styles:
//   "<|system|>\n{system}<|end|>\n<|user|>\n{msg}<|end|>\n<|assistant|>\n"
//   "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{msg}<|im_end|>\n<|im_start|>assistant\n"
// and llava-hf's LLaVA-1.5 its chat_template (no system prompt):
//   "USER: <image>\n{msg} ASSISTANT: {reply} USER: {msg} ASSISTANT:"
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace lumen {

struct ChatTurn {
  enum class Role { kUser, kAssistant };
  Role role = Role::kUser;
  std::string text;
  int images = 0;  // images attached to a user turn; each becomes an <image> line before the text
};

struct ChatTemplate {
  enum class Style {
    kTwo,         // SeparatorStyle.TWO: "{system}{sep}" (left out when system is empty), then
                  // "{role}: {msg}" + sep after a user turn, + sep2 after an assistant turn
    kRoleTagged,  // PHI3 / QWEN2: "{system}{sep2}", then "{role}{msg}{sep2}"; roles carry their tags
    kPlain,       // "plain": turns concatenated, no roles
  };
  std::string name;           // "phi2", "vicuna_v1", "llava_v1", "phi3", "qwen2", "llava_hf", "plain"
  std::string system;         // system prompt
  std::string system_tag;     // kRoleTagged: before the system prompt ("<|system|>\n")
  std::string user_role = "USER";
  std::string assistant_role = "ASSISTANT";
  std::string sep = " ";      // kTwo: after the system prompt and after each user turn
  std::string sep2 = "</s>";  // after each finished assistant turn (kRoleTagged: after every part)
  Style style = Style::kTwo;

  // Renders the turns and, if the last turn is the user's, the assistant's opening. Throws
  // Error if roles do not alternate starting with the user, or an assistant turn has images.
  std::string render(const std::vector<ChatTurn>& turns, const std::string& image_token = "<image>") const;
};

// Imp-v1's own template ("phi2").
ChatTemplate imp_chat_template();
// A template by name; throws Error for an unknown name.
ChatTemplate chat_template_by_name(const std::string& name);
// The template each model family (ImpConfig::family) was trained with: imp -> phi2,
// imp_phi3 -> phi3, imp_qwen2 -> qwen2, llava -> llava_hf.
std::string default_chat_template_name(std::string_view family);
// The template a checkpoint names (config.json "conv_template" / "chat_template_name", or a
// template *name* in tokenizer_config.json "chat_template"); its family's when it names none.
ChatTemplate load_chat_template(const std::filesystem::path& model_dir, std::string_view family = "imp");

}  // namespace lumen
