// The two tokenizer sources of a Hugging Face checkpoint: tokenizer.json (what transformers'
// AutoTokenizer prefers) and vocab.json + merges.txt (+ added_tokens.json, tokenizer_config.json).
// Each Imp fixture ships one of them; the other is written here from it, the way HF's save would,
// and both must give the reference ids, the same decoding and the same special tokens.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "lumen/core/error.h"
#include "lumen/text/bpe_tokenizer.h"
#include "test_data.h"

namespace lumen {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

fs::path tiny_a_dir() { return testing::fixtures_dir() / "imp-tiny-a"; }
fs::path tiny_b_dir() { return testing::fixtures_dir() / "imp-tiny-b-msft"; }

Json read_json(const fs::path& path) { return Json::parse(testing::read_file(path)); }

// A scratch model directory, removed afterwards.
class ScratchDir {
 public:
  ScratchDir() {
    std::random_device seed;
    path_ = fs::temp_directory_path() / ("lumen-tok-src-test-" + std::to_string(seed()) + std::to_string(seed()));
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path& path() const { return path_; }
  void write(const std::string& name, const std::string& content) const {
    std::ofstream out(path_ / name, std::ios::binary);
    out << content;
  }
  void write_json(const std::string& name, const Json& value) const { write(name, value.dump(2)); }
  void copy_from(const fs::path& dir, const std::string& name) const {
    fs::copy_file(dir / name, path_ / name, fs::copy_options::overwrite_existing);
  }

 private:
  fs::path path_;
};

// ---------------------------------------------------------------------------------------------
// Conversions, written independently of the library.

// merges.txt lines ("#version: 0.2" header, "a b" per line) -> [["a", "b"], ...]
Json merges_from_txt(const std::string& text) {
  Json merges = Json::array();
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    start = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.starts_with("#version")) continue;
    const size_t space = line.find(' ');
    merges.push_back(Json::array({line.substr(0, space), line.substr(space + 1)}));
  }
  return merges;
}

