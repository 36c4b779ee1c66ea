// GPT-2 style byte-level BPE tokenizer, as used by Phi-2 and Imp (Hugging Face CodeGenTokenizer)
// and by Qwen2 (Qwen2Tokenizer: its own regex, NFC).
//
// The goal is to produce exactly the ids Hugging Face transformers produces, so that prompts fed
// to the model match the ones the reference outputs were recorded with. The pipeline is HF's:
//   1. split added tokens out of the text (<image>, </s>, <|endoftext|>, Phi-2's runs of spaces
//      and tabs), leftmost-longest, special (non-normalized) tokens first, then normalized ones;
//   2. split each remaining piece with the GPT-2 pre-tokenizer regex (hand-written, see
//      pretokenize.cpp for the Unicode coverage);
//   3. map every byte to its printable GPT-2 stand-in character and apply BPE merges by rank.
//
// Every file is treated as untrusted: malformed content raises lumen::Error naming the file.
// A loaded tokenizer is immutable, so encode/decode may be called from several threads at once.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lumen/text/added_tokens.h"
#include "lumen/text/tokenizer.h"

namespace lumen {

class BpeTokenizer final : public Tokenizer {
 public:
  // Loads from a Hugging Face model directory, choosing the source the way transformers 5's
  // AutoTokenizer does:
  //  (a) tokenizer.json when present (the fast tokenizer; Imp-v1-3b ships it beside vocab.json +
  //      merges.txt), a "BPE" model with a ByteLevel pre-tokenizer, or with Qwen2's: a Split on
//      its regex (or Llama 3's) before ByteLevel without regex, and an NFC normalizer, applied
//      to the text between added tokens. What tokenizer_config.json
  //      adds is honoured as transformers applies it on top of tokenizer.json:
  //       - tokenizer_class CodeGenTokenizer or GPT2Tokenizer (with or without "Fast"): these
  //         classes keep only the vocab and merges of tokenizer.json and rebuild the rest, so
  //         add_prefix_space comes from tokenizer_config.json (default false), the GPT-2 regex is
  //         always used, and when tokenizer_config.json has "added_tokens_decoder" it alone
  //         lists the added tokens (tokenizer.json's "added_tokens" are then not read);
  //       - any other class, or no tokenizer_config.json: tokenizer.json's pre-tokenizer and
  //         "added_tokens" as they are; entries of "added_tokens_decoder" (or, without it,
  //         added_tokens.json) whose content tokenizer.json lacks are added, and for a content
  //         it has, "special": true makes it special;
  //       - bos/eos/unk/sep/pad/cls/mask and additional/extra special tokens named in
  //         tokenizer_config.json (and special_tokens_map.json when there is no
  //         "added_tokens_decoder"; CodeGen's defaults bos = eos = unk = "<|endoftext|>") are
  //         special: an added token so named is marked special, a vocab entry becomes a special
  //         added token, and a name found nowhere is appended after the largest id.
  //  (b) otherwise vocab.json + merges.txt, with added tokens from added_tokens.json and/or the
  //      "added_tokens_decoder" of tokenizer_config.json; tokens named as above in
  //      tokenizer_config.json or special_tokens_map.json (and "<|endoftext|>") that are plain
  //      vocab entries become special added tokens, and named added tokens are marked special.
  // Throws lumen::Error naming the offending file on missing files, malformed JSON, ids out of
  // range, merges that refer to tokens not in the vocab, or unsupported tokenizer features.
  static BpeTokenizer load(const std::filesystem::path& model_dir);

  using Tokenizer::decode;
  std::vector<int32_t> encode(std::string_view text) const override;  // no BOS added
  // Concatenated token bytes, with invalid UTF-8 replaced by U+FFFD the way HF does it (one
  // replacement per maximal invalid subsequence). Ids without a token decode to nothing.
  // With skip_special, ids of special added tokens (is_special) are dropped first, as HF's
  // decode(skip_special_tokens=True) does; Imp's model card decodes its answers that way.
  std::string decode(std::span<const int32_t> ids, bool skip_special) const override;
  // True for an added token marked special: "special": true in tokenizer.json or
  // tokenizer_config.json, or named as bos/eos/unk/... (see load). False for every other id.
  bool is_special(int32_t id) const override;
  // Raw bytes of one token, possibly an incomplete UTF-8 sequence ("" if the id has no token);
  // meant for streaming, where the caller joins bytes until they form whole characters.
  std::string token_bytes(int32_t id) const override;
  // Exact lookup of an added token's content or of a vocab entry in its byte-level-encoded form
  // ("Ġworld", not " world").
  std::optional<int32_t> token_id(std::string_view token_text) const override;
  std::string describe() const override;
  size_t vocab_size() const override { return vocab_size_; }  // largest id + 1

