#include "lumen/text/bpe_tokenizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "lumen/core/error.h"
#include "test_data.h"

namespace lumen {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using bpe_detail::CharClass;

fs::path tiny_a_dir() { return testing::fixtures_dir() / "imp-tiny-a"; }
fs::path tiny_b_dir() { return testing::fixtures_dir() / "imp-tiny-b-msft"; }

// Loading a 50k vocab takes a moment: share one tokenizer per fixture.
const BpeTokenizer& tiny_a() {
  static const BpeTokenizer tokenizer = BpeTokenizer::load(tiny_a_dir());
  return tokenizer;
}
const BpeTokenizer& tiny_b() {
  static const BpeTokenizer tokenizer = BpeTokenizer::load(tiny_b_dir());
  return tokenizer;
}

std::vector<int32_t> ids_of(const Json& array) { return array.get<std::vector<int32_t>>(); }

// Checks every case of a fixture's tokenizer_cases.json (recorded with HF transformers).
void expect_matches_hf_cases(const BpeTokenizer& tokenizer, const fs::path& dir) {
  const Json cases = Json::parse(testing::read_file(dir / "tokenizer_cases.json"));
  ASSERT_EQ(cases.size(), 39u);
  for (const Json& c : cases) {
    const std::string text = c.at("text").get<std::string>();
    SCOPED_TRACE("text: \"" + text + "\"");
    const std::vector<int32_t> ids = tokenizer.encode(text);
    EXPECT_EQ(ids, ids_of(c.at("ids")));
    EXPECT_EQ(tokenizer.decode(c.at("ids").get<std::vector<int32_t>>()), c.at("decoded").get<std::string>());
  }
}

void expect_matches_reference_prompts(const BpeTokenizer& tokenizer, const fs::path& dir) {
  const Json reference = Json::parse(testing::read_file(dir / "reference.json"));
  const Json& cases = reference.at("cases");
  ASSERT_FALSE(cases.empty());
  for (const Json& c : cases) {
    SCOPED_TRACE(c.at("name").get<std::string>());
    EXPECT_EQ(tokenizer.encode(c.at("prompt").get<std::string>()), ids_of(c.at("prompt_ids")));
    // Generated text is HF's decode of the generated ids, lossy UTF-8 replacement included.
    EXPECT_EQ(tokenizer.decode(ids_of(c.at("generated_ids"))), c.at("generated_text").get<std::string>());
  }
}

TEST(BpeTokenizerHf, VocabAndMergesMatchHfCases) { expect_matches_hf_cases(tiny_a(), tiny_a_dir()); }

TEST(BpeTokenizerHf, TokenizerJsonMatchesHfCases) { expect_matches_hf_cases(tiny_b(), tiny_b_dir()); }

TEST(BpeTokenizerHf, VocabAndMergesMatchReferencePrompts) { expect_matches_reference_prompts(tiny_a(), tiny_a_dir()); }

TEST(BpeTokenizerHf, TokenizerJsonMatchesReferencePrompts) { expect_matches_reference_prompts(tiny_b(), tiny_b_dir()); }

TEST(BpeTokenizer, BundledModelEncodesImagePrompt) {
  const BpeTokenizer tokenizer = BpeTokenizer::load(testing::bundled_model_dir());
  const std::string prompt = "<image>\nWhat color is the square?";
  const std::vector<int32_t> ids = tokenizer.encode(prompt);
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids[0], 50296);
  EXPECT_EQ(ids[1], 198);                   // "\n"
  EXPECT_EQ(ids[2], 2061);                  // "What"
  EXPECT_EQ(ids, tiny_a().encode(prompt));  // same vocabulary as the fixture
  EXPECT_EQ(tokenizer.decode(ids), prompt);
}

