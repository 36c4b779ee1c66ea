#include "lumen/text/added_tokens.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "lumen/core/error.h"
#include "lumen/core/mapped_file.h"
#include "lumen/text/bpe_tokenizer.h"  // bpe_detail::whitespace_length_at / _before

namespace lumen {
namespace {
namespace fs = std::filesystem;
using Json = nlohmann::json;

// Longest added token accepted; bounds the leftmost-longest scan at each text position.
constexpr size_t kMaxAddedTokenBytes = 1024;
}  // namespace

// ---------------------------------------------------------------------------------------------
// AddedTokenSet

void AddedTokenSet::Trie::insert(std::string_view content, int32_t token_index) {
  int32_t node = 0;
  for (char c : content) {
    const auto byte = static_cast<uint8_t>(c);
    int32_t next = child(node, byte);
    if (next < 0) {
      next = static_cast<int32_t>(nodes.size());
      nodes.emplace_back();
      auto& children = nodes[node].children;
      const auto at = std::lower_bound(children.begin(), children.end(), std::make_pair(byte, int32_t{0}));
      children.insert(at, {byte, next});
    }
    node = next;
  }
  nodes[node].token_index = token_index;
}

int32_t AddedTokenSet::Trie::child(int32_t node, uint8_t byte) const {
  const auto& children = nodes[node].children;
  const auto it = std::lower_bound(children.begin(), children.end(), std::make_pair(byte, int32_t{0}));
  return it != children.end() && it->first == byte ? it->second : -1;
}

void AddedTokenSet::add(AddedToken token, const fs::path& file) {
  using tokenizer_files::quoted_token;
  if (token.content.empty()) return;
  if (token.content.size() > kMaxAddedTokenBytes) {
    fail(file.string(), ": added token ", quoted_token(token.content), " is longer than ", kMaxAddedTokenBytes,
         " bytes");
  }
  if (const auto it = index_by_id_.find(token.id); it != index_by_id_.end()) {
    const std::string& existing = tokens_[it->second].content;
    if (existing == token.content) return;  // listed in two files: the first listing wins
    fail(file.string(), ": id ", token.id, " is given to both ", quoted_token(existing), " and ",
         quoted_token(token.content));
  }
  if (const auto it = id_by_content_.find(token.content); it != id_by_content_.end()) {
    fail(file.string(), ": added token ", quoted_token(token.content), " has two ids, ", it->second, " and ",
         token.id);
  }
  const auto index = static_cast<int32_t>(tokens_.size());
  index_by_id_.emplace(token.id, index);
  id_by_content_.emplace(token.content, token.id);
  (token.normalized ? normalized_trie_ : special_trie_).insert(token.content, index);
  all_trie_.insert(token.content, index);
  tokens_.push_back(std::move(token));
}

void AddedTokenSet::mark_special(std::string_view content) {
  if (const auto it = id_by_content_.find(content); it != id_by_content_.end()) {
    tokens_[index_by_id_.at(it->second)].special = true;
  }
}

const AddedToken* AddedTokenSet::find(int32_t id) const {
  const auto it = index_by_id_.find(id);
  return it == index_by_id_.end() ? nullptr : &tokens_[it->second];
}

std::optional<int32_t> AddedTokenSet::find_id(std::string_view content) const {
  const auto it = id_by_content_.find(content);
  if (it == id_by_content_.end()) return std::nullopt;
  return it->second;
}

int64_t AddedTokenSet::largest_id() const {
  int64_t largest = -1;
  for (const AddedToken& token : tokens_) largest = std::max<int64_t>(largest, token.id);
  return largest;
}

void AddedTokenSet::split(std::string_view text, std::vector<Segment>* out, Passes passes) const {
  if (passes == Passes::kOne) {
    split_pass(text, all_trie_, out);
    return;
  }
  // HF extracts the non-normalized added tokens first and looks for the normalized ones only in
  // the text left between them.
  std::vector<Segment> outer;
  split_pass(text, special_trie_, &outer);
  for (const Segment& segment : outer) {
    if (segment.id >= 0) {
      out->push_back(segment);
    } else {
      split_pass(segment.text, normalized_trie_, out);
    }
  }
}

// At each position the longest token starting there, scanning left to right (leftmost-longest,
// what HF's Aho-Corasick matcher does).
void AddedTokenSet::split_pass(std::string_view text, const Trie& trie, std::vector<Segment>* out) const {
  if (trie.nodes.front().children.empty()) {
    if (!text.empty()) out->push_back({text, -1});
    return;
  }
  size_t plain_start = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    int32_t node = 0;
    int32_t best_index = -1;
    size_t best_end = 0;
    for (size_t i = pos; i < text.size(); ++i) {
      node = trie.child(node, static_cast<uint8_t>(text[i]));
      if (node < 0) break;
      if (trie.nodes[node].token_index >= 0) {
        best_index = trie.nodes[node].token_index;
        best_end = i + 1;
      }
    }
    if (best_index < 0) {
      ++pos;
      continue;
    }
    const AddedToken& token = tokens_[best_index];
    size_t match_start = pos;
    size_t match_end = best_end;
    if (token.lstrip) {  // never into an earlier match
      while (match_start > plain_start) {
        const size_t length = bpe_detail::whitespace_length_before(text, match_start);
        if (length == 0 || match_start - length < plain_start) break;
        match_start -= length;
      }
    }
    if (token.rstrip) {
      while (match_end < text.size()) {
        const size_t length = bpe_detail::whitespace_length_at(text, match_end);
        if (length == 0) break;
        match_end += length;
      }
    }
    if (match_start > plain_start) out->push_back({text.substr(plain_start, match_start - plain_start), -1});
    out->push_back({{}, token.id});
    pos = plain_start = match_end;
  }
  if (plain_start < text.size()) out->push_back({text.substr(plain_start), -1});
}

