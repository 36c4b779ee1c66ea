// SentencePiece tokenizers through Debian's libsentencepiece (spiece.model), and SigLIP's text
// rules on top (HF SiglipTokenizer): lower-case, strip ASCII punctuation, collapse whitespace,
// append </s>, then pad with the pad id (</s> for SigLIP) or truncate to max_length, keeping
// the final </s>.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace lumen {

class SentencePieceTokenizer {
 public:
  // Throws Error if the file is missing or is not a SentencePiece model.
  static SentencePieceTokenizer load(const std::filesystem::path& model_file);
  SentencePieceTokenizer();
  SentencePieceTokenizer(SentencePieceTokenizer&&) noexcept;
  SentencePieceTokenizer& operator=(SentencePieceTokenizer&&) noexcept;
  ~SentencePieceTokenizer();

  // Plain SentencePiece ids (the model's own normaliser, dummy "▁" prefix), no special tokens.
  std::vector<int32_t> encode(std::string_view text) const;
  std::string decode(const std::vector<int32_t>& ids) const;
  // The id of `piece`, or -1 when it is not in the vocabulary.
  int32_t piece_id(std::string_view piece) const;
  int64_t vocab_size() const;

 private:
  std::unique_ptr<sentencepiece::SentencePieceProcessor> processor_;
};

// SigLIP text preprocessing before SentencePiece (SiglipTokenizer.canonicalize_text with
// do_lower_case): ASCII punctuation removed, runs of whitespace become one space, ends trimmed,
// ASCII lower-cased when lower_case.
std::string siglip_canonicalize_text(std::string_view text, bool lower_case = true);

struct SiglipTokenizerOptions {
  int64_t max_length = 64;  // SigLIP checkpoints: 64 (model_max_length in tokenizer_config.json)
  bool lower_case = true;   // do_lower_case
};

class SiglipTextTokenizer {
 public:
  // Reads DIR/spiece.model and, when present, DIR/tokenizer_config.json (model_max_length,
  // do_lower_case). max_length_override > 0 wins over the file. Throws Error.
  static SiglipTextTokenizer load(const std::filesystem::path& dir, int64_t max_length_override = 0);

  // Exactly max_length ids: canonicalised pieces, </s>, then pad (truncated to leave room for </s>).
  std::vector<int32_t> encode(std::string_view text) const;
  int64_t max_length() const { return options_.max_length; }
  int32_t eos_id() const { return eos_id_; }
  int32_t pad_id() const { return pad_id_; }
  const SentencePieceTokenizer& pieces() const { return pieces_; }

 private:
  SentencePieceTokenizer pieces_;
  SiglipTokenizerOptions options_;
  int32_t eos_id_ = 1;
  int32_t pad_id_ = 1;
};

}  // namespace lumen