TEST(BpeTokenizer, LooksUpTokensAndSizesVocab) {
  for (const BpeTokenizer* tokenizer : {&tiny_a(), &tiny_b()}) {
    EXPECT_EQ(tokenizer->vocab_size(), 50297u);
    EXPECT_EQ(tokenizer->token_id("<image>"), 50296);
    EXPECT_EQ(tokenizer->token_id("</s>"), 50295);
    EXPECT_EQ(tokenizer->token_id("<|endoftext|>"), 50256);
    EXPECT_EQ(tokenizer->token_id("  "), 50286);
    EXPECT_EQ(tokenizer->token_id("\t\t"), 50294);
    EXPECT_EQ(tokenizer->token_id("\xC4\xA0world"), 995);    // "Ġworld"
    EXPECT_EQ(tokenizer->token_id(" world"), std::nullopt);  // vocab entries are byte-level-encoded
    EXPECT_EQ(tokenizer->token_id("<image"), std::nullopt);
    EXPECT_EQ(tokenizer->token_bytes(995), " world");
    EXPECT_EQ(tokenizer->token_bytes(50296), "<image>");
    EXPECT_EQ(tokenizer->token_bytes(50283), "     ");
    EXPECT_EQ(tokenizer->token_bytes(198), "\n");
    EXPECT_EQ(tokenizer->token_bytes(50256), "<|endoftext|>");
  }
}

TEST(BpeTokenizer, StreamsPartialCharactersAsRawBytes) {
  // "日" is E6 97 A5, split over tokens 33768 ("æĹ") and 98 ("¥").
  EXPECT_EQ(tiny_a().token_bytes(33768), "\xE6\x97");
  EXPECT_EQ(tiny_a().token_bytes(98), "\xA5");
  const std::vector<int32_t> both = {33768, 98};
  EXPECT_EQ(tiny_a().decode(both), "\xE6\x97\xA5");
  // Alone, the incomplete character decodes to a single U+FFFD, as in HF.
  const std::vector<int32_t> first = {33768};
  EXPECT_EQ(tiny_a().decode(first), "\xEF\xBF\xBD");
}

TEST(BpeTokenizer, IdsWithoutTokenDecodeToNothing) {
  const std::vector<int32_t> unknown = {-5, 999999, 50297, std::numeric_limits<int32_t>::min(),
                                        std::numeric_limits<int32_t>::max()};
  EXPECT_EQ(tiny_a().decode(unknown), "");
  EXPECT_EQ(tiny_b().decode(unknown), "");
  for (int32_t id : unknown) EXPECT_EQ(tiny_a().token_bytes(id), "");
  const std::vector<int32_t> mixed = {15496, -5, 995, 999999};
  EXPECT_EQ(tiny_a().decode(mixed), "Hello world");
  EXPECT_EQ(tiny_a().decode(std::vector<int32_t>{}), "");
}

TEST(BpeTokenizer, LongWordWithoutSpacesEncodesQuickly) {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<int32_t> ids = tiny_a().encode(std::string(1'000'000, 'x'));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(ids.size(), 125'000u);  // "xxxxxxxx" is the longest run of x in the vocab
  for (int32_t id : ids) ASSERT_EQ(id, 24223);
  EXPECT_LT(seconds, 10.0);  // quadratic merging would take hours
}

// ---------------------------------------------------------------------------------------------
// Pre-tokenizer and UTF-8 helpers

TEST(BpeTokenizerPretokenize, SplitsLikeGpt2Regex) {
  // Expected splits were produced with Python's `regex` module and the GPT-2 pattern.
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"Hello world", {"Hello", " world"}},
      {"a   b", {"a", "  ", " b"}},
      {"x\n\n\ny", {"x", "\n\n", "\n", "y"}},
      {"it's they'RE 'll x''s", {"it", "'s", " they", "'", "RE", " '", "ll", " x", "''", "s"}},
      {"  end  ", {" ", " end", "  "}},
      {"3.14 -42abc", {"3", ".", "14", " -", "42", "abc"}},
      {"\u00a0non\u2009x", {"\u00a0", "non", "\u2009", "x"}},
      {"日本語 text½", {"日本語", " text", "½"}},
      {"tab\t\tx \t y", {"tab", "\t", "\t", "x", " \t", " y"}},
      {"émigré's ١٢٣", {"émigré", "'s", " ١٢٣"}},
      {" ", {" "}},
      {"'", {"'"}},
      {"?!  ", {"?!", "  "}},
      {"", {}},
  };
  for (const auto& [text, expected] : cases) {
    SCOPED_TRACE("text: \"" + text + "\"");
    const std::vector<std::string_view> pieces = bpe_detail::pretokenize(text);
    EXPECT_EQ(std::vector<std::string>(pieces.begin(), pieces.end()), expected);
  }
}