 private:
  struct Merge {
    int32_t rank = 0;
    int32_t merged_id = 0;
  };

  // Heterogeneous lookup so token_id(string_view) does not allocate.
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using StringToId = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

  class Loader;  // parses the files and fills a tokenizer; lives in bpe_tokenizer.cpp

  void encode_plain(std::string_view text, std::vector<int32_t>* out) const;
  void encode_piece(std::string_view piece, std::vector<int32_t>* out) const;

  std::string_view bytes_of(int32_t id) const;

  StringToId vocab_;  // byte-level-encoded token text -> id
  // Raw bytes of vocab token id: token_blob_[token_offsets_[id], token_offsets_[id + 1]). One
  // blob plus offsets keeps a sparse hostile vocab ({"a": 4000000}) from costing much memory.
  std::string token_blob_;
  std::vector<uint32_t> token_offsets_;
  std::unordered_map<uint64_t, Merge> merges_;  // (left id << 32 | right id) -> merge
  std::array<int32_t, 256> byte_ids_{};         // id of the single-byte token for each byte

  AddedTokenSet added_;

  bool add_prefix_space_ = false;  // ByteLevel add_prefix_space: " " before each plain segment
  bool use_regex_ = true;          // ByteLevel use_regex: false means no GPT-2 split
  // How text is split before BPE: ByteLevel's GPT-2 regex (if use_regex_), or a Split regex.
  enum class PreTokenizer { kByteLevel, kQwen2, kLlama3 };
  PreTokenizer split_ = PreTokenizer::kByteLevel;
  bool nfc_ = false;  // an NFC normalizer (Qwen2), applied to the text between added tokens
  bool ignore_merges_ = false;     // BPE ignore_merges: whole pieces found in the vocab win
  size_t vocab_size_ = 0;
};

// Text-level building blocks (pretokenize.cpp), exposed for tests.
namespace bpe_detail {

enum class CharClass : uint8_t { kOther, kLetter, kNumber, kSpace };

// \p{L} -> kLetter, \p{N} -> kNumber, \s -> kSpace, anything else -> kOther.
CharClass classify(char32_t code_point);

struct DecodedChar {
  char32_t code_point = 0;
  uint32_t length = 1;  // bytes consumed; 1 for an invalid byte
  bool valid = false;   // false: an invalid byte, which the pre-tokenizer treats as kOther
};
// Strict UTF-8 decoding of the character at text[pos] (pos < text.size()): overlong forms,
// surrogates and values above U+10FFFF are invalid.
DecodedChar decode_utf8_at(std::string_view text, size_t pos);

// Splits text the way the GPT-2 regex
//   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// does. The pieces are views into text and cover it exactly.
std::vector<std::string_view> pretokenize(std::string_view text);
// Qwen2's pre-tokenizer regex (max_digits 1; Llama 3's is the same with 3):
//   (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}
//   | ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
std::vector<std::string_view> pretokenize_qwen2(std::string_view text, int max_digits = 1);
// NFC (canonical composition), through ICU, of each valid UTF-8 run; invalid bytes pass through.
std::string nfc(std::string_view text);

// bytes as UTF-8, each maximal invalid subsequence replaced by U+FFFD (what Python's
// bytes.decode(errors="replace") and Rust's String::from_utf8_lossy both do).
std::string utf8_lossy(std::string_view bytes);

// GPT-2's printable stand-in for a byte, as UTF-8 (byte ' ' -> "Ġ", byte 'a' -> "a").
std::string_view byte_symbol(uint8_t byte);
// Byte-level token text back to raw bytes ("Ġworld" -> " world"). Like HF's ByteLevel decoder,
// a token with a character outside the alphabet is returned as it is.
std::string byte_level_decode(std::string_view token);

// Length of the whitespace character at text[pos] / ending right before text[end]; 0 if none.
size_t whitespace_length_at(std::string_view text, size_t pos);
size_t whitespace_length_before(std::string_view text, size_t end);

}  // namespace bpe_detail
}  // namespace lumen
