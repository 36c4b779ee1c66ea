// Llama-family tokenizers as transformers' LlamaTokenizer runs them over a SentencePiece model
// (tokenizer.model, through Debian's libsentencepiece): LLaVA-1.5's Vicuna and Phi-3.
//
// What HF adds to plain SentencePiece (transformers/models/llama/tokenization_llama.py):
//  - added tokens (tokenizer_config.json's added_tokens_decoder, or added_tokens.json; the
//    named bos/eos/unk/pad tokens) are cut out first, leftmost-longest (added_tokens.h);
//  - legacy (the default): each piece of text between them is encoded on its own, so each gets
//    SentencePiece's dummy "▁" prefix, after special tokens too;
//  - legacy: false (Phi-3, recent llava-hf): the model's add_dummy_prefix is switched off, "▁"
//    is put before the whole text only (add_prefix_space, default true) and "▁" in the text
//    becomes a space; a lone "▁" left before a special token at the start is dropped; a piece
//    that starts with a space is encoded behind unk_token whose ids are then removed, as HF's
//    _tokenize does;
//  - add_bos_token (default true) puts bos_token first, add_eos_token (default false) eos last;
//  - decode drops one leading space (the prefix), skip_special drops control tokens too.
#pragma once

#include <filesystem>
#include <memory>

#include "lumen/text/added_tokens.h"
#include "lumen/text/tokenizer.h"

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace lumen {

class SentencePieceHfTokenizer final : public Tokenizer {
 public:
  // Reads DIR/tokenizer.model and, when present, tokenizer_config.json, added_tokens.json and
  // special_tokens_map.json. Throws Error naming the file.
  static std::unique_ptr<SentencePieceHfTokenizer> load(const std::filesystem::path& model_dir);
  ~SentencePieceHfTokenizer() override;

  using Tokenizer::decode;
  std::vector<int32_t> encode(std::string_view text) const override;
  std::string decode(std::span<const int32_t> ids, bool skip_special) const override;
  bool is_special(int32_t id) const override;
  std::string token_bytes(int32_t id) const override;
  std::optional<int32_t> token_id(std::string_view token_text) const override;
  size_t vocab_size() const override { return vocab_size_; }
  std::optional<int32_t> bos_id() const override;
  std::optional<int32_t> bos_token_id() const override;
  std::string describe() const override;

  bool legacy() const { return legacy_; }

 private:
  SentencePieceHfTokenizer();
  void encode_text(std::string_view text, std::vector<int32_t>* out) const;  // one piece between added tokens
  std::vector<int32_t> encode_pieces(std::string_view text) const;             // the processor, as it is

  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
  AddedTokenSet added_;
  bool legacy_ = true;
  bool add_prefix_space_ = true;
  bool add_bos_ = true;
  bool add_eos_ = false;
  int32_t bos_ = -1;  // -1: none
  int32_t eos_ = -1;
  std::string unk_token_ = "<unk>";
  // HF's all_special_tokens: the bos/eos/unk/pad/... and additional special tokens by name
  // (not every added token flagged special).
  std::vector<std::string> named_special_;
  size_t unk_token_length_ = 0;  // ids of unk_token on its own (non-legacy's _tokenize trick)
  int32_t lone_prefix_id_ = -1;  // the "▁" piece
  size_t vocab_size_ = 0;
};

namespace sentencepiece_detail {
// tokenizer.model (a serialized ModelProto) with normalizer_spec.add_dummy_prefix = false, the
// edit transformers makes for legacy: false: a normalizer_spec holding only that flag appended,
// which protobuf's parser merges into the model's own. libsentencepiece then parses the result.
std::string without_dummy_prefix(std::string_view model_proto);
}  // namespace sentencepiece_detail

}  // namespace lumen
