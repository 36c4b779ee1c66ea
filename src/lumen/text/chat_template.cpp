#include "lumen/text/chat_template.h"

#include <nlohmann/json.hpp>

#include "lumen/core/error.h"
#include "lumen/core/mapped_file.h"

namespace lumen {

namespace {
// conv_phi2 and conv_vicuna_v1 in Imp's (and LLaVA's) conversation.py.
constexpr const char* kLlavaSystem =
    "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
    "detailed, and polite answers to the user's questions.";
// conv_llava_v1 there: the same conversation with "human" for "user".
constexpr const char* kLlavaV1System =
    "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, "
    "detailed, and polite answers to the human's questions.";
}

ChatTemplate imp_chat_template() {
  ChatTemplate t;
  t.name = "phi2";
  t.system = kLlavaSystem;
  return t;
}

ChatTemplate chat_template_by_name(const std::string& name) {
  if (name == "phi2" || name == "imp" || name == "imp_v1") return imp_chat_template();
  if (name == "vicuna_v1" || name == "llava_v1") {
    ChatTemplate t = imp_chat_template();
    t.name = name;
    // Both are SeparatorStyle.TWO with sep " " and sep2 "</s>", like phi2: set, not inherited.
    t.sep = " ";
    t.sep2 = "</s>";
    if (name == "llava_v1") t.system = kLlavaV1System;
    return t;
  }
  if (name == "phi3" || name == "qwen2") {  // conv_phi3 / conv_qwen2 in Imp's conversation.py
    const bool phi3 = name == "phi3";
    ChatTemplate t;
    t.name = name;
    t.style = ChatTemplate::Style::kRoleTagged;
    t.system_tag = phi3 ? "<|system|>\n" : "<|im_start|>system\n";
    t.system = kLlavaSystem;
    t.user_role = phi3 ? "\n<|user|>\n" : "\n<|im_start|>user\n";
    t.assistant_role = phi3 ? "\n<|assistant|>\n" : "\n<|im_start|>assistant\n";
    t.sep = "";
    t.sep2 = phi3 ? "<|end|>" : "<|im_end|>";
    return t;
  }
  if (name == "llava_hf") {  // llava-hf/llava-1.5-*-hf's chat_template
    ChatTemplate t;
    t.name = name;
    t.sep = " ";
    t.sep2 = " ";
    return t;
  }
  if (name == "plain") {
    ChatTemplate t;
    t.name = "plain";
    t.style = ChatTemplate::Style::kPlain;
    t.sep = "\n";
    t.sep2 = "\n";
    return t;
  }
  fail("unknown chat template '", name, "' (known: phi2, vicuna_v1, llava_v1, phi3, qwen2, llava_hf, plain)");
}

std::string default_chat_template_name(std::string_view family) {
  if (family == "imp_phi3") return "phi3";
  if (family == "imp_qwen2") return "qwen2";
  if (family == "llava") return "llava_hf";
  return "phi2";
}

std::string ChatTemplate::render(const std::vector<ChatTurn>& turns, const std::string& image_token) const {
  const bool plain = style == Style::kPlain;
  std::string out;
  if (style == Style::kRoleTagged) {
    out = system_tag + system + sep2;
  } else if (style == Style::kTwo && !system.empty()) {
    out = system + sep;
  }
  for (size_t i = 0; i < turns.size(); ++i) {
    const ChatTurn& turn = turns[i];
    const bool expect_user = i % 2 == 0;
    if ((turn.role == ChatTurn::Role::kUser) != expect_user) {
      fail("chat turns must alternate user, assistant, user, ... (turn ", i + 1, " is out of order)");
    }
    if (turn.role == ChatTurn::Role::kAssistant && turn.images > 0) fail("only user turns can carry images");
    if (turn.images < 0) fail("negative image count");
    std::string text;
    for (int k = 0; k < turn.images; ++k) text += image_token + "\n";
    text += turn.text;
    if (plain) {
      out += text + (turn.role == ChatTurn::Role::kUser ? sep : sep2);
      continue;
    }
    if (style == Style::kRoleTagged) {
      out += (turn.role == ChatTurn::Role::kUser ? user_role : assistant_role) + text + sep2;
      continue;
    }
    if (turn.role == ChatTurn::Role::kUser) {
      out += user_role + ": " + text + sep;
    } else {
      out += assistant_role + ": " + text + sep2;
    }
  }
  if (!turns.empty() && turns.back().role == ChatTurn::Role::kUser && !plain) {
    out += style == Style::kRoleTagged ? assistant_role : assistant_role + ":";
  }
  return out;
}

ChatTemplate load_chat_template(const std::filesystem::path& model_dir, std::string_view family) {
  auto named_in = [&](const char* file, std::initializer_list<const char*> keys) -> std::string {
    std::error_code ec;
    auto path = model_dir / file;
    if (!std::filesystem::exists(path, ec)) return "";
    auto j = nlohmann::json::parse(read_text_file(path, 16u << 20), nullptr, false);
    if (j.is_discarded() || !j.is_object()) return "";
    for (const char* key : keys) {
      auto it = j.find(key);
      // A short identifier names a template; a Jinja body (with "{%") is not a name.
      if (it != j.end() && it->is_string() && it->get<std::string>().find('{') == std::string::npos &&
          it->get<std::string>().size() < 64) {
        return it->get<std::string>();
      }
    }
    return "";
  };
  std::string name = named_in("config.json", {"conv_template", "chat_template_name", "conversation_template"});
  if (name.empty()) name = named_in("tokenizer_config.json", {"chat_template"});
  return chat_template_by_name(name.empty() ? default_chat_template_name(family) : name);
}

}  // namespace lumen