// ---------------------------------------------------------------------------------------------
// tokenizer_files

namespace tokenizer_files {

bool file_exists(const fs::path& path) {
  std::error_code error;
  return fs::exists(path, error);
}

Json parse_json_file(const fs::path& path) {
  const std::string text = read_text_file(path);
  try {
    return Json::parse(text);
  } catch (const Json::exception& e) {
    fail(path.string(), ": malformed JSON: ", e.what());
  }
}

Json parse_json_object_file(const fs::path& path) {
  Json value = parse_json_file(path);
  if (!value.is_object()) fail(path.string(), ": expected a JSON object");
  return value;
}

Json optional_json_object_file(const fs::path& path) {
  return file_exists(path) ? parse_json_object_file(path) : Json::object();
}

std::string quoted_token(std::string_view text) {
  constexpr size_t kMaxShown = 40;
  std::string out = "\"";
  out.append(text.substr(0, kMaxShown));
  if (text.size() > kMaxShown) out.append("...");
  out.push_back('"');
  return out;
}

bool bool_field(const Json& object, const char* key, bool fallback, const fs::path& file) {
  const auto it = object.find(key);
  if (it == object.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) fail(file.string(), ": \"", key, "\" must be true or false");
  return it->get<bool>();
}

int32_t parse_token_id(const Json& value, const fs::path& file, std::string_view what) {
  int64_t id = -1;
  if (value.is_number_unsigned()) {
    const uint64_t u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(kMaxTokenId)) {  // named as given, not as clamped
      fail(file.string(), ": ", what, " has id ", u, ", outside 0..", kMaxTokenId);
    }
    id = static_cast<int64_t>(u);
  } else if (value.is_number_integer()) {
    id = value.get<int64_t>();
  } else {
    fail(file.string(), ": ", what, " has an id that is not an integer");
  }
  if (id < 0 || id > kMaxTokenId) fail(file.string(), ": ", what, " has id ", id, ", outside 0..", kMaxTokenId);
  return static_cast<int32_t>(id);
}

std::optional<std::string> token_content(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object()) {
    const auto it = value.find("content");
    if (it != value.end() && it->is_string()) return it->get<std::string>();
  }
  return std::nullopt;
}

AddedToken parse_token_object(const Json& object, const Json& id, const fs::path& file) {
  if (!object.is_object()) fail(file.string(), ": an added token is not an object");
  const auto content = object.find("content");
  if (content == object.end() || !content->is_string()) fail(file.string(), ": an added token has no \"content\"");
  AddedToken token;
  token.content = content->get<std::string>();
  token.id = parse_token_id(id, file, "added token " + quoted_token(token.content));
  token.special = bool_field(object, "special", false, file);
  token.normalized = bool_field(object, "normalized", !token.special, file);  // HF's default
  token.lstrip = bool_field(object, "lstrip", false, file);
  token.rstrip = bool_field(object, "rstrip", false, file);
  return token;
}

std::vector<AddedToken> parse_added_tokens_decoder(const Json& decoder, const fs::path& file) {
  if (!decoder.is_object()) fail(file.string(), ": \"added_tokens_decoder\" must be an object");
  std::vector<AddedToken> tokens;
  for (auto entry = decoder.begin(); entry != decoder.end(); ++entry) {
    const std::string& key = entry.key();
    int64_t id = -1;
    const auto [end, error] = std::from_chars(key.data(), key.data() + key.size(), id);
    if (error != std::errc() || end != key.data() + key.size()) {
      fail(file.string(), ": added_tokens_decoder key ", quoted_token(key), " is not a token id");
    }
    tokens.push_back(parse_token_object(entry.value(), Json(id), file));
  }
  return tokens;
}

std::vector<AddedToken> parse_added_tokens_json(const fs::path& file, const std::vector<std::string>& special_names) {
  const Json added = parse_json_file(file);
  if (!added.is_object()) fail(file.string(), ": expected a JSON object of token -> id");
  std::vector<AddedToken> tokens;
  for (auto entry = added.begin(); entry != added.end(); ++entry) {
    AddedToken token;
    token.content = entry.key();
    token.id = parse_token_id(entry.value(), file, "token " + quoted_token(token.content));
    token.special = std::find(special_names.begin(), special_names.end(), token.content) != special_names.end();
    token.normalized = !token.special;
    tokens.push_back(std::move(token));
  }
  return tokens;
}

void collect_special_names(const Json& config, std::vector<std::string>* names) {
  for (const char* key : {"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"}) {
    if (const auto it = config.find(key); it != config.end()) {
      if (auto content = token_content(*it)) names->push_back(std::move(*content));
    }
  }
  for (const char* key : {"additional_special_tokens", "extra_special_tokens"}) {
    if (const auto it = config.find(key); it != config.end() && it->is_array()) {
      for (const Json& value : *it) {
        if (auto content = token_content(value)) names->push_back(std::move(*content));
      }
    }
  }
}

}  // namespace tokenizer_files
}  // namespace lumen
