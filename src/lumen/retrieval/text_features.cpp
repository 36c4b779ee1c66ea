#include "lumen/retrieval/text_features.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "lumen/core/error.h"
#include "lumen/kernels/cpu/vector_ops.h"

namespace lumen {

namespace {

// English function words that carry no content in captions or queries.
constexpr std::array<std::string_view, 60> kStopWords = {
    "a",     "an",    "the",   "and",  "or",    "of",    "at",    "in",    "on",   "to",   "is",    "are",
    "there", "with",  "this",  "that", "it",    "its",   "be",    "by",    "for",  "from", "as",    "some",
    "one",   "image", "photo", "picture", "show", "shows", "showing", "shown", "has", "have", "which", "while",
    "into",  "onto",  "over",  "under", "near", "next",  "also",  "very",  "what", "where", "who",  "whose",
    "their", "them",  "they",  "these", "those", "i",    "me",    "my",    "we",   "our"};

uint64_t fnv1a(std::string_view text, uint64_t seed) {
  uint64_t h = 1469598103934665603ull ^ seed;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  // Final avalanche (splitmix64) so nearby strings spread over the whole table.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

void add_feature(std::vector<float>& v, std::string_view feature, float weight) {
  const uint64_t h = fnv1a(feature, 0);
  const size_t slot = static_cast<size_t>(h % v.size());
  const float sign = (h >> 63) ? -1.0f : 1.0f;
  v[slot] += sign * weight;
}

}  // namespace

bool is_stop_word(std::string_view word) {
  return std::find(kStopWords.begin(), kStopWords.end(), word) != kStopWords.end();
}

std::vector<WeightedWord> content_words(std::string_view text, const std::vector<float>& char_weights) {
  if (!char_weights.empty() && char_weights.size() != text.size()) {
    fail_kind(ErrorKind::kInternal, "content_words: ", char_weights.size(), " weights for ", text.size(), " bytes");
  }
  std::vector<WeightedWord> words;
  bool adjacent = false;  // the previous token was a kept word with only spaces since
  size_t i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (!std::isalnum(c)) {
      if (c != ' ') adjacent = false;  // punctuation breaks a phrase
      ++i;
      continue;
    }
    size_t end = i;
    std::string word;
    float weight = 1.0f;
    while (end < text.size() && std::isalnum(static_cast<unsigned char>(text[end]))) {
      word.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(text[end]))));
      if (!char_weights.empty()) weight = std::min(weight, char_weights[end]);
      ++end;
    }
    if (is_stop_word(word)) {
      adjacent = false;
    } else {
      words.push_back({std::move(word), weight, adjacent});
      adjacent = true;
    }
    i = end;
  }
  return words;
}

std::vector<float> lexical_features(const std::vector<WeightedWord>& words, const LexicalFeatureOptions& options) {
  if (options.dim <= 0) fail("lexical features need a positive dimension");
  std::vector<float> v(static_cast<size_t>(options.dim), 0.0f);
  for (size_t i = 0; i < words.size(); ++i) {
    add_feature(v, words[i].word, words[i].weight);
    if (i > 0 && words[i].follows_previous) {
      add_feature(v, words[i - 1].word + " " + words[i].word, options.bigram_weight * words[i - 1].weight * words[i].weight);
    }
  }
  l2_normalize_rows(v.data(), 1, options.dim);
  return v;
}

}  // namespace lumen