TEST(BpeTokenizerPretokenize, InvalidBytesAreSingleSymbols) {
  // Invalid bytes count as punctuation-like symbols, so they join runs of other symbols.
  const std::string text =
      "ab\xFF\xFE!cd \x80"
      "ef\xE6\x97";
  const std::vector<std::string_view> pieces = bpe_detail::pretokenize(text);
  const std::vector<std::string> expected = {"ab", "\xFF\xFE!", "cd", " \x80", "ef", "\xE6\x97"};
  EXPECT_EQ(std::vector<std::string>(pieces.begin(), pieces.end()), expected);
}

TEST(BpeTokenizerPretokenize, ClassifiesUnicode) {
  EXPECT_EQ(bpe_detail::classify(U'a'), CharClass::kLetter);
  EXPECT_EQ(bpe_detail::classify(U'7'), CharClass::kNumber);
  EXPECT_EQ(bpe_detail::classify(U'_'), CharClass::kOther);
  EXPECT_EQ(bpe_detail::classify(U'\u00e9'), CharClass::kLetter);      // é
  EXPECT_EQ(bpe_detail::classify(U'\u00d7'), CharClass::kOther);       // × inside the Latin-1 letters
  EXPECT_EQ(bpe_detail::classify(U'\u00bd'), CharClass::kNumber);      // ½
  EXPECT_EQ(bpe_detail::classify(U'\u03bb'), CharClass::kLetter);      // λ
  EXPECT_EQ(bpe_detail::classify(U'\u0436'), CharClass::kLetter);      // ж
  EXPECT_EQ(bpe_detail::classify(U'\u0663'), CharClass::kNumber);      // Arabic-Indic 3
  EXPECT_EQ(bpe_detail::classify(U'\u3042'), CharClass::kLetter);      // あ
  EXPECT_EQ(bpe_detail::classify(U'\u6f22'), CharClass::kLetter);      // 漢
  EXPECT_EQ(bpe_detail::classify(U'\uac00'), CharClass::kLetter);      // 가
  EXPECT_EQ(bpe_detail::classify(U'\u2167'), CharClass::kNumber);      // Ⅷ
  EXPECT_EQ(bpe_detail::classify(U'\U0001d518'), CharClass::kLetter);  // 𝔘
  EXPECT_EQ(bpe_detail::classify(U'\U0001f680'), CharClass::kOther);   // 🚀
  EXPECT_EQ(bpe_detail::classify(U'\U00020000'), CharClass::kLetter);  // CJK extension B
  EXPECT_EQ(bpe_detail::classify(U'\u200b'), CharClass::kOther);       // zero width space
  EXPECT_EQ(bpe_detail::classify(U'\ufe0f'), CharClass::kOther);       // variation selector
  for (char32_t space : {U'\t', U'\n', U'\v', U'\f', U'\r', U' ', U'\u0085', U'\u00a0', U'\u1680', U'\u2000', U'\u200a',
                         U'\u2028', U'\u2029', U'\u202f', U'\u205f', U'\u3000'}) {
    EXPECT_EQ(bpe_detail::classify(space), CharClass::kSpace) << static_cast<uint32_t>(space);
  }
  EXPECT_EQ(bpe_detail::classify(U'\x1c'), CharClass::kOther);  // not White_Space
  EXPECT_EQ(bpe_detail::classify(0x10FFFF), CharClass::kOther);
  EXPECT_EQ(bpe_detail::classify(0x7FFFFFFF), CharClass::kOther);
}

