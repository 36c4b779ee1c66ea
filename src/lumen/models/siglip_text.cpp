#include "lumen/models/siglip_text.h"

#include "lumen/core/error.h"
#include "lumen/kernels/cpu/elementwise.h"

namespace lumen {

SiglipTextTower SiglipTextTower::load(const TensorStore& store, const std::string& prefix,
                                      const SiglipTextConfig& config, Backend& backend) {
  SiglipTextTower tower;
  tower.config_ = config;
  tower.backend_ = &backend;
  const SiglipEncoderShape shape{config.hidden_size, config.intermediate_size, config.num_heads, config.layer_norm_eps,
                                 config.activation};
  LayerGeometry& g = tower.geometry_;
  g.hidden = config.hidden_size;
  g.heads = g.kv_heads = config.num_heads;
  g.head_dim = config.hidden_size / config.num_heads;
  g.intermediate = config.intermediate_size;
  g.activation = config.activation;  // no rotary (learned positions), sequential residual
  const int64_t d = config.hidden_size;
  const DType act = backend.activation_dtype(DType::kF32, DType::kF32);
  tower.token_embedding_ = load_matrix(store, prefix + ".embeddings.token_embedding.weight", config.vocab_size, d);
  tower.position_embedding_ =
      load_dense(store, prefix + ".embeddings.position_embedding.weight", {config.max_positions, d});
  for (int64_t i = 0; i < config.num_layers; ++i) {
    const HostLayer layer =
        to_host_layer(load_siglip_encoder_layer(store, prefix + ".encoder.layers." + std::to_string(i), shape));
    tower.layers_.push_back(upload_layer(backend, layer, act));
  }
  tower.final_norm_ = upload_norm(
      backend, {NormKind::kLayerNorm, load_layer_norm(store, prefix + ".final_layer_norm", d, config.layer_norm_eps)});
  const Linear head = load_linear(store, prefix + ".head", config.projection_size, d);
  tower.head_ = upload_linear(backend, {&head}, act);
  return tower;
}

std::vector<float> SiglipTextTower::forward(const int32_t* ids, int64_t n_texts, int64_t seq_len) {
  const int64_t d = config_.hidden_size;
  if (seq_len < 1 || seq_len > config_.max_positions) {
    fail("[SiglipText] sequence length ", seq_len, " is outside [1, ", config_.max_positions, "]");
  }
  if (n_texts <= 0) return {};
  Backend& be = *backend_;
  const DType act = be.activation_dtype(DType::kF32, DType::kF32);
  const int64_t tokens = n_texts * seq_len;
  // hidden: [n_texts * seq_len, d] = token rows + positions, made on the host.
  std::vector<float> host(static_cast<size_t>(tokens * d));
  for (int64_t t = 0; t < tokens; ++t) {
    const int32_t id = ids[t];
    if (id < 0 || id >= config_.vocab_size) fail("[SiglipText] token id ", id, " is outside the vocabulary of ", config_.vocab_size);
    float* row = host.data() + t * d;
    convert_row_to_f32(token_embedding_.dtype, token_embedding_.row(id), d, row);
    add_inplace(row, position_embedding_.data() + (t % seq_len) * d, d);
  }
  auto grow = [&](DeviceBuffer& buffer, size_t bytes) {
    if (buffer.bytes() < bytes) buffer = be.allocate(bytes);
    return buffer.data();
  };
  auto* hidden = static_cast<float*>(grow(hidden_, host.size() * sizeof(float)));
  be.copy_to_device(hidden, host.data(), host.size() * sizeof(float));
  const LayerScratch scratch = scratch_.reserve(be, tokens, geometry_, act);
  const SequenceBatch texts{n_texts, seq_len};
  for (const TransformerLayer& layer : layers_) run_layer(be, act, layer, geometry_, tokens, hidden, scratch, nullptr, &texts);

  // Pool: the final LayerNorm of each sequence's last position ([n_texts, d]), then the head.
  void* pooled = grow(pooled_, static_cast<size_t>(n_texts * d) * dtype_size(act));
  for (int64_t i = 0; i < n_texts; ++i) {
    apply_norm(be, final_norm_, hidden + ((i + 1) * seq_len - 1) * d, 1, d, offset_by(pooled, i * d, act), act);
  }
  const int64_t projection = config_.projection_size;
  auto* out = static_cast<float*>(grow(out_, static_cast<size_t>(n_texts * projection) * sizeof(float)));
  be.linear(pooled, act, n_texts, head_.weight, head_.b(), out, DType::kF32, false);
  std::vector<float> features(static_cast<size_t>(n_texts * projection));
  be.copy_to_host(features.data(), out, features.size() * sizeof(float));
  return features;
}

}  // namespace lumen
