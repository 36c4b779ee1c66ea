// Picks the next token from logits: greedy, or sampling with temperature, top-k, top-p and a
// repetition penalty (HF semantics), reproducible for a given seed.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

namespace lumen {

struct SamplingParams {
  float temperature = 0.0f;         // 0 = greedy
  int32_t top_k = 0;                // 0 = off
  float top_p = 1.0f;               // 1 = off
  float repetition_penalty = 1.0f;  // 1 = off; >1 discourages tokens already in the sequence
  uint64_t seed = 0;

  // Throws Error naming the bad parameter.
  void validate() const;
};

class Sampler {
 public:
  explicit Sampler(const SamplingParams& params);
  // logits are modified in place (penalty, temperature). `history` is every token so far
  // (prompt and generated), used by the repetition penalty.
  int32_t sample(std::span<float> logits, std::span<const int32_t> history);

 private:
  SamplingParams params_;
  std::mt19937_64 rng_;
  std::vector<int32_t> order_;  // scratch
};

// Index of the largest logit (lowest index on ties).
int32_t argmax(std::span<const float> logits);

}  // namespace lumen
