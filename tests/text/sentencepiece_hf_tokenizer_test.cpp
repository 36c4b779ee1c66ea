// SentencePieceHfTokenizer (LlamaTokenizer's conventions over tokenizer.model) against
// libsentencepiece's own encoding of a model its trainer made (text/synthetic_tokenizers.h).
#include "lumen/text/sentencepiece_hf_tokenizer.h"

#include <gtest/gtest.h>
#include <sentencepiece_processor.h>

#include <filesystem>
#include <string>
#include <vector>

#include "hardening/hostile_files.h"
#include "lumen/core/error.h"
#include "lumen/core/mapped_file.h"
#include "text/synthetic_tokenizers.h"

namespace lumen {
namespace {
namespace fs = std::filesystem;
using hardening::ScratchDir;
using Json = nlohmann::json;
using Ids = std::vector<int32_t>;

// libsentencepiece as it is: each call adds the dummy "▁" prefix.
Ids plain_pieces(std::string_view text) {
  static sentencepiece::SentencePieceProcessor sp;
  static const bool loaded = sp.Load(testing::llama_like_spm_model().string()).ok();
  EXPECT_TRUE(loaded);
  std::vector<int> ids;
  EXPECT_TRUE(sp.Encode(std::string(text), &ids).ok());
  return Ids(ids.begin(), ids.end());
}

Ids concat(std::initializer_list<Ids> parts) {
  Ids out;
  for (const Ids& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

const Json kAddedTokens = {
    {"32000", {{"content", "<image>"}, {"special", true}, {"normalized", false}}},
    {"32001", {{"content", "<|end|>"}, {"special", true}, {"normalized", false}, {"rstrip", true}}},
    {"32002", {{"content", "<|user|>"}, {"special", true}, {"normalized", false}}},
};

std::unique_ptr<SentencePieceHfTokenizer> load_with(const ScratchDir& dir, Json config) {
  testing::write_llama_like_tokenizer(dir.path(), std::move(config));
  return SentencePieceHfTokenizer::load(dir.path());
}

TEST(SentencePieceHfTokenizer, LegacyEncodesEachPieceBetweenAddedTokensOnItsOwn) {
  ScratchDir dir;
  const auto t = load_with(dir, {{"added_tokens_decoder", kAddedTokens}});
  EXPECT_TRUE(t->legacy());
  EXPECT_EQ(t->bos_id(), 1);
  const std::string text = "What is in the image? 12345 shapes";
  EXPECT_EQ(t->encode(text), concat({{1}, plain_pieces(text)}));
  // Each piece gets SentencePiece's prefix, after a special token too; "</s>" (a control piece)
  // is matched as a whole token.
  EXPECT_EQ(t->encode("USER: <image>\nDescribe it</s>Hello"),
            concat({{1}, plain_pieces("USER: "), {32000}, plain_pieces("\nDescribe it"), {2}, plain_pieces("Hello")}));
  // rstrip: the whitespace after <|end|> goes with it.
  EXPECT_EQ(t->encode("red<|end|>  \nblue"), concat({{1}, plain_pieces("red"), {32001}, plain_pieces("blue")}));
  EXPECT_EQ(t->encode(""), Ids{1});
}

TEST(SentencePieceHfTokenizer, NonLegacyPrefixesOnlyTheStartOfTheText) {
  ScratchDir dir;
  const auto t = load_with(dir, {{"legacy", false}, {"added_tokens_decoder", kAddedTokens}});
  EXPECT_FALSE(t->legacy());
  const std::string text = "What is in the image? 12345 shapes";
  // "▁" + text without the dummy prefix is what the prefixed model gives for text.
  EXPECT_EQ(t->encode(text), concat({{1}, plain_pieces(text)}));
  const Ids ids = t->encode("Hello<image>world");
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(Ids(ids.begin(), ids.begin() + 1 + static_cast<long>(plain_pieces("Hello").size())),
            concat({{1}, plain_pieces("Hello")}));
  // After the special token, no prefix: "world" decodes without a leading space.
  const auto image = std::find(ids.begin(), ids.end(), 32000);
  ASSERT_NE(image, ids.end());
  const Ids after(image + 1, ids.end());
  EXPECT_EQ(t->decode(after), "world");
  EXPECT_NE(after, plain_pieces("world"));  // the prefixed pieces start with "▁"
  // A text that starts with one of the named special tokens (all_special_tokens: bos, eos, ...)
  // loses the lone prefix HF puts before it; before another added token the prefix stays.
  const Ids eos = t->encode("</s>\nHi");
  ASSERT_GE(eos.size(), 2u);
  EXPECT_EQ(eos[0], 1);
  EXPECT_EQ(eos[1], 2);
  EXPECT_EQ(t->decode(Ids(eos.begin() + 2, eos.end())), "\nHi");
  const Ids user = t->encode("<|user|>\nHi");
  ASSERT_GE(user.size(), 3u);
  EXPECT_EQ(user[0], 1);
  EXPECT_EQ(t->decode(Ids{user[1]}), "");  // the "▁" piece alone: the leading space decode drops
  EXPECT_EQ(*t->token_id("\xE2\x96\x81"), user[1]);
  EXPECT_EQ(user[2], 32002);
}

TEST(SentencePieceHfTokenizer, WithoutDummyPrefixChangesOnlyThatFlag) {
  const std::string proto = read_text_file(testing::llama_like_spm_model());
  const std::string edited = sentencepiece_detail::without_dummy_prefix(proto);
  sentencepiece::SentencePieceProcessor sp;
  ASSERT_TRUE(sp.LoadFromSerializedProto(edited).ok());
  std::vector<int> ids;
  for (const char* text : {"Hello world", "What is in the image?", "a  b\n\tc 42"}) {
    ASSERT_TRUE(sp.Encode(std::string("\xE2\x96\x81") + text, &ids).ok());
    EXPECT_EQ(Ids(ids.begin(), ids.end()), plain_pieces(text)) << text;
  }
  ASSERT_TRUE(sp.Encode("Hello", &ids).ok());
  EXPECT_NE(sp.IdToPiece(ids[0]).rfind("\xE2\x96\x81", 0), 0u);  // no "▁" in front now
  // Editing twice changes nothing more.
  sentencepiece::SentencePieceProcessor twice;
  ASSERT_TRUE(twice.LoadFromSerializedProto(sentencepiece_detail::without_dummy_prefix(edited)).ok());
  std::vector<int> again;
  ASSERT_TRUE(twice.Encode("Hello", &again).ok());
  EXPECT_EQ(again, ids);
  // A truncated model is refused at load, naming the file, in both modes.
  ScratchDir dir;
  dir.write("tokenizer.model", proto.substr(0, proto.size() / 2 + 3));
  for (bool legacy : {true, false}) {
    dir.write("tokenizer_config.json", Json{{"legacy", legacy}}.dump());
    try {
      SentencePieceHfTokenizer::load(dir.path());
      ADD_FAILURE() << "expected an Error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("tokenizer.model"), std::string::npos) << e.what();
    }
  }
}

TEST(SentencePieceHfTokenizer, BosEosFlagsSpecialsAndBytes) {
  ScratchDir dir;
  const auto t = load_with(dir, {{"add_bos_token", false}, {"add_eos_token", true}});
  EXPECT_EQ(t->bos_id(), std::nullopt);
  EXPECT_EQ(t->encode("Hello"), concat({plain_pieces("Hello"), {2}}));
  EXPECT_TRUE(t->is_special(1));
  EXPECT_TRUE(t->is_special(2));
  EXPECT_TRUE(t->is_special(0));  // <unk>
  EXPECT_FALSE(t->is_special(plain_pieces("Hello")[0]));
  // Byte fallback: a character the model never saw becomes its UTF-8 bytes, and decodes back.
  const Ids snow = t->encode("\xE2\x98\x83");  // U+2603
  EXPECT_EQ(t->decode(snow, true), "\xE2\x98\x83");
  ASSERT_EQ(snow.back(), 2);  // add_eos_token
  std::string joined;
  for (size_t i = 0; i + 1 < snow.size(); ++i) joined += t->token_bytes(snow[i]);
  EXPECT_EQ(joined, " \xE2\x98\x83");  // the prefix, then the three bytes
  EXPECT_EQ(t->token_bytes(2), "</s>");  // an added token's content, as for byte-level BPE
  EXPECT_EQ(t->decode(t->encode("Hello world"), true), "Hello world");
  EXPECT_EQ(t->token_id("</s>"), 2);
  EXPECT_EQ(t->token_id("no such piece"), std::nullopt);
  EXPECT_GE(t->vocab_size(), 300u);
}

// transformers adds a named special token the model lacks after the largest id.
TEST(SentencePieceHfTokenizer, NamedTokensTheModelLacksGetTheNextId) {
  ScratchDir dir;
  const auto t = load_with(dir, {{"pad_token", "<pad>"}, {"added_tokens_decoder", kAddedTokens}});
  EXPECT_EQ(t->token_id("<pad>"), 32003);
  EXPECT_EQ(t->encode("<pad>"), (Ids{1, 32003}));
  EXPECT_TRUE(t->is_special(32003));
  EXPECT_EQ(t->vocab_size(), 32004u);
}

TEST(SentencePieceHfTokenizer, BadFilesAreRefusedNamingThem) {
  ScratchDir dir;
  EXPECT_THROW(SentencePieceHfTokenizer::load(dir.path()), Error);  // no tokenizer.model
  dir.write("tokenizer.model", "not a model");
  try {
    SentencePieceHfTokenizer::load(dir.path());
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.model"), std::string::npos) << e.what();
  }
  testing::write_llama_like_tokenizer(dir.path(), {{"legacy", "yes"}});
  EXPECT_THROW(SentencePieceHfTokenizer::load(dir.path()), Error);
  testing::write_llama_like_tokenizer(dir.path(), {{"bos_token", nullptr}});
  EXPECT_THROW(SentencePieceHfTokenizer::load(dir.path()), Error);  // add_bos_token without a bos_token
}

TEST(LoadTokenizer, PicksTheAlgorithmFromTheFiles) {
  ScratchDir dir;
  testing::write_llama_like_tokenizer(dir.path(), Json::object());
  EXPECT_NE(load_tokenizer(dir.path())->describe().find("SentencePiece"), std::string::npos);
  ScratchDir qwen;
  testing::write_qwen2_like_tokenizer(qwen.path());
  EXPECT_NE(load_tokenizer(qwen.path())->describe().find("Qwen2"), std::string::npos);
  // LlamaTokenizer named without a tokenizer.model: the message says what is missing.
  dir.write("tokenizer_config.json", R"({"tokenizer_class": "LlamaTokenizerFast"})");
  fs::remove(dir.path() / "tokenizer.model");
  try {
    load_tokenizer(dir.path());
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs tokenizer.model"), std::string::npos) << e.what();
  }
}

// LLaVA's tokenizer_image_token: one BOS, pieces tokenized on their own, the image id between.
TEST(EncodeSplitAtImages, KeepsOneBosAndPutsTheImageIdBetweenPieces) {
  ScratchDir dir;
  const auto t = load_with(dir, {{"legacy", false}});
  const Ids ids = encode_split_at_images(*t, "USER: <image>\nWhat? <image> ASSISTANT:", "<image>", -200);
  const auto piece = [&](std::string_view text) {
    Ids p = t->encode(text);
    return Ids(p.begin() + 1, p.end());  // without its BOS
  };
  EXPECT_EQ(ids, concat({{1}, piece("USER: "), {-200}, piece("\nWhat? "), {-200}, piece(" ASSISTANT:")}));
  EXPECT_EQ(encode_split_at_images(*t, "<image>", "<image>", 7), (Ids{1, 7}));
  // Without add_bos_token, a prompt that spells out <s> still has one BOS kept and each
  // piece's first id dropped (LLaVA compares with bos_token_id, not with what encode adds).
  ScratchDir no_bos_dir;
  const auto no_bos = load_with(no_bos_dir, {{"legacy", false}, {"add_bos_token", false}});
  const Ids a = no_bos->encode("<s>A");
  const Ids b = no_bos->encode("B");
  ASSERT_EQ(a[0], 1);
  EXPECT_EQ(encode_split_at_images(*no_bos, "<s>A<image>B", "<image>", 9),
            concat({{1}, Ids(a.begin() + 1, a.end()), {9}, Ids(b.begin() + 1, b.end())}));
}

}  // namespace
}  // namespace lumen