TEST(BpeTokenizerPretokenize, LossyUtf8ReplacesMaximalSubparts) {
  const std::string replacement = "\xEF\xBF\xBD";
  EXPECT_EQ(bpe_detail::utf8_lossy("plain é 日 🚀"), "plain é 日 🚀");
  EXPECT_EQ(bpe_detail::utf8_lossy("a\xFF"
                                   "b"),
            "a" + replacement + "b");
  EXPECT_EQ(bpe_detail::utf8_lossy("\xE6\x97"), replacement);  // truncated: one U+FFFD
  EXPECT_EQ(bpe_detail::utf8_lossy("\xE6\x97"
                                   "a"),
            replacement + "a");
  EXPECT_EQ(bpe_detail::utf8_lossy("\xC0\xAF"), replacement + replacement);                    // overlong
  EXPECT_EQ(bpe_detail::utf8_lossy("\xED\xA0\x80"), replacement + replacement + replacement);  // surrogate
  EXPECT_EQ(bpe_detail::utf8_lossy("\xF4\x90\x80\x80"), replacement + replacement + replacement + replacement);
  EXPECT_EQ(bpe_detail::utf8_lossy("\xF0\x9F\x9A"), replacement);  // truncated emoji
}

// ---------------------------------------------------------------------------------------------
// Untrusted input

// Random strings drawn from the kinds of characters the tokenizer treats differently.
std::string random_utf8(std::mt19937& rng, size_t length) {
  static const std::vector<std::string> atoms = {"a",
                                                 "Z",
                                                 "q",
                                                 "7",
                                                 "0",
                                                 " ",
                                                 "  ",
                                                 "\t",
                                                 "\n",
                                                 "\r\n",
                                                 "'",
                                                 "'s",
                                                 "'ll",
                                                 ".",
                                                 "-",
                                                 "#",
                                                 "_",
                                                 "é",
                                                 "ß",
                                                 "日",
                                                 "本",
                                                 "ж",
                                                 "λ",
                                                 "½",
                                                 "٣",
                                                 "\u00a0",
                                                 "\u2009",
                                                 "\u200b",
                                                 "🚀",
                                                 "👍🏽",
                                                 "❤️",
                                                 "𝔘",
                                                 "<image>",
                                                 "</s>",
                                                 "<|endoftext|>",
                                                 "<imag",
                                                 "e>",
                                                 "Ġ",
                                                 "\x7f",
                                                 "\x01",
                                                 "                                   ",
                                                 "\t\t\t\t\t\t\t\t\t\t"};
  std::uniform_int_distribution<size_t> pick(0, atoms.size() - 1);
  std::string text;
  for (size_t i = 0; i < length; ++i) text += atoms[pick(rng)];
  return text;
}

TEST(BpeTokenizerHostile, RandomUtf8RoundTrips) {
  std::mt19937 rng(1234);
  for (int round = 0; round < 300; ++round) {
    const std::string text = random_utf8(rng, round % 40);
    SCOPED_TRACE("text: \"" + text + "\"");
    for (const BpeTokenizer* tokenizer : {&tiny_a(), &tiny_b()}) {
      const std::vector<int32_t> ids = tokenizer->encode(text);
      for (int32_t id : ids) ASSERT_TRUE(id >= 0 && static_cast<size_t>(id) < tokenizer->vocab_size());
      EXPECT_EQ(tokenizer->decode(ids), text);
    }
    EXPECT_EQ(tiny_a().encode(text), tiny_b().encode(text));
  }
}

TEST(BpeTokenizerHostile, RandomBytesRoundTripThroughTokenBytes) {
  std::mt19937 rng(99);
  std::uniform_int_distribution<int> byte(0, 255);
  for (int round = 0; round < 300; ++round) {
    std::string bytes(static_cast<size_t>(round), '\0');
    for (char& c : bytes) c = static_cast<char>(byte(rng));
    const std::vector<int32_t> ids = tiny_a().encode(bytes);
    std::string joined;
    for (int32_t id : ids) {
      ASSERT_TRUE(id >= 0 && static_cast<size_t>(id) < tiny_a().vocab_size());
      joined += tiny_a().token_bytes(id);
    }
    EXPECT_EQ(joined, bytes);  // byte-level BPE loses nothing, even on invalid UTF-8
    EXPECT_EQ(tiny_a().decode(ids), bpe_detail::utf8_lossy(bytes));
  }
}

