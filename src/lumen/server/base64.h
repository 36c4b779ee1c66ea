// Strict standard base64 (RFC 4648 section 4, the alphabet data: URLs use). Images arrive this
// way, so the decoder refuses anything malformed instead of guessing, and a caller can bound
// the decoded size from the encoded length before allocating.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lumen::server {

// Bytes that `encoded_length` characters of padded base64 decode to at most.
inline uint64_t base64_max_decoded_size(uint64_t encoded_length) { return (encoded_length + 3) / 4 * 3; }

// Decodes padded or unpadded base64; ASCII whitespace (line breaks from MIME encoders) is
// skipped. Throws lumen::Error (kInvalidInput) naming the first bad character's offset, a
// length that is not a whole number of groups, or data after '=' padding.
std::vector<uint8_t> decode_base64(std::string_view text);

std::string encode_base64(const uint8_t* data, size_t size);

}  // namespace lumen::server
