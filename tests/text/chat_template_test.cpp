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

TEST(ChatTemplate, UnknownNameIsRefused) {
  EXPECT_THROW(chat_template_by_name("chatml"), Error);
}

}  // namespace
}  // namespace lumen
