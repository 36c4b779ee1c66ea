#include "lumen/runtime/stop_strings.h"

#include <algorithm>

namespace lumen {

StopStringMatcher::StopStringMatcher(std::vector<std::string> stops) {
  for (auto& s : stops) {
    if (!s.empty()) stops_.push_back(std::move(s));
  }
}

size_t StopStringMatcher::find_stop(const std::string& text) const {
  size_t best = std::string::npos;
  for (const auto& stop : stops_) best = std::min(best, text.find(stop));
  return best;
}

size_t StopStringMatcher::safe_prefix(const std::string& text) const {
  size_t safe = text.size();
  for (const auto& stop : stops_) {
    // The longest suffix of text that is a proper prefix of `stop` must be held back.
    size_t max_len = std::min(stop.size() - 1, text.size());
    for (size_t len = max_len; len > 0; --len) {
      if (text.compare(text.size() - len, len, stop, 0, len) == 0) {
        safe = std::min(safe, text.size() - len);
        break;
      }
    }
  }
  return safe;
}

size_t complete_utf8_prefix(const std::string& text) {
  // Walk back over at most 3 continuation bytes to the last lead byte; keep it only if its
  // sequence is complete.
  size_t n = text.size();
  size_t i = n;
  int continuation = 0;
  while (i > 0 && continuation < 4) {
    unsigned char c = static_cast<unsigned char>(text[i - 1]);
    if ((c & 0xC0) != 0x80) {
      size_t need = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
      return (n - (i - 1)) >= need ? n : i - 1;
    }
    --i;
    ++continuation;
  }
  return n;
}

}  // namespace lumen
