#include "lumen/runtime/stop_strings.h"

#include <gtest/gtest.h>

namespace lumen {
namespace {

TEST(StopStrings, FindsEarliestStopAcrossTokenBoundaries) {
  StopStringMatcher m({"\nUSER", "###"});
  std::string text = "A cat.";
  EXPECT_EQ(m.find_stop(text), std::string::npos);
  text += "\nUS";  // a token ends mid-stop-string
  EXPECT_EQ(m.find_stop(text), std::string::npos);
  EXPECT_EQ(m.safe_prefix(text), 6u);  // "\nUS" is held back
  text += "ER: hi";
  EXPECT_EQ(m.find_stop(text), 6u);
}

TEST(StopStrings, EmptyStopsAreIgnored) {
  StopStringMatcher m({""});
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.safe_prefix("abc"), 3u);
}

TEST(Utf8, CompletePrefixHoldsBackPartialCharacters) {
  std::string euro = "\xE2\x82\xAC";
  EXPECT_EQ(complete_utf8_prefix("ab" + euro), 5u);
  EXPECT_EQ(complete_utf8_prefix("ab" + euro.substr(0, 2)), 2u);
  EXPECT_EQ(complete_utf8_prefix("ab\xF0\x9F"), 2u);
  EXPECT_EQ(complete_utf8_prefix(""), 0u);
}

}  // namespace
}  // namespace lumen