// tokenizer.json as tokenizers' save writes Phi-2's: a BPE model over vocab.json and merges.txt,
// ByteLevel pre-tokenizer, post-processor and decoder, and the added tokens of
// tokenizer_config.json's "added_tokens_decoder" with their flags, in id order.
Json tokenizer_json_from_vocab_and_merges(const fs::path& dir) {
  const Json config = read_json(dir / "tokenizer_config.json");
  std::map<int, Json> added_by_id;
  for (const auto& [key, token] : config.at("added_tokens_decoder").items()) {
    Json entry = {{"id", std::stoi(key)}};
    for (const char* field : {"content", "single_word", "lstrip", "rstrip", "normalized", "special"}) {
      entry[field] = token.at(field);
    }
    added_by_id[std::stoi(key)] = entry;
  }
  Json added = Json::array();
  for (const auto& [id, entry] : added_by_id) added.push_back(entry);
  const Json byte_level = {
      {"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  Json root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  root["added_tokens"] = added;
  root["normalizer"] = nullptr;
  root["pre_tokenizer"] = byte_level;
  root["post_processor"] = {
      {"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", false}, {"use_regex", true}};
  root["decoder"] = {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}};
  root["model"] = {{"type", "BPE"},
                   {"dropout", nullptr},
                   {"unk_token", nullptr},
                   {"continuing_subword_prefix", nullptr},
                   {"end_of_word_suffix", nullptr},
                   {"fuse_unk", false},
                   {"byte_fallback", false},
                   {"ignore_merges", false},
                   {"vocab", read_json(dir / "vocab.json")},
                   {"merges", merges_from_txt(testing::read_file(dir / "merges.txt"))}};
  return root;
}

// The slow-tokenizer files HF's save writes for a tokenizer.json: vocab.json, merges.txt,
// added_tokens.json (the added tokens beyond the base vocab) and tokenizer_config.json with
// "added_tokens_decoder" (every added token and its flags).
void write_vocab_and_merges_from_tokenizer_json(const fs::path& tokenizer_json, const ScratchDir& out) {
  const Json root = read_json(tokenizer_json);
  const Json& vocab = root.at("model").at("vocab");
  out.write_json("vocab.json", vocab);
  std::string merges = "#version: 0.2\n";
  for (const Json& merge : root.at("model").at("merges")) {
    merges += merge.is_string() ? merge.get<std::string>()
                                : merge.at(0).get<std::string>() + " " + merge.at(1).get<std::string>();
    merges += "\n";
  }
  out.write("merges.txt", merges);
  Json added_tokens = Json::object();
  Json decoder = Json::object();
  for (const Json& token : root.at("added_tokens")) {
    const std::string content = token.at("content").get<std::string>();
    const int id = token.at("id").get<int>();
    if (!vocab.contains(content)) added_tokens[content] = id;
    Json entry;
    for (const char* field : {"content", "single_word", "lstrip", "rstrip", "normalized", "special"}) {
      entry[field] = token.at(field);
    }
    decoder[std::to_string(id)] = entry;
  }
  out.write_json("added_tokens.json", added_tokens);
  out.write_json("tokenizer_config.json", {{"add_prefix_space", false},
                                           {"added_tokens_decoder", decoder},
                                           {"clean_up_tokenization_spaces", false},
                                           {"tokenizer_class", "CodeGenTokenizer"}});
}

// ---------------------------------------------------------------------------------------------
// Comparisons

std::vector<int32_t> without_special(const BpeTokenizer& tokenizer, const std::vector<int32_t>& ids) {
  std::vector<int32_t> kept;
  for (int32_t id : ids) {
    if (!tokenizer.is_special(id)) kept.push_back(id);
  }
  return kept;
}

// Both tokenizers give the reference ids on every case of the fixture, decode identically (with
// and without special tokens) and agree on which ids are special.
void expect_same_tokenizer(const BpeTokenizer& expected, const BpeTokenizer& actual, const fs::path& fixture) {
  const Json cases = read_json(fixture / "tokenizer_cases.json");
  ASSERT_EQ(cases.size(), 39u);
  for (const Json& c : cases) {
    const std::string text = c.at("text").get<std::string>();
    SCOPED_TRACE("text: \"" + text + "\"");
    const std::vector<int32_t> reference = c.at("ids").get<std::vector<int32_t>>();
    const std::vector<int32_t> ids = actual.encode(text);
    EXPECT_EQ(ids, reference);
    EXPECT_EQ(ids, expected.encode(text));
    EXPECT_EQ(actual.decode(reference), c.at("decoded").get<std::string>());
    EXPECT_EQ(actual.decode(reference), expected.decode(reference));
    EXPECT_EQ(actual.decode(reference, true), expected.decode(reference, true));
    EXPECT_EQ(actual.decode(reference, true), expected.decode(without_special(expected, reference)));
  }
  EXPECT_EQ(actual.vocab_size(), expected.vocab_size());
  int special_count = 0;
  for (int32_t id = -2; id < static_cast<int32_t>(expected.vocab_size()) + 4; ++id) {
    ASSERT_EQ(actual.is_special(id), expected.is_special(id)) << "id " << id;
    special_count += expected.is_special(id) ? 1 : 0;
  }
  EXPECT_EQ(special_count, 3);  // <|endoftext|>, </s>, <image>
}

TEST(TokenizerSources, ImpTinyAVocabAndMergesEqualTokenizerJson) {
  const BpeTokenizer from_vocab = BpeTokenizer::load(tiny_a_dir());
  const Json tokenizer_json = tokenizer_json_from_vocab_and_merges(tiny_a_dir());
  {
    SCOPED_TRACE("tokenizer.json alone");
    ScratchDir dir;
    dir.write_json("tokenizer.json", tokenizer_json);
    expect_same_tokenizer(from_vocab, BpeTokenizer::load(dir.path()), tiny_a_dir());
  }
  {
    SCOPED_TRACE("tokenizer.json + tokenizer_config.json (CodeGenTokenizer rebuilds from vocab and merges)");
    ScratchDir dir;
    dir.write_json("tokenizer.json", tokenizer_json);
    dir.copy_from(tiny_a_dir(), "tokenizer_config.json");
    dir.copy_from(tiny_a_dir(), "special_tokens_map.json");
    expect_same_tokenizer(from_vocab, BpeTokenizer::load(dir.path()), tiny_a_dir());
  }
  {
    SCOPED_TRACE("every file, as Imp-v1-3b ships them");
    ScratchDir dir;
    dir.write_json("tokenizer.json", tokenizer_json);
    for (const char* name :
         {"vocab.json", "merges.txt", "added_tokens.json", "tokenizer_config.json", "special_tokens_map.json"}) {
      dir.copy_from(tiny_a_dir(), name);
    }
    expect_same_tokenizer(from_vocab, BpeTokenizer::load(dir.path()), tiny_a_dir());
  }
}

TEST(TokenizerSources, ImpTinyBTokenizerJsonEqualsVocabAndMerges) {
  const BpeTokenizer from_json = BpeTokenizer::load(tiny_b_dir());
  ScratchDir dir;
  write_vocab_and_merges_from_tokenizer_json(tiny_b_dir() / "tokenizer.json", dir);
  expect_same_tokenizer(from_json, BpeTokenizer::load(dir.path()), tiny_b_dir());
}

TEST(TokenizerSources, SkipSpecialDropsOnlySpecialTokens) {
  const BpeTokenizer tokenizer = BpeTokenizer::load(tiny_a_dir());
  EXPECT_TRUE(tokenizer.is_special(50256));   // <|endoftext|>
  EXPECT_TRUE(tokenizer.is_special(50295));   // </s>
  EXPECT_TRUE(tokenizer.is_special(50296));   // <image>
  EXPECT_FALSE(tokenizer.is_special(50286));  // "  ", an added token that is not special
  EXPECT_FALSE(tokenizer.is_special(995));    // " world"
  EXPECT_FALSE(tokenizer.is_special(-1));
  EXPECT_FALSE(tokenizer.is_special(999999));
  const std::vector<int32_t> ids = {50296, 198, 2061, 50286, 50295, 15496, 50256, 995};
  EXPECT_EQ(tokenizer.decode(ids), "<image>\nWhat  </s>Hello<|endoftext|> world");
  EXPECT_EQ(tokenizer.decode(ids, false), tokenizer.decode(ids));
  EXPECT_EQ(tokenizer.decode(ids, true), "\nWhat  Hello world");
  // A special token inside a multi-byte character does not break it when dropped.
  const std::vector<int32_t> split = {33768, 50256, 98};  // "日" is tokens 33768 + 98
  EXPECT_EQ(tokenizer.decode(split, true), "\xE6\x97\xA5");
}

// ---------------------------------------------------------------------------------------------
// Which source wins, and what tokenizer_config.json adds to tokenizer.json

// GPT-2's printable stand-in for a byte.
std::string byte_symbol(int byte) {
  const auto printable = [](int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; };
  int code_point = byte;
  if (!printable(byte)) {
    code_point = 256;
    for (int b = 0; b < byte; ++b) code_point += printable(b) ? 0 : 1;
  }
  if (code_point < 0x80) return std::string(1, static_cast<char>(code_point));
  return {static_cast<char>(0xC0 | (code_point >> 6)), static_cast<char>(0x80 | (code_point & 0x3F))};
}

// Bytes are ids 0..255, then "he" 256, "ll" 257, "hell" 258, "hello" 259, "Ġw" 260, "Ġwo" 261.
Json small_vocab() {
  Json vocab = Json::object();
  for (int byte = 0; byte < 256; ++byte) vocab[byte_symbol(byte)] = byte;
  int next = 256;
  for (const char* token : {"he", "ll", "hell", "hello", "\xC4\xA0w", "\xC4\xA0wo"}) vocab[token] = next++;
  return vocab;
}
const std::vector<std::string> kSmallMerges = {"h e", "l l", "he ll", "hell o", "\xC4\xA0 w", "\xC4\xA0w o"};

Json small_tokenizer_json(const Json& vocab, bool add_prefix_space) {
  Json root;
  root["normalizer"] = nullptr;
  root["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", add_prefix_space}, {"use_regex", true}};
  root["model"] = {{"type", "BPE"}, {"vocab", vocab}, {"merges", kSmallMerges}};
  root["added_tokens"] = Json::array({
      {{"id", 300}, {"content", "<m>"}, {"special", false}, {"normalized", false}},
      {{"id", 301}, {"content", "<s>"}, {"special", true}, {"normalized", false}},
  });
  return root;
}

