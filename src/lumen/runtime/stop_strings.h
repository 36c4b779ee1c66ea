// Finds user stop strings in generated text, including ones that span token boundaries, and
// tells a streamer how much text is safe to emit (text that might begin a stop string is held
// back until the next token decides).
#pragma once

#include <string>
#include <vector>

namespace lumen {

class StopStringMatcher {
 public:
  explicit StopStringMatcher(std::vector<std::string> stops);

  // After text grew: the position of the earliest complete stop string in `text`, or npos.
  size_t find_stop(const std::string& text) const;
  // How many leading bytes of `text` can be shown without risking a partial stop string.
  size_t safe_prefix(const std::string& text) const;
  bool empty() const { return stops_.empty(); }

 private:
  std::vector<std::string> stops_;
};

// Length of the longest prefix of `text` that ends on a complete UTF-8 sequence (so a
// streamer never emits half a character).
size_t complete_utf8_prefix(const std::string& text);

}  // namespace lumen
