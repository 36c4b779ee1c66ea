// Qwen2's byte-level BPE: its pre-tokenizer regex (hand-written in pretokenize.cpp) and NFC.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "hardening/hostile_files.h"
#include "lumen/core/error.h"
#include "lumen/text/bpe_tokenizer.h"
#include "text/synthetic_tokenizers.h"

namespace lumen {
namespace {
using Pieces = std::vector<std::string>;

Pieces split(std::string_view text, int max_digits) {
  Pieces out;
  for (std::string_view piece : bpe_detail::pretokenize_qwen2(text, max_digits)) out.emplace_back(piece);
  return out;
}

// Expected pieces: Python's `regex` module (2026.5.9) running the pattern from
// tokenization_qwen2.py (PRETOKENIZE_REGEX), and with \p{N}{1,3} for Llama 3's, on each text.
TEST(Qwen2Pretokenize, MatchesTheRegexAsPythonRunsIt) {
  struct Case {
    const char* text;
    Pieces qwen2;
    Pieces llama3;
  };
  const Case cases[] = {
      {"Hello world", {"Hello", " world"}, {"Hello", " world"}},
      {"I'M here, they'RE 'll", {"I", "'M", " here", ",", " they", "'RE", " '", "ll"},
       {"I", "'M", " here", ",", " they", "'RE", " '", "ll"}},
      {"price: 12345 yuan!!\n\nnext", {"price", ":", " ", "1", "2", "3", "4", "5", " yuan", "!!\n\n", "next"},
       {"price", ":", " ", "123", "45", " yuan", "!!\n\n", "next"}},
      {"  \n  x", {"  \n", " ", " x"}, {"  \n", " ", " x"}},
      {"\tword\t!", {"\tword", "\t", "!"}, {"\tword", "\t", "!"}},
      {"a\r\n\r\nb", {"a", "\r\n\r\n", "b"}, {"a", "\r\n\r\n", "b"}},
      {"(hello) [x]", {"(hello", ")", " [", "x", "]"}, {"(hello", ")", " [", "x", "]"}},
      {"日本語のテキスト123", {"日本語のテキスト", "1", "2", "3"}, {"日本語のテキスト", "123"}},
      {"über  café\u3000ok", {"über", " ", " café", "\u3000ok"}, {"über", " ", " café", "\u3000ok"}},
      {"x   ", {"x", "   "}, {"x", "   "}},
      {"!!\n", {"!!\n"}, {"!!\n"}},
      {"don't 's", {"don", "'t", " '", "s"}, {"don", "'t", " '", "s"}},
      {"  \n\n  \n", {"  \n\n  \n"}, {"  \n\n  \n"}},
      {"\u00a0\u00a0z", {"\u00a0", "\u00a0z"}, {"\u00a0", "\u00a0z"}},
      {"it'\u017fa", {"it", "'\u017f", "a"}, {"it", "'\u017f", "a"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(split(c.text, 1), c.qwen2);
    EXPECT_EQ(split(c.text, 3), c.llama3);
  }
  // Invalid UTF-8 is kept byte for byte (each bad byte counts as punctuation).
  std::string joined;
  for (const std::string& piece : split("ab\xff\xfe cd\x80", 1)) joined += piece;
  EXPECT_EQ(joined, "ab\xff\xfe cd\x80");
}

TEST(Nfc, ComposesAndLeavesInvalidBytesAlone) {
  EXPECT_EQ(bpe_detail::nfc("plain ascii"), "plain ascii");
  EXPECT_EQ(bpe_detail::nfc("cafe\xCC\x81"), "caf\xC3\xA9");               // e + U+0301 -> é
  EXPECT_EQ(bpe_detail::nfc("\xE1\x84\x80\xE1\x85\xA1"), "\xEA\xB0\x80");  // Hangul jamo -> 가
  EXPECT_EQ(bpe_detail::nfc("caf\xC3\xA9"), "caf\xC3\xA9");                // already NFC
  EXPECT_EQ(bpe_detail::nfc("e\xCC\x81\xFF" "e\xCC\x81"), "\xC3\xA9\xFF\xC3\xA9");
}

TEST(Qwen2Tokenizer, TokenizerJsonWithSplitAndNfc) {
  hardening::ScratchDir dir;
  testing::write_qwen2_like_tokenizer(dir.path());
  const BpeTokenizer t = BpeTokenizer::load(dir.path());
  const auto id = [&](const char* token) { return *t.token_id(token); };
  // "hello" merges whole; " w" merges; digits are isolated so "12" never merges.
  EXPECT_EQ(t.encode("hello wo"), (std::vector<int32_t>{id("hello"), id("Ġw"), 'o'}));
  EXPECT_EQ(t.encode("12"), (std::vector<int32_t>{'1', '2'}));
  // NFC first: "e" + combining acute becomes "é", whose two bytes merge.
  EXPECT_EQ(t.encode("e\xCC\x81"), (std::vector<int32_t>{id("Ã©")}));
  EXPECT_EQ(t.encode("<|im_start|>user\nhello<|im_end|>"),
            (std::vector<int32_t>{301, 'u', 's', 'e', 'r', '\n', id("hello"), 302}));
  EXPECT_TRUE(t.is_special(302));
  EXPECT_EQ(t.decode(t.encode("hello <|im_end|>"), true), "hello ");
  // A Split regex Lumen has no matcher for is refused, naming it.
  auto root = nlohmann::json::parse(testing::read_file(dir.path() / "tokenizer.json"));
  root["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\w+";
  dir.write("tokenizer.json", root.dump());
  try {
    BpeTokenizer::load(dir.path());
    ADD_FAILURE() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is not one Lumen implements"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace lumen