std::string small_merges_txt() {
  std::string text = "#version: 0.2\n";
  for (const std::string& merge : kSmallMerges) text += merge + "\n";
  return text;
}

TEST(TokenizerSources, TokenizerJsonWinsOverVocabAndMerges) {
  // tokenizer.json swaps the ids of "hello" and "Ġwo"; vocab.json has them as listed above.
  Json swapped = small_vocab();
  swapped["hello"] = 261;
  swapped["\xC4\xA0wo"] = 259;
  ScratchDir dir;
  dir.write_json("vocab.json", small_vocab());
  dir.write("merges.txt", small_merges_txt());
  EXPECT_EQ(BpeTokenizer::load(dir.path()).encode("hello wo"), (std::vector<int32_t>{259, 261}));
  dir.write_json("tokenizer.json", small_tokenizer_json(swapped, false));
  const BpeTokenizer tokenizer = BpeTokenizer::load(dir.path());
  EXPECT_EQ(tokenizer.encode("hello wo"), (std::vector<int32_t>{261, 259}));
  EXPECT_EQ(tokenizer.token_bytes(261), "hello");
  EXPECT_EQ(tokenizer.token_id("<s>"), 301);  // tokenizer.json's added tokens are there
  // A broken tokenizer.json is read, not skipped for the vocab.json + merges.txt beside it.
  dir.write("tokenizer.json", "not json at all");
  try {
    BpeTokenizer::load(dir.path());
    FAIL() << "expected an Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tokenizer.json"), std::string::npos) << e.what();
  }
}

