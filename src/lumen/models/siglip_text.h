// SigLIP's text tower (HF SiglipTextTransformer): token + learned position embeddings, the
// shared pre-norm encoder (no attention mask: SigLIP pads to max_length with </s> and attends
// to every position), final LayerNorm, pooling at the LAST position, then `head`
// Linear(hidden, projection_size).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lumen/formats/checkpoint.h"
#include "lumen/models/blocks.h"
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

// The tower on a backend (models/blocks): token rows are looked up on the host, then every
// layer, the final norm and the head run there. One forward at a time (shared scratch: the
// owner serialises calls).
class SiglipTextTower {
 public:
  // prefix: "text_model". Every tensor is checked for presence and shape. Throws Error. The
  // store and the backend must outlive the tower.
  static SiglipTextTower load(const TensorStore& store, const std::string& prefix, const SiglipTextConfig& config,
                              Backend& backend);

  // ids: [n_texts, seq_len] with 1 <= seq_len <= max_positions and every id < vocab;
  // returns the pooled, projected features [n_texts, projection_size] (not normalised).
  // Throws Error for ids out of range.
  std::vector<float> forward(const int32_t* ids, int64_t n_texts, int64_t seq_len);

  const SiglipTextConfig& config() const { return config_; }

 private:
  SiglipTextConfig config_;
  LayerGeometry geometry_;
  Backend* backend_ = nullptr;
  WeightMatrix token_embedding_;           // [vocab, hidden], rows converted on use (host)
  std::vector<float> position_embedding_;  // [max_positions, hidden] (host)
  std::vector<TransformerLayer> layers_;
  NormBlock final_norm_;
  LinearBlock head_;                       // [projection_size, hidden]
  DeviceBuffer hidden_, pooled_, out_;
  LayerBuffers scratch_;
};

}  // namespace lumen
