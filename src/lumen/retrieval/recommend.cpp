#include "lumen/retrieval/recommend.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "lumen/core/error.h"
#include "lumen/kernels/cpu/vector_ops.h"

namespace lumen {

std::vector<float> recommendation_profile(const ItemIndex& index, const RecommendRequest& request) {
  const int64_t d = index.dim();
  if (request.liked.empty() && request.preference.empty()) {
    fail("a recommendation needs liked items or a text preference");
  }
  if (!request.preference.empty() && static_cast<int64_t>(request.preference.size()) != d) {
    fail_kind(ErrorKind::kInternal, "preference has ", request.preference.size(), " dimensions, the index ", d);
  }
  std::vector<float> profile(static_cast<size_t>(d), 0.0f);
  auto add_mean = [&](const std::vector<std::string>& ids, float weight) {
    if (ids.empty()) return;
    const float w = weight / static_cast<float>(ids.size());
    for (const auto& id : ids) {
      const float* v = index.vector_of(id);  // throws kNotFound naming the id
      for (int64_t c = 0; c < d; ++c) profile[c] += w * v[c];
    }
  };
  add_mean(request.liked, 1.0f);
  add_mean(request.disliked, -request.disliked_weight);
  if (!request.preference.empty()) {
    for (int64_t c = 0; c < d; ++c) profile[c] += request.text_weight * request.preference[c];
  }
  l2_normalize_rows(profile.data(), 1, d);
  return profile;
}

std::vector<ScoredItem> recommend(const ItemIndex& index, const RecommendRequest& request) {
  if (request.k < 1 || request.k > 10000) fail("k must be in [1, 10000]");
  if (!(request.diversity >= 0.0 && request.diversity <= 1.0)) fail("diversity must be in [0, 1]");
  const std::vector<float> profile = recommendation_profile(index, request);
  std::vector<std::string> seen = request.liked;
  seen.insert(seen.end(), request.disliked.begin(), request.disliked.end());
  if (request.diversity == 0.0) return index.search(profile.data(), request.k, seen);

  // MMR over a candidate pool a few times larger than k.
  const int64_t d = index.dim();
  std::vector<ScoredItem> pool = index.search(profile.data(), std::max<int64_t>(4 * request.k, 50), seen);
  std::vector<ScoredItem> picked;
  std::vector<float> max_similarity(pool.size(), -std::numeric_limits<float>::infinity());
  std::vector<bool> used(pool.size(), false);
  const double lambda = 1.0 - request.diversity;
  while (static_cast<int64_t>(picked.size()) < request.k && picked.size() < pool.size()) {
    size_t best = pool.size();
    double best_value = -std::numeric_limits<double>::infinity();
    for (size_t i = 0; i < pool.size(); ++i) {
      if (used[i]) continue;
      const double redundancy = picked.empty() ? 0.0 : max_similarity[i];
      const double value = lambda * pool[i].score - request.diversity * redundancy;
      if (value > best_value) {
        best_value = value;
        best = i;
      }
    }
    used[best] = true;
    picked.push_back(pool[best]);
    const float* chosen = index.vector_of(pool[best].id);
    for (size_t i = 0; i < pool.size(); ++i) {
      if (!used[i]) max_similarity[i] = std::max(max_similarity[i], dot(chosen, index.vector_of(pool[i].id), d));
    }
  }
  return picked;
}

}  // namespace lumen