TEST(TokenizerSources, CodeGenTokenizerClassTakesPrefixSpaceFromConfig) {
  ScratchDir dir;
  dir.write_json("tokenizer.json", small_tokenizer_json(small_vocab(), /*add_prefix_space=*/true));
  EXPECT_EQ(BpeTokenizer::load(dir.path()).encode("hello"), (std::vector<int32_t>{' ', 259}));
  // A class that keeps tokenizer.json's pre-tokenizer: its add_prefix_space stands.
  dir.write_json("tokenizer_config.json",
                 {{"tokenizer_class", "PreTrainedTokenizerFast"}, {"add_prefix_space", false}});
  EXPECT_EQ(BpeTokenizer::load(dir.path()).encode("hello"), (std::vector<int32_t>{' ', 259}));
  // CodeGenTokenizer builds its own ByteLevel pre-tokenizer: add_prefix_space defaults to false.
  dir.write_json("tokenizer_config.json", {{"tokenizer_class", "CodeGenTokenizer"}});
  EXPECT_EQ(BpeTokenizer::load(dir.path()).encode("hello"), (std::vector<int32_t>{259}));
  dir.write_json("tokenizer_config.json", {{"tokenizer_class", "CodeGenTokenizerFast"}, {"add_prefix_space", true}});
  EXPECT_EQ(BpeTokenizer::load(dir.path()).encode("hello"), (std::vector<int32_t>{' ', 259}));
  dir.write_json("tokenizer_config.json", {{"tokenizer_class", 3}});
  EXPECT_THROW(BpeTokenizer::load(dir.path()), Error);
}

// A tokenizer_class Lumen does not implement is refused at load, naming the key and value,
// whichever source the files are.
TEST(TokenizerSources, RefusesTokenizerClassesItDoesNotImplement) {
  ScratchDir dir;
  dir.write_json("tokenizer.json", small_tokenizer_json(small_vocab(), false));
  for (const char* name : {"LlamaTokenizer", "BertTokenizerFast", "T5Tokenizer"}) {
    SCOPED_TRACE(name);
    dir.write_json("tokenizer_config.json", {{"tokenizer_class", name}});
    try {
      BpeTokenizer::load(dir.path());
      ADD_FAILURE() << "expected an Error";
    } catch (const Error& e) {
      const std::string message = e.what();
      EXPECT_NE(message.find(std::string("tokenizer_class = \"") + name + "\" is not supported"), std::string::npos)
          << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    }
  }
  dir.write_json("tokenizer_config.json", {{"tokenizer_class", "GPT2TokenizerFast"}});
  EXPECT_NO_THROW(BpeTokenizer::load(dir.path()));
}

