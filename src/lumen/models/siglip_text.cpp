#include "lumen/models/siglip_text.h"

#include "lumen/core/error.h"
#include "lumen/kernels/cpu/elementwise.h"

namespace lumen {

SiglipTextTower SiglipTextTower::load(const TensorStore& store, const std::string& prefix,
                                      const SiglipTextConfig& config) {
  SiglipTextTower tower;
  tower.config_ = config;
  tower.shape_ = {config.hidden_size, config.intermediate_size, config.num_heads, config.layer_norm_eps,
                  config.activation};
  const int64_t d = config.hidden_size;
  tower.token_embedding_ = load_matrix(store, prefix + ".embeddings.token_embedding.weight", config.vocab_size, d);
  tower.position_embedding_ =
      load_dense(store, prefix + ".embeddings.position_embedding.weight", {config.max_positions, d});
  for (int64_t i = 0; i < config.num_layers; ++i) {
    tower.layers_.push_back(
        load_siglip_encoder_layer(store, prefix + ".encoder.layers." + std::to_string(i), tower.shape_));
  }
  tower.final_layer_norm_ = load_layer_norm(store, prefix + ".final_layer_norm", d, config.layer_norm_eps);
  tower.head_ = load_linear(store, prefix + ".head", config.projection_size, d);
  return tower;
}

std::vector<float> SiglipTextTower::forward(const int32_t* ids, int64_t n_texts, int64_t seq_len) const {
  const int64_t d = config_.hidden_size;
  if (seq_len < 1 || seq_len > config_.max_positions) {
    fail("[SiglipText] sequence length ", seq_len, " is outside [1, ", config_.max_positions, "]");
  }
  if (n_texts <= 0) return {};
  const int64_t tokens = n_texts * seq_len;
  // hidden: [n_texts * seq_len, d] = token rows + positions.
  std::vector<float> hidden(static_cast<size_t>(tokens * d));
  for (int64_t t = 0; t < tokens; ++t) {
    const int32_t id = ids[t];
    if (id < 0 || id >= config_.vocab_size) fail("[SiglipText] token id ", id, " is outside the vocabulary of ", config_.vocab_size);
    float* row = hidden.data() + t * d;
    convert_row_to_f32(token_embedding_.dtype, token_embedding_.row(id), d, row);
    add_inplace(row, position_embedding_.data() + (t % seq_len) * d, d);
  }
  SiglipScratch scratch;
  for (const auto& layer : layers_) siglip_encoder_layer_forward(layer, shape_, hidden.data(), n_texts, seq_len, scratch);

  // Pool: final LayerNorm on each sequence's last position ([n_texts, d]), then the head.
  std::vector<float> pooled(static_cast<size_t>(n_texts * d));
  for (int64_t i = 0; i < n_texts; ++i) {
    final_layer_norm_.forward(hidden.data() + ((i + 1) * seq_len - 1) * d, 1, pooled.data() + i * d);
  }
  std::vector<float> out(static_cast<size_t>(n_texts * config_.projection_size));
  head_.forward(pooled.data(), n_texts, out.data());
  return out;
}

}  // namespace lumen
