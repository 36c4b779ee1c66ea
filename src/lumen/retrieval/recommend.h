// Content recommendation over an ItemIndex: a profile vector from what the user liked and
// disliked (and an optional text preference), nearest unseen items to it, then Maximal
// Marginal Relevance (Carbonell & Goldstein, 1998) so the list is not ten near-copies:
//   profile = normalize(mean(liked) - disliked_weight * mean(disliked) + text_weight * text)
//   pick next argmax_c (1 - diversity) * cos(c, profile) - diversity * max_{s picked} cos(c, s)
#pragma once

#include <string>
#include <vector>

#include "lumen/retrieval/item_index.h"

namespace lumen {

struct RecommendRequest {
  std::vector<std::string> liked;
  std::vector<std::string> disliked;
  std::vector<float> preference;  // an embedded text preference [dim], or empty
  int64_t k = 10;
  double diversity = 0.0;         // 0: pure relevance; 1: pure novelty
  float disliked_weight = 0.5f;
  float text_weight = 1.0f;
};

// The profile vector [dim] (normalised). Throws Error for unknown ids or an empty profile.
std::vector<float> recommendation_profile(const ItemIndex& index, const RecommendRequest& request);

// Up to k unseen items (neither liked nor disliked), best first; each score is the item's
// cosine with the profile. Throws Error like recommendation_profile, or for k/diversity out of
// range.
std::vector<ScoredItem> recommend(const ItemIndex& index, const RecommendRequest& request);

}  // namespace lumen
