// SigLIP's pre-norm transformer encoder layer, shared by the vision tower (Imp's image
// encoder) and, later, SigLIP's text tower:
//   x = x + out_proj(attn(LN1(x)));  x = x + fc2(act(fc1(LN2(x))))
// Attention is bidirectional with scale head_dim^-0.5 (HF SiglipAttention).
#pragma once

#include <string>
#include <vector>

#include "lumen/models/imp_config.h"
#include "lumen/models/family.h"
#include "lumen/models/weight_loading.h"

namespace lumen {

struct SiglipEncoderLayer {
  LayerNormWeights layer_norm1, layer_norm2;
  Linear q_proj, k_proj, v_proj, out_proj;
  Linear fc1, fc2;
};

struct SiglipEncoderShape {
  int64_t hidden = 0;
  int64_t intermediate = 0;
  int64_t heads = 0;
  double layer_norm_eps = 1e-6;
  Activation activation = Activation::kGeluTanh;
};

SiglipEncoderLayer load_siglip_encoder_layer(const TensorStore& store, const std::string& prefix,
                                             const SiglipEncoderShape& shape);
// The tensors load_siglip_encoder_layer reads, for in-memory and synthetic checkpoints.
void append_siglip_encoder_layer_specs(std::vector<TensorSpec>& out, const std::string& prefix,
                                       const SiglipEncoderShape& shape);
// The same layer as the shared blocks describe it (models/blocks.h: pre-norm, sequential).
HostLayer to_host_layer(const SiglipEncoderLayer& layer);

// Scratch buffers reused across layers and calls, so no memory is faulted in per layer.
struct SiglipScratch {
  std::vector<float> normed, q, k, v, attn, proj, mlp;
  void reserve(int64_t tokens, const SiglipEncoderShape& shape);
};

// Runs one layer in place over `n_sequences` independent sequences of `seq_len` tokens each,
// stored back to back in x: [n_sequences * seq_len, hidden].
void siglip_encoder_layer_forward(const SiglipEncoderLayer& layer, const SiglipEncoderShape& shape, float* x,
                                  int64_t n_sequences, int64_t seq_len, SiglipScratch& scratch);

}  // namespace lumen
