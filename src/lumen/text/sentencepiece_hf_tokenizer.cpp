#include "lumen/text/sentencepiece_hf_tokenizer.h"

#include <sentencepiece_processor.h>

#include <algorithm>

#include <nlohmann/json.hpp>

#include "lumen/core/error.h"
#include "lumen/core/mapped_file.h"
#include "lumen/text/bpe_tokenizer.h"  // bpe_detail::utf8_lossy

namespace lumen {
namespace {
namespace fs = std::filesystem;
using Json = nlohmann::json;
using namespace tokenizer_files;

constexpr std::string_view kSpiecePrefix = "\xE2\x96\x81";  // "▁", U+2581
constexpr size_t kMaxModelBytes = size_t{256} << 20;
constexpr size_t kMaxEncodeBytes = size_t{1} << 30;

// " " for every "▁": a piece's text, or HF's text.replace(SPIECE_UNDERLINE, " ").
std::string spaces_for_prefix_marks(std::string_view piece) {
  std::string out;
  out.reserve(piece.size());
  for (size_t i = 0; i < piece.size();) {
    if (piece.substr(i, kSpiecePrefix.size()) == kSpiecePrefix) {
      out.push_back(' ');
      i += kSpiecePrefix.size();
    } else {
      out.push_back(piece[i++]);
    }
  }
  return out;
}

}  // namespace

namespace sentencepiece_detail {

std::string without_dummy_prefix(std::string_view model_proto) {
  // Protobuf merges a message field that occurs again into the first occurrence, field by field,
  // the later value winning: appending normalizer_spec { add_dummy_prefix: false } is exactly
  // transformers' model.normalizer_spec.MergeFrom(...), whatever the file already holds.
  //   0x1A = field 3 (normalizer_spec), length-delimited; 0x02 = its length;
  //   0x18 = field 3 (add_dummy_prefix), varint; 0x00 = false.
  std::string out(model_proto);
  out.append("\x1A\x02\x18\x00", 4);
  return out;
}

}  // namespace sentencepiece_detail

SentencePieceHfTokenizer::SentencePieceHfTokenizer() = default;
SentencePieceHfTokenizer::~SentencePieceHfTokenizer() = default;

std::unique_ptr<SentencePieceHfTokenizer> SentencePieceHfTokenizer::load(const fs::path& model_dir) {
  const fs::path model_file = model_dir / "tokenizer.model";
  if (!file_exists(model_file)) fail_kind(ErrorKind::kNotFound, model_file.string(), ": no such file");
  const fs::path config_file = model_dir / "tokenizer_config.json";
  const Json config = optional_json_object_file(config_file);

  auto t = std::unique_ptr<SentencePieceHfTokenizer>(new SentencePieceHfTokenizer());
  try {
    t->legacy_ = bool_field(config, "legacy", true, config_file);
    t->add_prefix_space_ = bool_field(config, "add_prefix_space", true, config_file);
    t->add_bos_ = bool_field(config, "add_bos_token", true, config_file);
    t->add_eos_ = bool_field(config, "add_eos_token", false, config_file);

    std::string proto = read_text_file(model_file, kMaxModelBytes);
    if (!t->legacy_) proto = sentencepiece_detail::without_dummy_prefix(proto);
    t->processor_ = std::make_unique<sentencepiece::SentencePieceProcessor>();
    const auto status = t->processor_->LoadFromSerializedProto(proto);
    if (!status.ok()) fail(model_file.string(), ": not a SentencePiece model (", status.ToString(), ")");
    const auto& sp = *t->processor_;

    // LlamaTokenizer's keyword defaults, unless the config names them (null included).
    auto named = [&](const char* key, const char* fallback) -> std::string {
      const auto it = config.find(key);
      if (it == config.end()) return fallback;
      return token_content(*it).value_or("");
    };
    const std::string bos = named("bos_token", "<s>");
    const std::string eos = named("eos_token", "</s>");
    t->unk_token_ = named("unk_token", "<unk>");

    std::vector<std::string> special_names{bos, eos, t->unk_token_};
    collect_special_names(config, &special_names);
    const auto decoder = config.find("added_tokens_decoder");
    const fs::path special_map_file = model_dir / "special_tokens_map.json";
    if (decoder == config.end() && file_exists(special_map_file)) {
      collect_special_names(parse_json_object_file(special_map_file), &special_names);
    }
    if (decoder != config.end()) {
      for (AddedToken& token : parse_added_tokens_decoder(*decoder, config_file)) {
        t->added_.add(std::move(token), config_file);
      }
    } else if (const fs::path added_file = model_dir / "added_tokens.json"; file_exists(added_file)) {
      for (AddedToken& token : parse_added_tokens_json(added_file, special_names)) {
        t->added_.add(std::move(token), added_file);
      }
    }
    // Named special tokens are matched in text as whole tokens (transformers registers them as
    // added tokens), with their SentencePiece id when the model has the piece.
    // A name the model has no piece for is added after the largest id, as tokenizers'
    // add_tokens does (the model's size while every added id is below it).
    for (const std::string& name : special_names) {
      if (name.empty() || t->added_.find_id(name)) continue;
      int64_t id = sp.PieceToId(name);
      if (id == sp.unk_id() && sp.IdToPiece(static_cast<int>(id)) != name) {
        id = std::max<int64_t>(sp.GetPieceSize(), t->added_.largest_id() + 1);
        if (id > kMaxTokenId) fail(config_file.string(), ": no token id left for special token ", quoted_token(name));
      }
      t->added_.add(AddedToken{.content = name, .id = static_cast<int32_t>(id), .special = true}, config_file);
    }
    t->named_special_ = special_names;
    for (const std::string& name : special_names) t->added_.mark_special(name);

    t->bos_ = bos.empty() ? -1 : t->token_id(bos).value_or(-1);
    t->eos_ = eos.empty() ? -1 : t->token_id(eos).value_or(-1);
    if (t->add_bos_ && t->bos_ < 0) {
      fail(config_file.string(), ": add_bos_token is set but bos_token ", quoted_token(bos), " is not a token");
    }
    if (t->add_eos_ && t->eos_ < 0) {
      fail(config_file.string(), ": add_eos_token is set but eos_token ", quoted_token(eos), " is not a token");
    }
    t->unk_token_length_ = t->encode_pieces(t->unk_token_).size();
    t->lone_prefix_id_ = t->token_id(kSpiecePrefix).value_or(-1);
    t->vocab_size_ = static_cast<size_t>(std::max<int64_t>(sp.GetPieceSize(), t->added_.largest_id() + 1));
  } catch (const Json::exception& e) {
    fail("tokenizer in ", model_dir.string(), ": unexpected JSON content: ", e.what());
  }
  return t;
}

std::vector<int32_t> SentencePieceHfTokenizer::encode_pieces(std::string_view text) const {
  std::vector<int> ids;
  const auto status = processor_->Encode(std::string(text), &ids);
  if (!status.ok()) fail("SentencePiece could not encode the text: ", status.ToString());
  return std::vector<int32_t>(ids.begin(), ids.end());
}

void SentencePieceHfTokenizer::encode_text(std::string_view text, std::vector<int32_t>* out) const {
  if (text.empty()) return;
  std::vector<int32_t> ids;
  if (!legacy_ && (text.starts_with(' ') || text.starts_with(kSpiecePrefix))) {
    // HF's _tokenize: behind unk_token, so that a model that strips leading whitespace keeps it;
    // the unk_token's own ids are then removed.
    ids = encode_pieces(unk_token_ + std::string(text));
    if (ids.size() >= unk_token_length_) ids.erase(ids.begin(), ids.begin() + static_cast<ptrdiff_t>(unk_token_length_));
  } else {
    ids = encode_pieces(text);
  }
  out->insert(out->end(), ids.begin(), ids.end());
}

std::vector<int32_t> SentencePieceHfTokenizer::encode(std::string_view text) const {
  if (text.size() > kMaxEncodeBytes) {
    fail_kind(ErrorKind::kLimitExceeded, "text to tokenize is ", text.size(), " bytes, more than the limit of ",
              kMaxEncodeBytes);
  }
  std::vector<int32_t> ids;
  if (add_bos_) ids.push_back(bos_);
  const size_t body = ids.size();
  std::string prepared;
  if (!legacy_ && !text.empty()) {
    prepared = spaces_for_prefix_marks(text);
    if (add_prefix_space_) prepared.insert(0, kSpiecePrefix);
    text = prepared;
  }
  std::vector<AddedTokenSet::Segment> segments;
  added_.split(text, &segments, AddedTokenSet::Passes::kOne);  // the slow tokenizer's single trie
  for (const AddedTokenSet::Segment& segment : segments) {
    if (segment.id >= 0) {
      ids.push_back(segment.id);
    } else {
      encode_text(segment.text, &ids);
    }
  }
  // HF: "if tokens[0] == SPIECE_UNDERLINE and tokens[1] in self.all_special_tokens", the prefix
  // put before a text that starts with a special token.
  const auto named_special = [&](int32_t id) {
    const AddedToken* added = added_.find(id);
    const std::string content = added ? added->content : processor_->IdToPiece(id);
    return std::find(named_special_.begin(), named_special_.end(), content) != named_special_.end();
  };
  if (!legacy_ && ids.size() > body + 1 && ids[body] == lone_prefix_id_ && named_special(ids[body + 1])) {
    ids.erase(ids.begin() + static_cast<ptrdiff_t>(body));
  }
  if (add_eos_) ids.push_back(eos_);
  return ids;
}

std::string SentencePieceHfTokenizer::token_bytes(int32_t id) const {
  if (const AddedToken* added = added_.find(id)) return added->content;
  if (id < 0 || id >= processor_->GetPieceSize() || processor_->IsControl(id)) return "";
  const std::string& piece = processor_->IdToPiece(id);
  if (processor_->IsByte(id)) {  // "<0x0A>"
    if (piece.size() == 6 && piece.starts_with("<0x") && piece.ends_with('>')) {
      return std::string(1, static_cast<char>(std::stoi(piece.substr(3, 2), nullptr, 16)));
    }
    return "";
  }
  if (processor_->IsUnknown(id)) return " \xE2\x81\x87 ";  // SentencePiece decodes unk as " ⁇ "
  return spaces_for_prefix_marks(piece);
}

std::string SentencePieceHfTokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  std::string bytes;
  bool first = true;
  for (int32_t id : ids) {
    if (skip_special && is_special(id)) continue;
    std::string piece = token_bytes(id);
    // The prefix SentencePiece (legacy) or HF (add_prefix_space) put before the text.
    if (first && !added_.find(id) && piece.starts_with(' ') && (legacy_ || add_prefix_space_)) piece.erase(0, 1);
    if (!piece.empty() || added_.find(id)) first = false;
    bytes += piece;
  }
  return bpe_detail::utf8_lossy(bytes);
}

bool SentencePieceHfTokenizer::is_special(int32_t id) const {
  if (const AddedToken* added = added_.find(id)) return added->special;
  return id >= 0 && id < processor_->GetPieceSize() && (processor_->IsControl(id) || processor_->IsUnknown(id));
}

std::optional<int32_t> SentencePieceHfTokenizer::token_id(std::string_view token_text) const {
  if (const auto id = added_.find_id(token_text)) return id;
  const std::string piece(token_text);
  const int id = processor_->PieceToId(piece);
  if (id == processor_->unk_id() && processor_->IdToPiece(id) != piece) return std::nullopt;
  return id;
}

std::optional<int32_t> SentencePieceHfTokenizer::bos_id() const {
  if (!add_bos_) return std::nullopt;
  return bos_;
}

std::optional<int32_t> SentencePieceHfTokenizer::bos_token_id() const {
  if (bos_ < 0) return std::nullopt;
  return bos_;
}

std::string SentencePieceHfTokenizer::describe() const {
  return std::string("SentencePiece (tokenizer.model, LlamaTokenizer") + (legacy_ ? ", legacy" : ", legacy: false") +
         (add_bos_ ? ", adds BOS" : "") + ")";
}

}  // namespace lumen
