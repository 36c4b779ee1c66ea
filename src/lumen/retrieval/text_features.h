// Lexical feature vectors for caption-based embeddings: a text (a query, or a caption the
// model wrote for an image) becomes a hashed bag of its content words and of the bigrams of
// content words that stand next to each other ("red circle" in "a small red circle"), each
// word weighted by how sure the writer was of it (1 for user text, the model's token
// probability for captions). Bigrams carry the binding of attributes to objects that single
// words lose ("red square and blue circle" vs "red circle").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lumen {

// One word of a text with its confidence in (0, 1].
struct WeightedWord {
  std::string word;     // lower-cased ASCII letters and digits (other bytes split words)
  float weight = 1.0f;
  bool follows_previous = false;  // adjacent to the previous kept word (no stop word or punctuation between)
};

struct LexicalFeatureOptions {
  int64_t dim = 1024;          // hashed feature space
  float bigram_weight = 2.0f;  // bigram features relative to single words
};

// Splits text into lower-cased words; `char_weights` (one per byte of text, or empty for all 1)
// give each word the minimum weight over its bytes. Stop words are dropped and break adjacency.
std::vector<WeightedWord> content_words(std::string_view text, const std::vector<float>& char_weights = {});

// The hashed feature vector [dim] of the words (signed hashing, so collisions cancel on
// average), L2-normalised; all zeros when there is no content word.
std::vector<float> lexical_features(const std::vector<WeightedWord>& words, const LexicalFeatureOptions& options = {});

bool is_stop_word(std::string_view word);

}  // namespace lumen
