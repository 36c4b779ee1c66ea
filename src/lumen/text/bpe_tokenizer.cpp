#include "lumen/text/bpe_tokenizer.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <queue>
#include <utility>

#include "lumen/core/error.h"
#include "lumen/core/mapped_file.h"

namespace lumen {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;

using namespace tokenizer_files;  // file_exists, parse_*, quoted_token, kMaxTokenId, ...
// encode() keeps positions in 32-bit integers.
constexpr size_t kMaxEncodeBytes = size_t{1} << 30;

uint64_t pair_key(int32_t left, int32_t right) {
  return (uint64_t{static_cast<uint32_t>(left)} << 32) | static_cast<uint32_t>(right);
}

// tokenizer_config.json's tokenizer_class names the algorithm transformers would run. Lumen
// implements GPT-2 byte-level BPE: CodeGenTokenizer (Imp, Phi-2), GPT2Tokenizer (each with or
// without "Fast"), and PreTrainedTokenizerFast over a byte-level BPE tokenizer.json (whose
// model and pre-tokenizer the loader checks), and Qwen2Tokenizer (its regex and NFC). Anything
// else would split text differently, so it is refused rather than approximated.
void check_tokenizer_class(const fs::path& model_dir) {
  const fs::path file = model_dir / "tokenizer_config.json";
  if (!file_exists(file)) return;
  const Json config = parse_json_object_file(file);
  const auto it = config.find("tokenizer_class");
  if (it == config.end() || it->is_null()) return;
  if (!it->is_string()) fail(file.string(), ": \"tokenizer_class\" must be a string");
  const std::string& name = it->get_ref<const std::string&>();
  for (const char* known : {"CodeGenTokenizer", "CodeGenTokenizerFast", "GPT2Tokenizer", "GPT2TokenizerFast",
                            "Qwen2Tokenizer", "Qwen2TokenizerFast", "PreTrainedTokenizerFast"}) {
    if (name == known) return;
  }
  fail(file.string(), ": tokenizer_class = \"", name,
       "\" is not supported by the byte-level BPE tokenizer (CodeGenTokenizer, GPT2Tokenizer, Qwen2Tokenizer, "
       "PreTrainedTokenizerFast); LlamaTokenizer checkpoints need tokenizer.model");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Loading

class BpeTokenizer::Loader {
 public:
  explicit Loader(BpeTokenizer& tokenizer) : t_(tokenizer) {}

  // Source (b): vocab.json + merges.txt (+ tokenizer_config.json, added_tokens.json,
  // special_tokens_map.json when present).
  void load_vocab_and_merges(const fs::path& dir) {
    vocab_file_ = dir / "vocab.json";
    set_vocab(parse_json_file(vocab_file_), vocab_file_);
    load_merges_txt(dir / "merges.txt");

    std::vector<std::string> special_names;
    const fs::path config_file = dir / "tokenizer_config.json";
    const Json config = file_exists(config_file) ? parse_json_object_file(config_file) : Json::object();
    if (!config.empty()) {
      t_.add_prefix_space_ = bool_field(config, "add_prefix_space", false, config_file);
      if (const auto it = config.find("tokenizer_class"); it != config.end() && it->is_string() &&
                                                            it->get<std::string>().starts_with("Qwen2Tokenizer")) {
        // tokenization_qwen2.py: NFC, then its own regex, on the same byte-level BPE.
        t_.split_ = PreTokenizer::kQwen2;
        t_.nfc_ = true;
      }
      collect_special_names(config, &special_names);
      if (const auto it = config.find("added_tokens_decoder"); it != config.end()) {
        for (AddedToken& token : parse_added_tokens_decoder(*it, config_file)) {
          t_.added_.add(std::move(token), config_file);
        }
      }
    }
    const fs::path special_map_file = dir / "special_tokens_map.json";
    if (file_exists(special_map_file)) collect_special_names(parse_json_object_file(special_map_file), &special_names);
    const fs::path added_file = dir / "added_tokens.json";
    if (file_exists(added_file)) {
      for (AddedToken& token : parse_added_tokens_json(added_file, special_names)) {
        t_.added_.add(std::move(token), added_file);
      }
    }
    // transformers also sets "special" on an added token that is named bos/eos/... (CodeGen's
    // defaults included); this changes what decode(skip_special) drops, not how text is split.
    std::vector<std::string> named = special_names;
    add_codegen_default_names(config, &named);
    // bos/eos/unk/pad tokens that are plain vocab entries are still matched as special tokens,
    // as transformers registers them (GPT-2's "<|endoftext|>" when no config lists it).
    special_names.push_back("<|endoftext|>");
    for (const std::string& name : special_names) {
      const auto in_vocab = t_.vocab_.find(name);
      if (in_vocab != t_.vocab_.end() && !t_.added_.find_id(name) && !t_.added_.find(in_vocab->second)) {
        t_.added_.add(AddedToken{.content = name, .id = in_vocab->second, .special = true}, vocab_file_);
      }
    }
    for (const std::string& name : named) t_.added_.mark_special(name);
  }

  // Source (a): tokenizer.json, with what tokenizer_config.json adds to it (see the header).
  void load_tokenizer_json(const fs::path& dir) {
    const fs::path file = dir / "tokenizer.json";
    vocab_file_ = file;
    const Json root = parse_json_object_file(file);
    const auto model = root.find("model");
    if (model == root.end() || !model->is_object()) fail(file.string(), ": no \"model\" object");
    check_supported(root, *model, file);

    const fs::path config_file = dir / "tokenizer_config.json";
    const bool has_config = file_exists(config_file);
    const Json config = has_config ? parse_json_object_file(config_file) : Json::object();
    const bool rebuilt = has_config && rebuilds_from_vocab_and_merges(config, config_file);
    if (rebuilt) {
      // CodeGenTokenizer.__init__ builds a fresh ByteLevel pre-tokenizer and a plain BPE model
      // from tokenizer.json's vocab and merges: nothing else of tokenizer.json is kept.
      t_.add_prefix_space_ = bool_field(config, "add_prefix_space", false, config_file);
      t_.use_regex_ = true;
      t_.ignore_merges_ = false;
    } else {
      t_.ignore_merges_ = bool_field(*model, "ignore_merges", false, file);
      // ByteLevel, or Sequence [Split(regex), ByteLevel(use_regex false)]: checked above.
      const Json& pre_tokenizer = root.at("pre_tokenizer");
      const Json& byte_level =
          pre_tokenizer.at("type") == "Sequence" ? pre_tokenizer.at("pretokenizers").at(1) : pre_tokenizer;
      t_.add_prefix_space_ = bool_field(byte_level, "add_prefix_space", true, file);  // HF defaults
      t_.use_regex_ = bool_field(byte_level, "use_regex", true, file);
      if (pre_tokenizer.at("type") == "Sequence") t_.split_ = split_regex_kind(pre_tokenizer.at("pretokenizers").at(0));
      t_.nfc_ = has_nfc_normalizer(root);
    }

    const auto vocab = model->find("vocab");
    if (vocab == model->end()) fail(file.string(), ": model has no \"vocab\"");
    set_vocab(*vocab, file);

    const auto merges = model->find("merges");
    if (merges == model->end() || !merges->is_array()) fail(file.string(), ": model has no \"merges\" array");
    int32_t rank = 0;
    for (const Json& merge : *merges) {
      const std::string where = "merge " + std::to_string(rank);
      if (merge.is_string()) {  // "a b"
        const auto& text = merge.get_ref<const std::string&>();
        const auto [left, right] = split_merge_line(text, file, where);
        add_merge(left, right, rank, file, where);
      } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() && merge[1].is_string()) {
        add_merge(merge[0].get_ref<const std::string&>(), merge[1].get_ref<const std::string&>(), rank, file, where);
      } else {
        fail(file.string(), ": ", where, " is neither \"a b\" nor [\"a\", \"b\"]");
      }
      ++rank;
    }

    // Special-token names. special_tokens_map.json and added_tokens.json are transformers'
    // legacy files, read only when tokenizer_config.json has no "added_tokens_decoder".
    std::vector<std::string> special_names;
    collect_special_names(config, &special_names);
    if (rebuilt) add_codegen_default_names(config, &special_names);
    const auto decoder = config.find("added_tokens_decoder");
    const bool has_decoder = decoder != config.end();
    const fs::path special_map_file = dir / "special_tokens_map.json";
    if (!has_decoder && file_exists(special_map_file)) {
      collect_special_names(parse_json_object_file(special_map_file), &special_names);
    }

    if (rebuilt && has_decoder) {
      // The rebuilt tokenizer has no added tokens of its own: the config's list is the only one.
      for (AddedToken& token : parse_added_tokens_decoder(*decoder, config_file)) {
        t_.added_.add(std::move(token), config_file);
      }
    } else {
      if (const auto added = root.find("added_tokens"); added != root.end() && !added->is_null()) {
        if (!added->is_array()) fail(file.string(), ": \"added_tokens\" must be an array");
        for (const Json& token : *added) {
          if (!token.is_object()) fail(file.string(), ": an added token is not an object");
          const auto id = token.find("id");
          if (id == token.end()) fail(file.string(), ": an added token has no \"id\"");
          t_.added_.add(parse_token_object(token, *id, file), file);
        }
      }
      // transformers then adds the config's tokens on top (tokenizers' add_tokens): a content
      // already there keeps its id and flags, except that "special" sticks.
      const fs::path added_file = dir / "added_tokens.json";
      std::vector<AddedToken> extra;
      fs::path extra_file = config_file;
      if (has_decoder) {
        extra = parse_added_tokens_decoder(*decoder, config_file);
      } else if (file_exists(added_file)) {
        extra = parse_added_tokens_json(added_file, special_names);
        extra_file = added_file;
      }
      for (AddedToken& token : extra) {
        if (t_.added_.find_id(token.content)) {
          if (token.special) t_.added_.mark_special(token.content);
          continue;
        }
        t_.added_.add(std::move(token), extra_file);
      }
    }

    // A named token that is not an added token yet is added as special and not normalized: with
    // its vocab id, or after the largest id when the vocab lacks it (tokenizers' add_tokens).
    for (const std::string& name : special_names) {
      if (name.empty() || t_.added_.find_id(name)) continue;
      AddedToken token{.content = name, .special = true};
      if (const auto in_vocab = t_.vocab_.find(name); in_vocab != t_.vocab_.end()) {
        token.id = in_vocab->second;
      } else {
        token.id = next_added_id(has_config ? config_file : file);
      }
      t_.added_.add(std::move(token), has_config ? config_file : file);
    }
    for (const std::string& name : special_names) t_.added_.mark_special(name);
  }

  // Checks that every byte has a token and builds the lookup structures.
  void finish() {
    for (int byte = 0; byte < 256; ++byte) {
      const std::string_view symbol = bpe_detail::byte_symbol(static_cast<uint8_t>(byte));
      const auto it = t_.vocab_.find(symbol);
      if (it == t_.vocab_.end()) {
        fail(vocab_file_.string(), ": vocab has no token for byte ", byte, " (", quoted_token(symbol),
             "); only GPT-2 style byte-level BPE vocabularies are supported");
      }
      t_.byte_ids_[byte] = it->second;
    }
    int64_t max_id = static_cast<int64_t>(t_.token_offsets_.size()) - 2;
    max_id = std::max<int64_t>(max_id, t_.added_.largest_id());
    t_.vocab_size_ = static_cast<size_t>(max_id + 1);
  }

 private:
  void set_vocab(const Json& vocab, const fs::path& file) {
    if (!vocab.is_object()) fail(file.string(), ": the vocab must be a JSON object of token -> id");
    // Raw bytes per id; nlohmann iterates keys in sorted order, so if a hostile file gives two
    // tokens one id, the same one wins every time.
    std::vector<std::pair<int32_t, std::string>> bytes_by_id;
    bytes_by_id.reserve(vocab.size());
    t_.vocab_.reserve(vocab.size());
    for (auto entry = vocab.begin(); entry != vocab.end(); ++entry) {
      const int32_t id = parse_token_id(entry.value(), file, "token " + quoted_token(entry.key()));
      t_.vocab_.emplace(entry.key(), id);
      bytes_by_id.emplace_back(id, bpe_detail::byte_level_decode(entry.key()));
    }
    std::stable_sort(bytes_by_id.begin(), bytes_by_id.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    const int32_t max_id = bytes_by_id.empty() ? -1 : bytes_by_id.back().first;
    t_.token_offsets_.assign(static_cast<size_t>(max_id) + 2, 0);
    size_t next = 0;
    for (int32_t id = 0; id <= max_id; ++id) {
      t_.token_offsets_[id] = static_cast<uint32_t>(t_.token_blob_.size());
      if (next < bytes_by_id.size() && bytes_by_id[next].first == id) t_.token_blob_ += bytes_by_id[next].second;
      while (next < bytes_by_id.size() && bytes_by_id[next].first == id) ++next;
    }
    t_.token_offsets_[max_id + 1] = static_cast<uint32_t>(t_.token_blob_.size());
  }

  void load_merges_txt(const fs::path& file) {
    const std::string text = read_text_file(file);
    size_t line_start = 0;
    size_t line_number = 0;
    int32_t rank = 0;
    while (line_start < text.size()) {
      size_t line_end = text.find('\n', line_start);
      if (line_end == std::string::npos) line_end = text.size();
      std::string_view line(text.data() + line_start, line_end - line_start);
      line_start = line_end + 1;
      ++line_number;
      if (line.ends_with('\r')) line.remove_suffix(1);
      if (line.empty() || line.starts_with("#version")) continue;
      const std::string where = "line " + std::to_string(line_number);
      const auto [left, right] = split_merge_line(line, file, where);
      add_merge(left, right, rank++, file, where);
    }
  }

  // "a b" -> {"a", "b"}: exactly one space, as tokens never contain one (it is "Ġ").
  static std::pair<std::string_view, std::string_view> split_merge_line(std::string_view line, const fs::path& file,
                                                                        const std::string& where) {
    const size_t space = line.find(' ');
    if (space == std::string_view::npos || space == 0 || space + 1 == line.size() ||
        line.find(' ', space + 1) != std::string_view::npos) {
      fail(file.string(), ": ", where, ": expected two tokens separated by one space, got ", quoted_token(line));
    }
    return {line.substr(0, space), line.substr(space + 1)};
  }

  void add_merge(std::string_view left, std::string_view right, int32_t rank, const fs::path& file,
                 const std::string& where) {
    const auto left_it = t_.vocab_.find(left);
    if (left_it == t_.vocab_.end()) {
      fail(file.string(), ": ", where, ": merge token ", quoted_token(left), " is not in the vocab");
    }
    const auto right_it = t_.vocab_.find(right);
    if (right_it == t_.vocab_.end()) {
      fail(file.string(), ": ", where, ": merge token ", quoted_token(right), " is not in the vocab");
    }
    std::string merged(left);
    merged.append(right);
    const auto merged_it = t_.vocab_.find(merged);
    if (merged_it == t_.vocab_.end()) {
      fail(file.string(), ": ", where, ": merge result ", quoted_token(merged), " is not in the vocab");
    }
    // A repeated pair takes its last rank, as in both HF implementations (map built in order).
    t_.merges_.insert_or_assign(pair_key(left_it->second, right_it->second), Merge{rank, merged_it->second});
  }

  // transformers 5 resolves tokenizer_class to a class; CodeGenTokenizer and GPT2Tokenizer
  // (the "Fast" names are aliases) have their own __init__, which keeps only tokenizer.json's
  // vocab and merges. Any other class loads tokenizer.json as it is.
  static bool rebuilds_from_vocab_and_merges(const Json& config, const fs::path& file) {
    const auto it = config.find("tokenizer_class");
    if (it == config.end() || it->is_null()) return false;
    if (!it->is_string()) fail(file.string(), ": \"tokenizer_class\" must be a string");
    std::string_view name = it->get_ref<const std::string&>();
    if (name.ends_with("Fast")) name.remove_suffix(4);
    return name == "CodeGenTokenizer" || name == "GPT2Tokenizer";
  }

  // CodeGenTokenizer's keyword defaults: bos, eos and unk are "<|endoftext|>" unless the config
  // sets them (to null included).
  static void add_codegen_default_names(const Json& config, std::vector<std::string>* names) {
    for (const char* key : {"bos_token", "eos_token", "unk_token"}) {
      if (!config.contains(key)) names->emplace_back("<|endoftext|>");
    }
  }

  // The id tokenizers' add_tokens gives a token the vocab lacks: the vocab's size (its number of
  // entries) while every added id is below it, else one past the largest added id.
  int32_t next_added_id(const fs::path& file) const {
    const auto vocab_count = static_cast<int64_t>(t_.vocab_.size());
    const int64_t largest = t_.added_.largest_id();
    const int64_t id = largest >= vocab_count ? largest + 1 : vocab_count;
    if (id > kMaxTokenId) fail(file.string(), ": no token id left below ", kMaxTokenId, " for a special token");
    return static_cast<int32_t>(id);
  }

  // A JSON value for an error message without dump(): dump() recurses once per nesting level, so a
  // hostile file of 200000 nested arrays would overflow the stack. Strings are quoted, objects
  // named by their "type" when it is a string, anything else by its JSON type.
  static std::string describe(const Json& value) {
    if (value.is_string()) return quoted_token(value.get_ref<const std::string&>());
    if (value.is_object()) {
      const auto type = value.find("type");
      if (type != value.end() && type->is_string()) return quoted_token(type->get_ref<const std::string&>());
    }
    return std::string("(a JSON ") + value.type_name() + ")";
  }

  // Refuses tokenizer.json features this class does not implement, rather than encoding wrongly.
  static void check_supported(const Json& root, const Json& model, const fs::path& file) {
    if (const auto type = model.find("type"); type != model.end() && *type != "BPE") {
      fail(file.string(), ": model type ", describe(*type), " is not supported (only byte-level BPE)");
    }
    if (bool_field(model, "byte_fallback", false, file)) {
      fail(file.string(), ": byte_fallback BPE (SentencePiece style) is not supported, only byte-level BPE");
    }
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      const auto it = model.find(key);
      if (it != model.end() && !it->is_null() && *it != "") fail(file.string(), ": model.", key, " is not supported");
    }
    if (const auto dropout = model.find("dropout");
        dropout != model.end() && !dropout->is_null() && !(dropout->is_number() && dropout->get<double>() == 0.0)) {
      fail(file.string(), ": BPE dropout is not supported");
    }
    if (const auto normalizer = root.find("normalizer");
        normalizer != root.end() && !normalizer->is_null() && !has_nfc_normalizer(root)) {
      fail(file.string(), ": normalizer ", describe(*normalizer), " is not supported (only NFC)");
    }
    const auto pre_tokenizer = root.find("pre_tokenizer");
    std::string type;
    if (pre_tokenizer != root.end() && pre_tokenizer->is_object()) {
      if (const auto it = pre_tokenizer->find("type"); it != pre_tokenizer->end() && it->is_string()) {
        type = it->get<std::string>();
      }
    }
    if (type == "ByteLevel") return;
    // Qwen2's: Sequence [Split(its regex, Isolated), ByteLevel(use_regex false)].
    if (type == "Sequence") {
      const auto parts = pre_tokenizer->find("pretokenizers");
      if (parts != pre_tokenizer->end() && parts->is_array() && parts->size() == 2 && (*parts)[0].is_object() &&
          (*parts)[1].is_object() && (*parts)[1].value("type", "") == "ByteLevel" &&
          !bool_field((*parts)[1], "use_regex", true, file)) {
        split_regex_kind((*parts)[0], file);  // throws for a Split Lumen does not implement
        return;
      }
    }
    fail(file.string(), ": pre_tokenizer ", type.empty() ? std::string("(none)") : quoted_token(type),
         " is not supported: only ByteLevel, or Split (the Qwen2 or Llama 3 regex) then ByteLevel");
  }

  // {"type": "NFC"}, alone or as the only member of a Sequence.
  static bool has_nfc_normalizer(const Json& root) {
    const auto normalizer = root.find("normalizer");
    if (normalizer == root.end() || !normalizer->is_object()) return false;
    if (normalizer->value("type", "") == "NFC") return true;
    const auto parts = normalizer->find("normalizers");
    return normalizer->value("type", "") == "Sequence" && parts != normalizer->end() && parts->is_array() &&
           parts->size() == 1 && (*parts)[0].is_object() && (*parts)[0].value("type", "") == "NFC";
  }

  // The regexes Lumen has hand-written matchers for (pretokenize.cpp), named by their exact text.
  static PreTokenizer split_regex_kind(const Json& split, const fs::path& file = {}) {
    static const std::string kQwen2 =
        R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
    static const std::string kLlama3 =
        R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
    const auto pattern = split.find("pattern");
    const Json* regex = pattern != split.end() && pattern->is_object() && pattern->contains("Regex")
                            ? &pattern->at("Regex")
                            : nullptr;
    if (split.value("type", "") != "Split" || regex == nullptr || !regex->is_string() ||
        split.value("behavior", "") != "Isolated" || bool_field(split, "invert", false, file)) {
      fail(file.string(), ": only a Split pre-tokenizer with an Isolated regex is supported before ByteLevel");
    }
    const std::string& text = regex->get_ref<const std::string&>();
    if (text == kQwen2) return PreTokenizer::kQwen2;
    if (text == kLlama3) return PreTokenizer::kLlama3;
    fail(file.string(), ": the Split regex ", quoted_token(text),
         " is not one Lumen implements (Qwen2's or Llama 3's)");
  }

  BpeTokenizer& t_;
  fs::path vocab_file_;  // named in errors about the vocab as a whole
};

BpeTokenizer BpeTokenizer::load(const fs::path& model_dir) {
  std::error_code error;
  if (!fs::is_directory(model_dir, error)) {
    fail_kind(ErrorKind::kNotFound, "no tokenizer in ", model_dir.string(), ": not a directory");
  }
  BpeTokenizer tokenizer;
  Loader loader(tokenizer);
  const fs::path tokenizer_json = model_dir / "tokenizer.json";
  try {
    check_tokenizer_class(model_dir);
    if (file_exists(tokenizer_json)) {  // what transformers' AutoTokenizer prefers
      loader.load_tokenizer_json(model_dir);
    } else if (file_exists(model_dir / "vocab.json") && file_exists(model_dir / "merges.txt")) {
      loader.load_vocab_and_merges(model_dir);
    } else {
      // Name the file that is missing when half of the vocab.json + merges.txt pair is there.
      const bool has_vocab = file_exists(model_dir / "vocab.json");
      const bool has_merges = file_exists(model_dir / "merges.txt");
      const char* missing = has_vocab && !has_merges   ? "merges.txt is missing; "
                            : has_merges && !has_vocab ? "vocab.json is missing; "
                                                       : "";
      fail_kind(ErrorKind::kNotFound, "no tokenizer in ", model_dir.string(), ": ", missing,
                "expected vocab.json + merges.txt or tokenizer.json");
    }
  } catch (const Json::exception& e) {  // a type mismatch the checks above did not foresee
    fail("tokenizer in ", model_dir.string(), ": unexpected JSON content: ", e.what());
  }
  loader.finish();
  return tokenizer;
}

// ---------------------------------------------------------------------------------------------
// Encoding

std::vector<int32_t> BpeTokenizer::encode(std::string_view text) const {
  if (text.size() > kMaxEncodeBytes) {
    fail_kind(ErrorKind::kLimitExceeded, "text to tokenize is ", text.size(), " bytes, more than the limit of ",
              kMaxEncodeBytes);
  }
  // Phi-2's whitespace tokens are the normalized added tokens; with no normalizer configured,
  // "normalizing" leaves the text as it is.
  std::vector<AddedTokenSet::Segment> segments;
  added_.split(text, &segments);
  std::vector<int32_t> ids;
  for (const AddedTokenSet::Segment& segment : segments) {
    if (segment.id >= 0) {
      ids.push_back(segment.id);
    } else if (nfc_) {
      encode_plain(bpe_detail::nfc(segment.text), &ids);
    } else {
      encode_plain(segment.text, &ids);
    }
  }
  return ids;
}

void BpeTokenizer::encode_plain(std::string_view text, std::vector<int32_t>* out) const {
  std::string prefixed;
  if (add_prefix_space_ && !text.starts_with(' ')) {
    prefixed.reserve(text.size() + 1);
    prefixed.push_back(' ');
    prefixed.append(text);
    text = prefixed;
  }
  switch (split_) {
    case PreTokenizer::kQwen2:
    case PreTokenizer::kLlama3:
      for (std::string_view piece : bpe_detail::pretokenize_qwen2(text, split_ == PreTokenizer::kQwen2 ? 1 : 3)) {
        encode_piece(piece, out);
      }
      return;
    case PreTokenizer::kByteLevel:
      break;
  }
  if (!use_regex_) {
    encode_piece(text, out);
    return;
  }
  for (std::string_view piece : bpe_detail::pretokenize(text)) encode_piece(piece, out);
}

// BPE on one pre-token: start from one symbol per byte and repeatedly apply the lowest-ranked
// merge among adjacent pairs, leftmost first on ties. A heap of candidate pairs (checked for
// staleness when popped) keeps this O(n log n), so a megabyte without spaces is not a problem.
void BpeTokenizer::encode_piece(std::string_view piece, std::vector<int32_t>* out) const {
  if (piece.empty()) return;
  if (ignore_merges_) {
    std::string word;
    for (char c : piece) word += bpe_detail::byte_symbol(static_cast<uint8_t>(c));
    if (const auto it = vocab_.find(word); it != vocab_.end()) {
      out->push_back(it->second);
      return;
    }
  }
  if (piece.size() == 1) {
    out->push_back(byte_ids_[static_cast<uint8_t>(piece[0])]);
    return;
  }

  struct Symbol {
    int32_t id;    // -1 once merged into the symbol on its left
    int32_t prev;  // index of the previous live symbol, -1 at the start
    int32_t next;  // index of the next live symbol, -1 at the end
  };
  const auto count = static_cast<int32_t>(piece.size());
  std::vector<Symbol> symbols(piece.size());
  for (int32_t i = 0; i < count; ++i) {
    symbols[i] = {byte_ids_[static_cast<uint8_t>(piece[i])], i - 1, i + 1 < count ? i + 1 : -1};
  }

  struct Candidate {
    int32_t rank;
    int32_t left;  // index of the pair's left symbol
    bool operator>(const Candidate& other) const { return rank != other.rank ? rank > other.rank : left > other.left; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
  const auto find_merge = [&](int32_t left) -> const Merge* {
    const int32_t right = symbols[left].next;
    if (right < 0) return nullptr;
    const auto it = merges_.find(pair_key(symbols[left].id, symbols[right].id));
    return it == merges_.end() ? nullptr : &it->second;
  };
  const auto consider = [&](int32_t left) {
    if (const Merge* merge = find_merge(left)) queue.push({merge->rank, left});
  };
  for (int32_t i = 0; i + 1 < count; ++i) consider(i);

  while (!queue.empty()) {
    const Candidate candidate = queue.top();
    queue.pop();
    Symbol& left = symbols[candidate.left];
    if (left.id < 0) continue;  // merged away since it was queued
    const Merge* merge = find_merge(candidate.left);
    if (merge == nullptr || merge->rank != candidate.rank) continue;  // its pair has changed
    Symbol& right = symbols[left.next];
    left.id = merge->merged_id;
    right.id = -1;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = candidate.left;
    if (left.prev >= 0) consider(left.prev);
    consider(candidate.left);
  }
  for (int32_t i = 0; i >= 0; i = symbols[i].next) out->push_back(symbols[i].id);
}

// ---------------------------------------------------------------------------------------------
// Decoding and lookups

std::string_view BpeTokenizer::bytes_of(int32_t id) const {
  if (const AddedToken* added = added_.find(id)) return added->content;
  if (id < 0 || static_cast<size_t>(id) + 1 >= token_offsets_.size()) return {};
  const uint32_t begin = token_offsets_[id];
  return std::string_view(token_blob_).substr(begin, token_offsets_[id + 1] - begin);
}

std::string BpeTokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  std::string bytes;
  for (int32_t id : ids) {
    if (skip_special && is_special(id)) continue;
    bytes.append(bytes_of(id));
  }
  return bpe_detail::utf8_lossy(bytes);
}

bool BpeTokenizer::is_special(int32_t id) const {
  const AddedToken* added = added_.find(id);
  return added != nullptr && added->special;
}

std::string BpeTokenizer::token_bytes(int32_t id) const { return std::string(bytes_of(id)); }

std::string BpeTokenizer::describe() const {
  switch (split_) {
    case PreTokenizer::kQwen2: return nfc_ ? "byte-level BPE (Qwen2 regex, NFC)" : "byte-level BPE (Qwen2 regex)";
    case PreTokenizer::kLlama3: return nfc_ ? "byte-level BPE (Llama 3 regex, NFC)" : "byte-level BPE (Llama 3 regex)";
    case PreTokenizer::kByteLevel: break;
  }
  return nfc_ ? "byte-level BPE (GPT-2 regex, NFC)" : "byte-level BPE (GPT-2 regex)";
}

std::optional<int32_t> BpeTokenizer::token_id(std::string_view token_text) const {
  if (const auto id = added_.find_id(token_text)) return id;
  if (const auto it = vocab_.find(token_text); it != vocab_.end()) return it->second;
  return std::nullopt;
}

}  // namespace lumen
