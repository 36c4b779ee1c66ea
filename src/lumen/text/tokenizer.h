// What the runtime needs of a tokenizer, whichever algorithm a checkpoint uses:
//  - byte-level BPE (BpeTokenizer): Phi-2 / Imp-v1 (CodeGenTokenizer), Qwen2 (Qwen2Tokenizer);
//  - SentencePiece (SentencePieceHfTokenizer): Llama / Vicuna (LLaVA-1.5) and Phi-3
//    (LlamaTokenizer, tokenizer.model).
// A loaded tokenizer is immutable, so it may be used from several threads at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lumen {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // The ids transformers' tokenizer(text).input_ids gives: added tokens (<image>, <|end|>, ...)
  // split out first, and the beginning/end tokens the tokenizer adds itself (LlamaTokenizer's
  // add_bos_token; the byte-level BPE tokenizers add none).
  virtual std::vector<int32_t> encode(std::string_view text) const = 0;
  // HF's decode(ids, skip_special_tokens=skip_special), with invalid UTF-8 replaced by U+FFFD.
  virtual std::string decode(std::span<const int32_t> ids, bool skip_special) const = 0;
  std::string decode(std::span<const int32_t> ids) const { return decode(ids, false); }
  // True for the ids decode(skip_special) drops.
  virtual bool is_special(int32_t id) const = 0;
  // Raw bytes of one token as it appears inside a text (SentencePiece's "▁" is a space),
  // possibly an incomplete UTF-8 sequence; "" for an id without a token. For streaming.
  virtual std::string token_bytes(int32_t id) const = 0;
  // Exact lookup of an added token's content or of a vocabulary entry in the model's own
  // spelling ("Ġworld" for byte-level BPE, "▁world" for SentencePiece).
  virtual std::optional<int32_t> token_id(std::string_view token_text) const = 0;
  virtual size_t vocab_size() const = 0;  // largest id + 1
  // The id encode() puts first, when it adds one (HF's bos_token with add_bos_token).
  virtual std::optional<int32_t> bos_id() const { return std::nullopt; }
  // HF's bos_token_id whether or not encode() adds it (LlamaTokenizer's bos_token). The
  // byte-level BPE tokenizers report none.
  virtual std::optional<int32_t> bos_token_id() const { return std::nullopt; }
  // For `lumen info`: "byte-level BPE (tokenizer.json)", "SentencePiece (tokenizer.model)", ...
  virtual std::string describe() const = 0;
};

// How a prompt's text marks an image, in every chat template.
inline constexpr std::string_view kImageMarkerText = "<image>";

// LLaVA's tokenizer_image_token (llava/mm_utils.py, which Imp keeps): text cut at each
// image_text, each piece tokenized on its own, image_id between them; when the first piece
// starts with the tokenizer's bos_token_id, one BOS is kept at the start and each piece's first
// id dropped.
std::vector<int32_t> encode_split_at_images(const Tokenizer& tokenizer, std::string_view text,
                                            std::string_view image_text, int32_t image_id);

// True when the directory holds tokenizer files Lumen reads (tokenizer.model, tokenizer.json,
// vocab.json or merges.txt: half a pair counts, so that loading names the missing half).
bool has_tokenizer_files(const std::filesystem::path& model_dir);

// Picks the algorithm as transformers' AutoTokenizer would for the checkpoints Lumen runs:
// tokenizer_config.json's tokenizer_class LlamaTokenizer(Fast) (or no class, no tokenizer.json
// and a tokenizer.model) -> SentencePiece from tokenizer.model; otherwise byte-level BPE.
// Throws Error naming the file on missing or malformed files.
std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& model_dir);

}  // namespace lumen
