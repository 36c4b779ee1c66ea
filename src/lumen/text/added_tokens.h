// Hugging Face "added tokens" (<image>, <|end|>, </s>, Phi-2's runs of spaces, ...): strings a
// tokenizer cuts out of the text before its model (BPE, SentencePiece) sees the rest, and the
// tokenizer files that list them. Shared by every tokenizer family Lumen reads.
//
// HF's order is kept: the non-normalized tokens are matched first, leftmost-longest, and the
// normalized ones only in the text left between them; lstrip/rstrip swallow whitespace beside a
// match. Every file is untrusted: malformed content raises lumen::Error naming the file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace lumen {

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = false;     // "special": true in HF: is_special(), dropped by decode(skip_special)
  bool normalized = false;  // matched in the second pass, after the non-normalized tokens
  bool lstrip = false;      // the match swallows whitespace on its left
  bool rstrip = false;      // ... and on its right
};

class AddedTokenSet {
 public:
  // One piece of text between added tokens, or one added token.
  struct Segment {
    std::string_view text;
    int32_t id = -1;  // -1: plain text for the tokenizer's model
  };

  // Adds a token; the same (id, content) listed twice is kept once. Empty contents are ignored
  // (HF does: they would match everywhere). Throws Error naming `file` for a content over 1 KiB,
  // an id given two contents, or a content given two ids.
  void add(AddedToken token, const std::filesystem::path& file);
  void mark_special(std::string_view content);

  const AddedToken* find(int32_t id) const;
  std::optional<int32_t> find_id(std::string_view content) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }
  int64_t largest_id() const;  // -1 when there are none

  // kTwo: transformers' fast tokenizers (tokenizer.json): the non-normalized tokens first, then
  // the normalized ones in what is left. kOne: its slow tokenizers (PreTrainedTokenizer), one
  // trie over every added token.
  enum class Passes { kTwo, kOne };
  // Cuts text at the added tokens; the segments are views into text.
  void split(std::string_view text, std::vector<Segment>* out, Passes passes = Passes::kTwo) const;

 private:
  // Byte trie over contents, for leftmost-longest matching.
  struct Trie {
    struct Node {
      std::vector<std::pair<uint8_t, int32_t>> children;  // (byte, node index), sorted by byte
      int32_t token_index = -1;                           // index into tokens_, or -1
    };
    std::vector<Node> nodes{Node{}};
    void insert(std::string_view content, int32_t token_index);
    int32_t child(int32_t node, uint8_t byte) const;
  };
  void split_pass(std::string_view text, const Trie& trie, std::vector<Segment>* out) const;

  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::vector<AddedToken> tokens_;
  std::unordered_map<int32_t, int32_t> index_by_id_;
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> id_by_content_;
  Trie special_trie_;     // non-normalized tokens: matched first
  Trie normalized_trie_;  // normalized tokens: matched in what is left
  Trie all_trie_;         // every token, for Passes::kOne
};

// Reading the JSON files that sit beside every HF tokenizer (tokenizer_config.json,
// added_tokens.json, special_tokens_map.json). Each throws Error naming the file.
namespace tokenizer_files {

// Ids above this are refused: real vocabularies stay far below (the largest are ~1M), and a
// hostile file must not make id-indexed tables huge.
constexpr int64_t kMaxTokenId = (int64_t{1} << 22) - 1;

// Without throwing std::filesystem_error: an unreadable path counts as absent.
bool file_exists(const std::filesystem::path& path);
nlohmann::json parse_json_file(const std::filesystem::path& path);
nlohmann::json parse_json_object_file(const std::filesystem::path& path);
// parse_json_object_file, or an empty object when the file is absent.
nlohmann::json optional_json_object_file(const std::filesystem::path& path);

// Token text for error messages: quoted and cut short, since a hostile file controls it.
std::string quoted_token(std::string_view text);
bool bool_field(const nlohmann::json& object, const char* key, bool fallback, const std::filesystem::path& file);
int32_t parse_token_id(const nlohmann::json& value, const std::filesystem::path& file, std::string_view what);
// "<s>" or {"content": "<s>", ...}, as tokenizer_config.json writes special tokens.
std::optional<std::string> token_content(const nlohmann::json& value);

// {"content": ..., "special": ..., "normalized": ..., "lstrip": ..., "rstrip": ...}
AddedToken parse_token_object(const nlohmann::json& object, const nlohmann::json& id,
                              const std::filesystem::path& file);
// tokenizer_config.json's {"50256": {"content": ...}, ...}
std::vector<AddedToken> parse_added_tokens_decoder(const nlohmann::json& decoder, const std::filesystem::path& file);
// added_tokens.json's {"<image>": 50296, ...}: special when named bos/eos/..., and then not
// normalized, as transformers reads this legacy file.
std::vector<AddedToken> parse_added_tokens_json(const std::filesystem::path& file,
                                                const std::vector<std::string>& special_names);
// transformers 5's SPECIAL_TOKENS_ATTRIBUTES (bos, eos, unk, sep, pad, cls, mask) plus the
// additional (v4 name) / extra (v5 name) special tokens given as a list.
void collect_special_names(const nlohmann::json& config, std::vector<std::string>* names);

}  // namespace tokenizer_files
}  // namespace lumen
