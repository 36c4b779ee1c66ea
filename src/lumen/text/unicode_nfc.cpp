// NFC for tokenizers whose tokenizer.json has an NFC normalizer (Qwen2). Composition needs the
// Unicode Character Database, so this goes through ICU (Debian's libicu) rather than tables of
// our own.
#include <unicode/unorm2.h>
#include <unicode/ustring.h>

#include <string>
#include <string_view>
#include <vector>

#include "lumen/core/error.h"
#include "lumen/text/bpe_tokenizer.h"

namespace lumen::bpe_detail {
namespace {

// NFC of valid UTF-8 (the caller checked it).
void append_nfc_of_valid(std::string_view run, std::string* out) {
  UErrorCode status = U_ZERO_ERROR;
  const UNormalizer2* nfc = unorm2_getNFCInstance(&status);
  if (U_FAILURE(status)) fail_kind(ErrorKind::kInternal, "ICU has no NFC normalizer: ", u_errorName(status));
  // UTF-8 -> UTF-16: at most one UTF-16 unit per byte.
  std::vector<UChar> utf16(run.size() + 1);
  int32_t utf16_length = 0;
  u_strFromUTF8(utf16.data(), static_cast<int32_t>(utf16.size()), &utf16_length, run.data(),
                static_cast<int32_t>(run.size()), &status);
  if (U_FAILURE(status)) fail_kind(ErrorKind::kInternal, "ICU UTF-8 conversion failed: ", u_errorName(status));
  if (unorm2_isNormalized(nfc, utf16.data(), utf16_length, &status) && U_SUCCESS(status)) {
    out->append(run);
    return;
  }
  status = U_ZERO_ERROR;
  // Composition never lengthens text much: a few units per input unit is ample; ICU reports
  // U_BUFFER_OVERFLOW_ERROR with the size needed otherwise.
  std::vector<UChar> composed(static_cast<size_t>(utf16_length) * 3 + 16);
  int32_t composed_length = unorm2_normalize(nfc, utf16.data(), utf16_length, composed.data(),
                                             static_cast<int32_t>(composed.size()), &status);
  if (status == U_BUFFER_OVERFLOW_ERROR) {
    status = U_ZERO_ERROR;
    composed.resize(static_cast<size_t>(composed_length) + 1);
    composed_length = unorm2_normalize(nfc, utf16.data(), utf16_length, composed.data(),
                                       static_cast<int32_t>(composed.size()), &status);
  }
  if (U_FAILURE(status)) fail_kind(ErrorKind::kInternal, "ICU NFC failed: ", u_errorName(status));
  std::string utf8(static_cast<size_t>(composed_length) * 3 + 1, '\0');
  int32_t utf8_length = 0;
  u_strToUTF8(utf8.data(), static_cast<int32_t>(utf8.size()), &utf8_length, composed.data(), composed_length,
              &status);
  if (U_FAILURE(status)) fail_kind(ErrorKind::kInternal, "ICU UTF-8 conversion failed: ", u_errorName(status));
  out->append(utf8.data(), static_cast<size_t>(utf8_length));
}

}  // namespace

std::string nfc(std::string_view text) {
  // ICU counts in int32_t, and composition may need a few UTF-16 units per byte.
  constexpr size_t kMaxNfcBytes = size_t{1} << 28;
  bool ascii = true;
  for (char c : text) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii) return std::string(text);  // ASCII is always NFC
  if (text.size() > kMaxNfcBytes) {
    fail_kind(ErrorKind::kLimitExceeded, "text to normalize is ", text.size(), " bytes, more than the limit of ",
              kMaxNfcBytes);
  }
  std::string out;
  out.reserve(text.size());
  size_t run_start = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    const DecodedChar c = decode_utf8_at(text, pos);
    if (c.valid) {
      pos += c.length;
      continue;
    }
    // An invalid byte ends the valid run; it passes through unchanged.
    append_nfc_of_valid(text.substr(run_start, pos - run_start), &out);
    out.append(text.substr(pos, c.length));
    pos += c.length;
    run_start = pos;
  }
  append_nfc_of_valid(text.substr(run_start), &out);
  return out;
}

}  // namespace lumen::bpe_detail