TEST(TokenizerSources, ConfigAddedTokensOnTopOfTokenizerJson) {
  ScratchDir dir;
  dir.write_json("tokenizer.json", small_tokenizer_json(small_vocab(), false));
  {
    const BpeTokenizer tokenizer = BpeTokenizer::load(dir.path());
    EXPECT_FALSE(tokenizer.is_special(300));
    EXPECT_TRUE(tokenizer.is_special(301));
    EXPECT_EQ(tokenizer.decode(tokenizer.encode("he<m>ll<s>o"), true), "he<m>llo");
  }
  const Json decoder = {{"300", {{"content", "<m>"}, {"special", true}, {"normalized", false}}},
                        {"302", {{"content", "<n>"}, {"special", false}, {"normalized", false}}}};
  {
    SCOPED_TRACE("no class: tokenizer.json's tokens, then the config's new ones; \"special\" sticks");
    dir.write_json("tokenizer_config.json", {{"added_tokens_decoder", decoder}});
    const BpeTokenizer tokenizer = BpeTokenizer::load(dir.path());
    EXPECT_TRUE(tokenizer.is_special(300));
    EXPECT_TRUE(tokenizer.is_special(301));
    EXPECT_FALSE(tokenizer.is_special(302));
    EXPECT_EQ(tokenizer.encode("<m><s><n>"), (std::vector<int32_t>{300, 301, 302}));
    EXPECT_EQ(tokenizer.decode(std::vector<int32_t>{300, 'a', 301, 302}, true), "a<n>");
  }
  {
    SCOPED_TRACE("CodeGenTokenizer: the config's added_tokens_decoder is the whole list");
    dir.write_json("tokenizer_config.json",
                   {{"tokenizer_class", "CodeGenTokenizer"}, {"added_tokens_decoder", decoder}});
    const BpeTokenizer tokenizer = BpeTokenizer::load(dir.path());
    EXPECT_EQ(tokenizer.token_id("<s>"), std::nullopt);
    EXPECT_EQ(tokenizer.encode("<m><n>"), (std::vector<int32_t>{300, 302}));
    EXPECT_TRUE(tokenizer.is_special(300));
    EXPECT_FALSE(tokenizer.is_special(301));
  }
  {
    SCOPED_TRACE("no added_tokens_decoder: the legacy added_tokens.json adds its new tokens");
    dir.write_json("tokenizer_config.json", {{"tokenizer_class", "CodeGenTokenizer"}});
    dir.write_json("added_tokens.json", {{"<m>", 300}, {"<q>", 303}});
    const BpeTokenizer tokenizer = BpeTokenizer::load(dir.path());
    EXPECT_EQ(tokenizer.encode("<m><s><q>"), (std::vector<int32_t>{300, 301, 303}));
    EXPECT_FALSE(tokenizer.is_special(303));
    fs::remove(dir.path() / "added_tokens.json");
  }
}

TEST(TokenizerSources, NamedSpecialTokensOnTopOfTokenizerJson) {
  ScratchDir dir;
  dir.write_json("tokenizer.json", small_tokenizer_json(small_vocab(), false));
  EXPECT_EQ(BpeTokenizer::load(dir.path()).encode("hello"), (std::vector<int32_t>{259}));
  // "<m>" is an added token (now special), "ll" a vocab entry (now a special added token, split
  // out before BPE), "<e>" is nowhere (appended after the largest id, 301).
  dir.write_json("tokenizer_config.json",
                 {{"bos_token", "<m>"}, {"pad_token", {{"content", "ll"}}}, {"extra_special_tokens", {"<e>"}}});
  const BpeTokenizer tokenizer = BpeTokenizer::load(dir.path());
  EXPECT_TRUE(tokenizer.is_special(300));
  EXPECT_TRUE(tokenizer.is_special(257));
  EXPECT_EQ(tokenizer.encode("hello"), (std::vector<int32_t>{256, 257, 'o'}));
  EXPECT_EQ(tokenizer.encode("<e>"), (std::vector<int32_t>{302}));
  EXPECT_TRUE(tokenizer.is_special(302));
  EXPECT_EQ(tokenizer.vocab_size(), 303u);
  EXPECT_EQ(tokenizer.decode(tokenizer.encode("<m>hello<e>"), true), "heo");
  // special_tokens_map.json is a legacy file, read only without "added_tokens_decoder".
  dir.write_json("tokenizer_config.json", Json::object());
  dir.write_json("special_tokens_map.json", {{"eos_token", "<m>"}});
  EXPECT_TRUE(BpeTokenizer::load(dir.path()).is_special(300));
  dir.write_json("tokenizer_config.json", {{"added_tokens_decoder", Json::object()}});
  EXPECT_FALSE(BpeTokenizer::load(dir.path()).is_special(300));
}

}  // namespace
}  // namespace lumen
