// The Arm64 test binary links neither libsentencepiece nor ICU (Debian cannot install the arm64
// SentencePiece package beside the amd64 one; see CMakeLists.txt), so it leaves out
// text/tokenizer_loader.cpp, text/sentencepiece_hf_tokenizer.cpp and text/unicode_nfc.cpp and
// gets these two instead. The fixtures it runs (Imp's) use byte-level BPE without NFC; a
// SentencePiece or NFC tokenizer is refused with this message rather than mis-tokenized.
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "lumen/core/error.h"
#include "lumen/text/bpe_tokenizer.h"
#include "lumen/text/tokenizer.h"

namespace lumen {

std::unique_ptr<Tokenizer> load_tokenizer(const std::filesystem::path& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir / "tokenizer.model", ec) && !std::filesystem::exists(dir / "tokenizer.json", ec)) {
    fail(dir.string(), ": SentencePiece tokenizers are not built into the Arm64 test binary");
  }
  return std::make_unique<BpeTokenizer>(BpeTokenizer::load(dir));
}

namespace bpe_detail {
std::string nfc(std::string_view) {
  fail("NFC (ICU) is not built into the Arm64 test binary");
}
}  // namespace bpe_detail

}  // namespace lumen
