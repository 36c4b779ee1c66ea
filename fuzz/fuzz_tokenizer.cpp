// Fuzzes BPE encode and decode on any bytes (invalid UTF-8 included) with two real tokenizers:
// the bundled model's vocab.json + merges.txt and imp-tiny-b-msft's tokenizer.json. Neither has
// lstrip/rstrip added tokens, so byte-level BPE must round-trip exactly:
//   concat(token_bytes(encode(s))) == s   and   decode(encode(s)) == utf8_lossy(s).
// The same bytes, read as little-endian int32 ids, are also decoded (any id, valid or not).
// Qwen2's pre-tokenizer (both digit widths) must cover the text exactly, and NFC must not fail
// on any bytes.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "lumen/core/error.h"
#include "lumen/text/bpe_tokenizer.h"

namespace {

const std::vector<lumen::BpeTokenizer>& tokenizers() {
  static const std::vector<lumen::BpeTokenizer> all = [] {
    const std::filesystem::path source(LUMEN_SOURCE_DIR);
    std::vector<lumen::BpeTokenizer> loaded;
    loaded.push_back(lumen::BpeTokenizer::load(source / "models" / "imp-shapes"));
    loaded.push_back(lumen::BpeTokenizer::load(source / "tests" / "data" / "fixtures" / "imp-tiny-b-msft"));
    return loaded;
  }();
  return all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<int32_t> raw_ids(size / 4);
  if (!raw_ids.empty()) std::memcpy(raw_ids.data(), data, raw_ids.size() * 4);
  for (const lumen::BpeTokenizer& tokenizer : tokenizers()) {
    std::vector<int32_t> ids;
    try {
      ids = tokenizer.encode(text);
    } catch (const lumen::Error&) {
      std::abort();  // only inputs over 1 GiB may be refused
    }
    std::string joined;
    for (int32_t id : ids) {
      if (id < 0 || static_cast<size_t>(id) >= tokenizer.vocab_size()) std::abort();
      joined += tokenizer.token_bytes(id);
    }
    if (joined != text) std::abort();
    if (tokenizer.decode(ids) != lumen::bpe_detail::utf8_lossy(text)) std::abort();
    (void)tokenizer.decode(raw_ids);
    for (int32_t id : raw_ids) (void)tokenizer.token_bytes(id);
    (void)tokenizer.token_id(text);
  }
  for (int digits : {1, 3}) {
    std::string covered;
    for (std::string_view piece : lumen::bpe_detail::pretokenize_qwen2(text, digits)) {
      if (piece.empty()) std::abort();
      covered.append(piece);
    }
    if (covered != text) std::abort();
  }
  (void)lumen::bpe_detail::nfc(text);
  return 0;
}
