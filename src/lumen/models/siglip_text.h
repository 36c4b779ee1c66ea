// SigLIP's text tower (HF SiglipTextTransformer): token + learned position embeddings, the
// shared pre-norm encoder (no attention mask: SigLIP pads to max_length with </s> and attends
// to every position), final LayerNorm, pooling at the LAST position, then `head`
// Linear(hidden, projection_size).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lumen/formats/checkpoint.h"
#include "lumen/models/siglip_encoder.h"

namespace lumen {

struct SiglipTextConfig {
  // HF SiglipTextConfig defaults, used for keys a config.json leaves out.
  int64_t vocab_size = 32000;
  int64_t hidden_size = 768;
  int64_t intermediate_size = 3072;
  int64_t num_layers = 12;
  int64_t num_heads = 12;
  int64_t max_positions = 64;
  int64_t projection_size = 768;  // defaults to hidden_size when absent
  double layer_norm_eps = 1e-6;
  Activation activation = Activation::kGeluTanh;
};

class SiglipTextTower {
 public:
  // prefix: "text_model". Every tensor is checked for presence and shape. Throws Error.
  static SiglipTextTower load(const TensorStore& store, const std::string& prefix, const SiglipTextConfig& config);

  // ids: [n_texts, seq_len] with 1 <= seq_len <= max_positions and every id < vocab;
  // returns the pooled, projected features [n_texts, projection_size] (not normalised).
  // Throws Error for ids out of range.
  std::vector<float> forward(const int32_t* ids, int64_t n_texts, int64_t seq_len) const;

  const SiglipTextConfig& config() const { return config_; }

 private:
  SiglipTextConfig config_;
  SiglipEncoderShape shape_;
  WeightMatrix token_embedding_;           // [vocab, hidden], rows converted on use
  std::vector<float> position_embedding_;  // [max_positions, hidden]
  std::vector<SiglipEncoderLayer> layers_;
  LayerNormWeights final_layer_norm_;
  Linear head_;                            // [projection_size, hidden]
};

}  // namespace lumen
