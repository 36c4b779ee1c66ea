// Conversation templates by name: the system text and separators each one renders.
#include "lumen/text/chat_template.h"

#include <gtest/gtest.h>

#include "lumen/core/error.h"

namespace lumen {
namespace {

const std::vector<ChatTurn> kOneQuestion = {{ChatTurn::Role::kUser, "What is it?", 1}};

TEST(ChatTemplate, ImpPhi2AndVicunaSpeakOfAUser) {
  const std::string user_system =
      "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
      "detailed, and polite answers to the user's questions.";
  for (const char* name : {"phi2", "vicuna_v1"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(chat_template_by_name(name).render(kOneQuestion),
              user_system + " USER: <image>\nWhat is it? ASSISTANT:");
  }
}

// conv_llava_v1 in Imp's and LLaVA's conversation.py says "human", not "user".
TEST(ChatTemplate, LlavaV1SpeaksOfAHuman) {
  const ChatTemplate t = chat_template_by_name("llava_v1");
  EXPECT_EQ(t.name, "llava_v1");
  EXPECT_EQ(t.render({{ChatTurn::Role::kUser, "Hi", 0}, {ChatTurn::Role::kAssistant, "Hello.", 0},
                      {ChatTurn::Role::kUser, "Again?", 0}}),
            "A chat between a curious human and an artificial intelligence assistant. The assistant gives helpful, "
            "detailed, and polite answers to the human's questions. USER: Hi ASSISTANT: Hello.</s>USER: Again? "
            "ASSISTANT:");
}

const std::vector<ChatTurn> kTwoRounds = {{ChatTurn::Role::kUser, "What is it?", 1},
                                          {ChatTurn::Role::kAssistant, "A circle.", 0},
                                          {ChatTurn::Role::kUser, "Colour?", 0}};
const std::string kUserSystem =
    "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, "
    "detailed, and polite answers to the user's questions.";

// conv_phi3 and conv_qwen2 (SeparatorStyle.PHI3 / QWEN2) in Imp's conversation.py, rendered by
// its get_prompt() for the same conversation.
TEST(ChatTemplate, ImpPhi3AndQwen2TagEachRole) {
  EXPECT_EQ(chat_template_by_name("phi3").render(kTwoRounds),
            "<|system|>\n" + kUserSystem +
                "<|end|>\n<|user|>\n<image>\nWhat is it?<|end|>\n<|assistant|>\nA circle.<|end|>\n<|user|>\n"
                "Colour?<|end|>\n<|assistant|>\n");
  EXPECT_EQ(chat_template_by_name("qwen2").render(kOneQuestion),
            "<|im_start|>system\n" + kUserSystem +
                "<|im_end|>\n<|im_start|>user\n<image>\nWhat is it?<|im_end|>\n<|im_start|>assistant\n");
  // A system prompt of the caller's keeps the role tag.
  ChatTemplate t = chat_template_by_name("qwen2");
  t.system = "Be brief.";
  EXPECT_EQ(t.render({{ChatTurn::Role::kUser, "Hi", 0}}),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
}

// llava-hf/llava-1.5-7b-hf's chat_template with add_generation_prompt: no system prompt.
TEST(ChatTemplate, LlavaHfHasNoSystemPrompt) {
  EXPECT_EQ(chat_template_by_name("llava_hf").render(kTwoRounds),
            "USER: <image>\nWhat is it? ASSISTANT: A circle. USER: Colour? ASSISTANT:");
}

TEST(ChatTemplate, EachFamilyHasItsDefault) {
  EXPECT_EQ(default_chat_template_name("imp"), "phi2");
  EXPECT_EQ(default_chat_template_name("imp_phi3"), "phi3");
  EXPECT_EQ(default_chat_template_name("imp_qwen2"), "qwen2");
  EXPECT_EQ(default_chat_template_name("llava"), "llava_hf");
}

TEST(ChatTemplate, UnknownNameIsRefused) {
  EXPECT_THROW(chat_template_by_name("chatml"), Error);
}

}  // namespace
}  // namespace lumen
