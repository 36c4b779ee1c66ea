#include "lumen/text/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include <cctype>

#include "lumen/core/error.h"
#include "lumen/core/mapped_file.h"
#include "lumen/formats/json_util.h"

namespace lumen {

SentencePieceTokenizer::SentencePieceTokenizer() = default;
SentencePieceTokenizer::SentencePieceTokenizer(SentencePieceTokenizer&&) noexcept = default;
SentencePieceTokenizer& SentencePieceTokenizer::operator=(SentencePieceTokenizer&&) noexcept = default;
SentencePieceTokenizer::~SentencePieceTokenizer() = default;

SentencePieceTokenizer SentencePieceTokenizer::load(const std::filesystem::path& model_file) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(model_file, ec)) {
    fail_kind(ErrorKind::kNotFound, model_file.string(), ": no SentencePiece model (spiece.model) here");
  }
  SentencePieceTokenizer tokenizer;
  tokenizer.processor_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
  const auto status = tokenizer.processor_->Load(model_file.string());
  if (!status.ok()) fail(model_file.string(), ": not a SentencePiece model (", status.ToString(), ")");
  return tokenizer;
}

std::vector<int32_t> SentencePieceTokenizer::encode(std::string_view text) const {
  if (!processor_) fail_kind(ErrorKind::kInternal, "SentencePiece tokenizer used before load");
  std::vector<int> ids;
  const auto status = processor_->Encode(std::string(text), &ids);
  if (!status.ok()) fail("SentencePiece could not encode the text: ", status.ToString());
  return std::vector<int32_t>(ids.begin(), ids.end());
}

std::string SentencePieceTokenizer::decode(const std::vector<int32_t>& ids) const {
  if (!processor_) fail_kind(ErrorKind::kInternal, "SentencePiece tokenizer used before load");
  std::vector<int> in(ids.begin(), ids.end());
  for (int id : in) {
    if (id < 0 || id >= processor_->GetPieceSize()) fail("token id ", id, " is outside the vocabulary");
  }
  std::string text;
  const auto status = processor_->Decode(in, &text);
  if (!status.ok()) fail("SentencePiece could not decode the ids: ", status.ToString());
  return text;
}

int32_t SentencePieceTokenizer::piece_id(std::string_view piece) const {
  if (!processor_) return -1;
  const int id = processor_->PieceToId(std::string(piece));
  // PieceToId answers unk_id for unknown pieces; only the unk piece itself maps there honestly.
  if (id == processor_->unk_id() && processor_->IdToPiece(id) != piece) return -1;
  return id;
}

int64_t SentencePieceTokenizer::vocab_size() const { return processor_ ? processor_->GetPieceSize() : 0; }

std::string siglip_canonicalize_text(std::string_view text, bool lower_case) {
  // Python's string.punctuation is exactly the ASCII punctuation std::ispunct accepts in the C
  // locale; whitespace as re's \s for ASCII. Non-ASCII bytes pass through unchanged.
  std::string out;
  out.reserve(text.size());
  bool pending_space = false;
  for (unsigned char c : text) {
    if (c < 0x80 && std::ispunct(c)) continue;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(lower_case && c < 0x80 ? static_cast<char>(std::tolower(c)) : static_cast<char>(c));
  }
  return out;
}

SiglipTextTokenizer SiglipTextTokenizer::load(const std::filesystem::path& dir, int64_t max_length_override) {
  SiglipTextTokenizer tokenizer;
  tokenizer.pieces_ = SentencePieceTokenizer::load(dir / "spiece.model");
  const auto config_path = dir / "tokenizer_config.json";
  std::error_code ec;
  if (std::filesystem::exists(config_path, ec)) {
    const std::string label = config_path.string();
    const nlohmann::json config = json_util::parse(read_text_file(config_path, 16u << 20), label);
    if (!config.is_object()) fail(label, ": expected a JSON object");
    // Tokenizer configs store "infinity" as 1e30 when no limit is set; keep the default then.
    if (auto n = json_util::get_number(config, {"model_max_length"}, label); n && *n >= 1 && *n <= 1 << 16) {
      tokenizer.options_.max_length = static_cast<int64_t>(*n);
    }
    if (auto lower = config.find("do_lower_case"); lower != config.end() && lower->is_boolean()) {
      tokenizer.options_.lower_case = lower->get<bool>();
    }
  }
  if (max_length_override > 0) tokenizer.options_.max_length = max_length_override;
  tokenizer.eos_id_ = tokenizer.pieces_.piece_id("</s>");
  if (tokenizer.eos_id_ < 0) fail(dir.string(), "/spiece.model: no </s> piece, which SigLIP's tokenizer needs");
  tokenizer.pad_id_ = tokenizer.eos_id_;  // SigLIP pads with </s>
  return tokenizer;
}

std::vector<int32_t> SiglipTextTokenizer::encode(std::string_view text) const {
  const std::string canonical = siglip_canonicalize_text(text, options_.lower_case);
  std::vector<int32_t> ids = canonical.empty() ? std::vector<int32_t>{} : pieces_.encode(canonical);
  const size_t room = static_cast<size_t>(options_.max_length - 1);
  if (ids.size() > room) ids.resize(room);
  ids.push_back(eos_id_);
  ids.resize(static_cast<size_t>(options_.max_length), pad_id_);
  return ids;
}

}  // namespace lumen