// A scratch model directory, removed afterwards.
class ScratchDir {
 public:
  ScratchDir() {
    std::random_device seed;
    path_ = fs::temp_directory_path() / ("lumen-bpe-test-" + std::to_string(seed()) + std::to_string(seed()));
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const fs::path& path() const { return path_; }
  void write(const std::string& name, const std::string& content) const {
    std::ofstream out(path_ / name, std::ios::binary);
    out << content;
  }

 private:
  fs::path path_;
};

// GPT-2's byte -> printable character mapping, written out independently of the library.
std::string expected_byte_symbol(int byte) {
  const bool printable = (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE;
  int code_point = byte;
  if (!printable) {
    int shifted = 256;
    for (int b = 0; b < byte; ++b) {
      if (!((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)) ++shifted;
    }
    code_point = shifted;
  }
  std::string utf8;
  if (code_point < 0x80) {
    utf8 = std::string(1, static_cast<char>(code_point));
  } else {
    utf8 = {static_cast<char>(0xC0 | (code_point >> 6)), static_cast<char>(0x80 | (code_point & 0x3F))};
  }
  return utf8;
}

// A small byte-level vocabulary: the 256 byte symbols (ids 0..255) plus merged tokens.
Json tiny_vocab() {
  Json vocab = Json::object();
  for (int byte = 0; byte < 256; ++byte) vocab[expected_byte_symbol(byte)] = byte;
  int next = 256;
  for (const char* token : {"he", "ll", "hell", "hello", "\xC4\xA0w", "\xC4\xA0wo"}) vocab[token] = next++;
  return vocab;
}
const char* kTinyMerges = "#version: 0.2\nh e\nl l\nhe ll\nhell o\n\xC4\xA0 w\n\xC4\xA0w o\n";

TEST(BpeTokenizerPretokenize, ByteLevelAlphabetIsGpt2s) {
  for (int byte = 0; byte < 256; ++byte) {
    const std::string symbol = expected_byte_symbol(byte);
    EXPECT_EQ(bpe_detail::byte_symbol(static_cast<uint8_t>(byte)), symbol) << byte;
    EXPECT_EQ(bpe_detail::byte_level_decode(symbol), std::string(1, static_cast<char>(byte))) << byte;
  }
  EXPECT_EQ(bpe_detail::byte_symbol(' '), "\xC4\xA0");  // "Ġ"
  EXPECT_EQ(bpe_detail::byte_symbol('\n'), "\xC4\x8A");  // "Ċ"
  EXPECT_EQ(bpe_detail::byte_level_decode("\xC4\xA0world"), " world");
  // A character outside the alphabet makes HF take the whole token literally.
  EXPECT_EQ(bpe_detail::byte_level_decode("a b"), "a b");
  EXPECT_EQ(bpe_detail::byte_level_decode("\xC4\xA0\xE6\x97\xA5"), "\xC4\xA0\xE6\x97\xA5");
}

TEST(BpeTokenizerHostile, MissingDirectoryThrows) {
  EXPECT_THROW(BpeTokenizer::load(testing::fixtures_dir() / "no-such-model"), Error);
  EXPECT_THROW(BpeTokenizer::load(tiny_a_dir() / "vocab.json"), Error);  // a file, not a directory
}

TEST(BpeTokenizerHostile, DirectoryWithoutTokenizerThrows) {
  ScratchDir dir;
  dir.write("vocab.json", tiny_vocab().dump());  // no merges.txt, no tokenizer.json
  try {
    BpeTokenizer::load(dir.path());
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expected vocab.json + merges.txt or tokenizer.json"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("merges.txt is missing"), std::string::npos) << e.what();
    EXPECT_EQ(e.kind(), ErrorKind::kNotFound);
  }
}

TEST(BpeTokenizerHostile, SmallVocabularyMergesByRank) {
  ScratchDir dir;
  dir.write("vocab.json", tiny_vocab().dump());
  dir.write("merges.txt", kTinyMerges);
  const BpeTokenizer tokenizer = BpeTokenizer::load(dir.path());
  EXPECT_EQ(tokenizer.vocab_size(), 262u);
  EXPECT_EQ(tokenizer.encode("hello"), (std::vector<int32_t>{259}));
  EXPECT_EQ(tokenizer.encode("hel"), (std::vector<int32_t>{256, 'l'}));
  EXPECT_EQ(tokenizer.encode("hello wo"), (std::vector<int32_t>{259, 261}));
  EXPECT_EQ(tokenizer.encode("ll"), (std::vector<int32_t>{257}));
  EXPECT_EQ(tokenizer.decode(tokenizer.encode("hello world!")), "hello world!");
}

TEST(BpeTokenizerHostile, MergeWithUnknownTokenThrows) {
  ScratchDir dir;
  dir.write("vocab.json", tiny_vocab().dump());
  dir.write("merges.txt", "#version: 0.2\nh e\nzz q\n");
  try {
    BpeTokenizer::load(dir.path());
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("merges.txt"), std::string::npos) << message;
    EXPECT_NE(message.find("line 3"), std::string::npos) << message;
    EXPECT_NE(message.find("\"zz\""), std::string::npos) << message;
  }
  dir.write("merges.txt", "#version: 0.2\nw o\n");  // both known, but "wo" is not in the vocab
  EXPECT_THROW(BpeTokenizer::load(dir.path()), Error);
  dir.write("merges.txt", "#version: 0.2\nh  e\n");  // two spaces
  EXPECT_THROW(BpeTokenizer::load(dir.path()), Error);
  dir.write("merges.txt", "#version: 0.2\nhe\n");  // one token
  EXPECT_THROW(BpeTokenizer::load(dir.path()), Error);
}

TEST(BpeTokenizerHostile, BadVocabThrows) {
  ScratchDir dir;
  dir.write("merges.txt", "#version: 0.2\n");
  const std::vector<std::string> bad_vocabs = {
      "",
      "{\"a\": 1",
      "[1, 2, 3]",
      "{\"a\": \"one\"}",
      "{\"a\": -1}",
      "{\"a\": 1.5}",
      "{\"a\": 99999999999999999999}",
      "{\"a\": 4294967296}",
      "{\"a\": 0}",  // parses, but lacks the byte symbols
  };
  for (const std::string& vocab : bad_vocabs) {
    SCOPED_TRACE(vocab);
    dir.write("vocab.json", vocab);
    try {
      BpeTokenizer::load(dir.path());
      ADD_FAILURE() << "expected an Error";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("vocab.json"), std::string::npos) << e.what();
    }
  }
}

TEST(BpeTokenizerHostile, BadAddedTokensThrow) {
  ScratchDir dir;
  dir.write("vocab.json", tiny_vocab().dump());
  dir.write("merges.txt", kTinyMerges);
  dir.write("added_tokens.json", "{\"<x>\": 300, \"<y>\": 300}");  // one id, two tokens
  EXPECT_THROW(BpeTokenizer::load(dir.path()), Error);
  dir.write("added_tokens.json", "{\"<x>\": \"300\"}");
  EXPECT_THROW(BpeTokenizer::load(dir.path()), Error);
  dir.write("added_tokens.json", "{\"<x>\": 300}");
  dir.write("tokenizer_config.json", "{\"added_tokens_decoder\": {\"3x\": {\"content\": \"<z>\"}}}");
  EXPECT_THROW(BpeTokenizer::load(dir.path()), Error);
  dir.write("tokenizer_config.json", "{\"added_tokens_decoder\": {\"301\": {\"content\": 5}}}");
  EXPECT_THROW(BpeTokenizer::load(dir.path()), Error);
  dir.write("tokenizer_config.json", "{\"added_tokens_decoder\": {\"301\": {\"content\": \"<z>\", \"lstrip\": 1}}}");
  EXPECT_THROW(BpeTokenizer::load(dir.path()), Error);
  dir.write("tokenizer_config.json", "{\"added_tokens_decoder\": {\"301\": {\"content\": \"<z>\"}}}");
  const BpeTokenizer tokenizer = BpeTokenizer::load(dir.path());
  EXPECT_EQ(tokenizer.encode("he<x>ll<z>"), (std::vector<int32_t>{256, 300, 257, 301}));
  EXPECT_EQ(tokenizer.vocab_size(), 302u);
}

// tokenizer.json with "a b" merge strings, lstrip/rstrip added tokens and both matching passes.
Json tiny_tokenizer_json() {
  Json root;
  root["normalizer"] = nullptr;
  root["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  root["model"] = {{"type", "BPE"}, {"vocab", tiny_vocab()}, {"merges", Json::array()}};
  for (const char* merge : {"h e", "l l", "he ll", "hell o", "\xC4\xA0 w", "\xC4\xA0w o"}) {
    root["model"]["merges"].push_back(merge);
  }
  root["added_tokens"] = Json::array({
      {{"id", 300}, {"content", "<m>"}, {"special", true}, {"normalized", false}, {"lstrip", true}},
      {{"id", 301}, {"content", "<r>"}, {"special", true}, {"normalized", false}, {"rstrip", true}},
      {{"id", 302}, {"content", "  "}, {"special", false}, {"normalized", true}},
  });
  return root;
}

TEST(BpeTokenizerHostile, TokenizerJsonWithStringMergesAndStrippingTokens) {
  ScratchDir dir;
  dir.write("tokenizer.json", tiny_tokenizer_json().dump());
  const BpeTokenizer tokenizer = BpeTokenizer::load(dir.path());
  EXPECT_EQ(tokenizer.encode("hello wo"), (std::vector<int32_t>{259, 261}));
  EXPECT_EQ(tokenizer.encode("hello \t <m>ll"), (std::vector<int32_t>{259, 300, 257}));  // lstrip
  EXPECT_EQ(tokenizer.encode("<r>  \n hello"), (std::vector<int32_t>{301, 259}));        // rstrip
  EXPECT_EQ(tokenizer.encode("hello  wo"), (std::vector<int32_t>{259, 302, 'w', 'o'}));
  EXPECT_EQ(tokenizer.token_id("<m>"), 300);
}

TEST(BpeTokenizerHostile, UnsupportedTokenizerJsonThrows) {
  ScratchDir dir;
  const auto expect_rejected = [&](const Json& root, const std::string& why) {
    SCOPED_TRACE(why);
    dir.write("tokenizer.json", root.dump());
    EXPECT_THROW(BpeTokenizer::load(dir.path()), Error);
  };
  Json root = tiny_tokenizer_json();
  root["model"]["type"] = "WordPiece";
  expect_rejected(root, "not BPE");
  root = tiny_tokenizer_json();
  root["model"]["byte_fallback"] = true;
  expect_rejected(root, "byte fallback");
  root = tiny_tokenizer_json();
  root["pre_tokenizer"] = {{"type", "Metaspace"}};
  expect_rejected(root, "other pre-tokenizer");
  root = tiny_tokenizer_json();
  root["normalizer"] = {{"type", "NFKC"}};  // NFC alone is implemented (Qwen2)
  expect_rejected(root, "normalizer");
  root = tiny_tokenizer_json();
  root["model"]["merges"].push_back(Json::array({"h", "zz"}));
  expect_rejected(root, "merge pair with unknown token");
  root = tiny_tokenizer_json();
  root["model"]["merges"].push_back(42);
  expect_rejected(root, "merge that is a number");
  root = tiny_tokenizer_json();
  root["model"]["vocab"] = Json::array();
  expect_rejected(root, "vocab not an object");
  root = tiny_tokenizer_json();
  root["added_tokens"][0]["id"] = -3;
  expect_rejected(root, "negative added id");
  root = tiny_tokenizer_json();
  root["pre_tokenizer"]["type"] = 7;
  expect_rejected(root, "pre_tokenizer type of the wrong JSON type");
  dir.write("tokenizer.json", "{\"model\": ");
  EXPECT_THROW(BpeTokenizer::load(dir.path()), Error);
}

// Which source wins when both are present: tokenizer_sources_test.cpp.

}  // namespace
}  // namespace lumen
