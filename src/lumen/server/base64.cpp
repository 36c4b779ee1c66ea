#include "lumen/server/base64.h"

#include <array>

#include "lumen/core/error.h"

namespace lumen::server {

namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Character -> 6-bit value, or -1 for anything outside the alphabet.
constexpr std::array<int8_t, 256> make_table() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (int i = 0; i < 64; ++i) table[static_cast<uint8_t>(kAlphabet[i])] = static_cast<int8_t>(i);
  return table;
}
constexpr auto kTable = make_table();

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }
}  // namespace

std::vector<uint8_t> decode_base64(std::string_view text) {
  std::vector<uint8_t> out;
  out.reserve(base64_max_decoded_size(text.size()));
  uint32_t group = 0;  // up to four 6-bit values
  int filled = 0;      // values in `group`
  int padding = 0;     // '=' seen
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (is_space(c)) continue;
    if (c == '=') {
      ++padding;
      if (padding > 2 || filled < 2) fail("invalid base64: misplaced '=' at offset ", i);
      continue;
    }
    if (padding > 0) fail("invalid base64: data after '=' padding at offset ", i);
    const int8_t value = kTable[static_cast<uint8_t>(c)];
    if (value < 0) fail("invalid base64: unexpected character at offset ", i);
    group = (group << 6) | static_cast<uint32_t>(value);
    if (++filled == 4) {
      out.push_back(static_cast<uint8_t>(group >> 16));
      out.push_back(static_cast<uint8_t>(group >> 8));
      out.push_back(static_cast<uint8_t>(group));
      group = 0;
      filled = 0;
    }
  }
  if (padding > 0 && filled + padding != 4) fail("invalid base64: wrong padding");
  switch (filled) {
    case 0: break;
    case 1: fail("invalid base64: the length is not a whole number of bytes");
    case 2: out.push_back(static_cast<uint8_t>(group >> 4)); break;
    case 3:
      out.push_back(static_cast<uint8_t>(group >> 10));
      out.push_back(static_cast<uint8_t>(group >> 2));
      break;
  }
  return out;
}

std::string encode_base64(const uint8_t* data, size_t size) {
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    const uint32_t g = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8) | data[i + 2];
    for (int shift = 18; shift >= 0; shift -= 6) out.push_back(kAlphabet[(g >> shift) & 63]);
  }
  if (size - i == 1) {
    const uint32_t g = uint32_t{data[i]} << 16;
    out += {kAlphabet[(g >> 18) & 63], kAlphabet[(g >> 12) & 63], '=', '='};
  } else if (size - i == 2) {
    const uint32_t g = (uint32_t{data[i]} << 16) | (uint32_t{data[i + 1]} << 8);
    out += {kAlphabet[(g >> 18) & 63], kAlphabet[(g >> 12) & 63], kAlphabet[(g >> 6) & 63], '='};
  }
  return out;
}

}  // namespace lumen::server
