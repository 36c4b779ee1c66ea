// Special tokens never reach the user's text (HF's decode(skip_special_tokens=True), as Imp's
// model card decodes): one the model generates that is not the stop token is dropped and the
// answer goes on. Checked through the library, the CLI (ask, generate, caption) and the server
// (streamed and not), on a copy of the bundled model whose lm_head bias makes it say
// <|endoftext|> first.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli/run_cli.h"
#include "lumen/formats/safetensors.h"
#include "lumen/runtime/generator.h"
#include "server/test_server.h"
#include "test_data.h"

namespace lumen {
namespace {

namespace fs = std::filesystem;

constexpr int32_t kEndOfText = 50256;  // <|endoftext|>: special, and not Imp's eos (</s>, 50295)
constexpr int32_t kHello = 15496;      // "Hello"
constexpr int32_t kWorld = 995;        // " world"

// The bundled model with lm_head.bias raised by 300 for <|endoftext|>, 250 for "Hello" and 200
// for " world" (the trained logits move by far less). With repetition penalty 2, greedy
// decoding then says <|endoftext|>, "Hello", " world", then <|endoftext|> again and again: the
// penalty halves each seen token's logit once, so the special token (150) beats "Hello" (125)
// and " world" (100) from the fourth step on.
class SpecialTokenModel {
 public:
  SpecialTokenModel() {
    dir_ = fs::temp_directory_path() / ("lumen_special_tokens_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const fs::path from = testing::bundled_model_dir();
    for (const auto& entry : fs::directory_iterator(from)) {
      if (entry.path().filename() != "model.safetensors") fs::create_symlink(entry.path(), dir_ / entry.path().filename());
    }
    const auto file = SafetensorsFile::open(from / "model.safetensors");
    const TensorView* bias = file->find("lm_head.bias");
    if (bias == nullptr || bias->dtype != DType::kF16) throw std::runtime_error("lm_head.bias is not F16");
    std::vector<uint16_t> raised(static_cast<size_t>(bias->numel()));
    std::memcpy(raised.data(), bias->data, bias->nbytes);
    for (auto [id, add] : {std::pair{kEndOfText, 300.0f}, {kHello, 250.0f}, {kWorld, 200.0f}}) {
      raised[static_cast<size_t>(id)] = f32_to_f16(f16_to_f32(raised[static_cast<size_t>(id)]) + add);
    }
    std::vector<TensorToWrite> tensors;
    for (const auto& [name, view] : file->tensors()) {
      const void* data = name == "lm_head.bias" ? static_cast<const void*>(raised.data()) : view.data;
      tensors.push_back({name, view.dtype, view.shape, data, view.nbytes});
    }
    write_safetensors(dir_ / "model.safetensors", tensors);
  }
  ~SpecialTokenModel() { fs::remove_all(dir_); }
  const fs::path& dir() const { return dir_; }

 private:
  fs::path dir_;
};

const SpecialTokenModel& special_token_model() {
  static SpecialTokenModel model;
  return model;
}

const std::string kPicture = (fs::path(LUMEN_SOURCE_DIR) / "examples" / "shapes.png").string();

TEST(SpecialTokens, GeneratorDropsThemAndGoesOn) {
  const auto engine = Engine::load(special_token_model().dir());
  ASSERT_TRUE(engine->tokenizer().is_special(kEndOfText));
  ASSERT_FALSE(engine->tokenizer().is_special(kHello));
  GenerationOptions options;
  options.max_new_tokens = 6;
  options.sampling.repetition_penalty = 2.0f;
  const GenerationResult r = generate(*engine, "Say hello.", {}, options);
  EXPECT_EQ(r.tokens, (std::vector<int32_t>{kEndOfText, kHello, kWorld, kEndOfText, kEndOfText, kEndOfText}));
  EXPECT_EQ(r.text, "Hello world");
  EXPECT_EQ(r.finish_reason, "length");
}

TEST(SpecialTokens, CliAskGenerateAndCaptionDropThem) {
  const std::string model = special_token_model().dir().string();
  auto ask = testing::run_cli({"ask", "-m", model, "-i", kPicture, "--repetition-penalty", "2", "-n", "6",
                               "Describe the image."});
  ASSERT_EQ(ask.exit_code, 0) << ask.err;
  EXPECT_EQ(ask.out, "Hello world\n");

  auto gen = testing::run_cli({"generate", "-m", model, "--raw-prompt", "Hi", "--repetition-penalty", "2", "-n", "6",
                               "--json"});
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  const auto out = nlohmann::json::parse(gen.out);
  EXPECT_EQ(out["tokens"][0], kEndOfText);
  EXPECT_EQ(out["text"], "Hello world");

  auto caption = testing::run_cli({"caption", "-m", model, kPicture, "--repetition-penalty", "2", "-n", "6", "--jsonl"});
  ASSERT_EQ(caption.exit_code, 0) << caption.err;
  EXPECT_EQ(nlohmann::json::parse(caption.out)["caption"], "Hello world");
}

TEST(SpecialTokens, ServerDropsThemStreamedAndNot) {
  const auto engine = Engine::load(special_token_model().dir());
  testing::TestServer server({}, *engine);
  const nlohmann::json extra = {{"max_tokens", 6}, {"repetition_penalty", 2}};
  auto whole = server.chat(testing::user_request("Describe the image.", {testing::data_url(kPicture)}, extra));
  ASSERT_TRUE(whole);
  ASSERT_EQ(whole->status, 200) << whole->body;
  const auto body = nlohmann::json::parse(whole->body);
  EXPECT_EQ(body["choices"][0]["message"]["content"], "Hello world");
  EXPECT_EQ(body["usage"]["completion_tokens"], 6);

  nlohmann::json streamed_extra = extra;
  streamed_extra["stream"] = true;
  auto streamed = server.chat(testing::user_request("Describe the image.", {testing::data_url(kPicture)}, streamed_extra));
  ASSERT_TRUE(streamed);
  ASSERT_EQ(streamed->status, 200) << streamed->body;
  std::string text;
  for (const std::string& data : testing::sse_data(streamed->body)) {
    if (data == "[DONE]") continue;
    const auto chunk = nlohmann::json::parse(data);
    if (chunk["choices"].empty()) continue;
    text += chunk["choices"][0]["delta"].value("content", "");
  }
  EXPECT_EQ(text, "Hello world");
}

}  // namespace
}  // namespace lumen
