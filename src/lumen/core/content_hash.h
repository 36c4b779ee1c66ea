// SHA-256 (FIPS 180-4) of request content: image bytes are cached under their digest, so a
// client cannot make two different images share a cache entry. Also the constant-time
// comparison the API-key check uses.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace lumen {

using ContentHash = std::array<uint8_t, 32>;

ContentHash sha256(const uint8_t* data, size_t size);
inline ContentHash sha256(std::string_view text) {
  return sha256(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}
std::string to_hex(const ContentHash& hash);

struct ContentHashHasher {
  size_t operator()(const ContentHash& h) const {
    size_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | h[static_cast<size_t>(i)];
    return v;
  }
};

// Compares two secrets in time that depends on neither's content nor on where they differ:
// both are hashed first, so even the lengths only reach the comparison as fixed-size digests.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace lumen
