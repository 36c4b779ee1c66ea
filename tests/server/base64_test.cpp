#include "lumen/server/base64.h"

#include <gtest/gtest.h>

#include "lumen/core/error.h"

namespace lumen::server {
namespace {

std::string decode_text(std::string_view text) {
  auto bytes = decode_base64(text);
  return std::string(bytes.begin(), bytes.end());
}

TEST(Base64, DecodesRfc4648Vectors) {
  EXPECT_EQ(decode_text(""), "");
  EXPECT_EQ(decode_text("Zg=="), "f");
  EXPECT_EQ(decode_text("Zm8="), "fo");
  EXPECT_EQ(decode_text("Zm9v"), "foo");
  EXPECT_EQ(decode_text("Zm9vYg=="), "foob");
  EXPECT_EQ(decode_text("Zm9vYmE="), "fooba");
  EXPECT_EQ(decode_text("Zm9vYmFy"), "foobar");
  EXPECT_EQ(decode_text("Zm9vYg"), "foob");  // unpadded
  EXPECT_EQ(decode_text("Zm9v\r\nYmFy"), "foobar");  // MIME line breaks
}

TEST(Base64, RoundTripsEveryByte) {
  std::vector<uint8_t> bytes(256 * 3 + 2);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7 + 3);
  for (size_t n : {size_t{0}, size_t{1}, size_t{2}, size_t{3}, bytes.size()}) {
    std::vector<uint8_t> part(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_EQ(decode_base64(encode_base64(part.data(), part.size())), part) << n;
  }
}

TEST(Base64, RefusesMalformedInput) {
  for (const char* bad : {"Zm9v!", "Z", "Zm9vY", "Zg=a", "Z===", "=Zg=", "Zg==Zg==", "Zm9v-_"}) {
    EXPECT_THROW(decode_base64(bad), Error) << bad;
  }
}

TEST(Base64, BoundsTheDecodedSizeFromTheEncodedLength) {
  EXPECT_EQ(base64_max_decoded_size(0), 0u);
  EXPECT_EQ(base64_max_decoded_size(4), 3u);
  EXPECT_EQ(base64_max_decoded_size(6), 6u);
  EXPECT_GE(base64_max_decoded_size(8), decode_base64("Zm9vYmFy").size());
}

}  // namespace
}  // namespace lumen::server
