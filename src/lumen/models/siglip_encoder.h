// SigLIP's pre-norm transformer encoder layer as stored, shared by the vision tower and the
// text tower: its tensor names, loading, and its description as a shared block
// (models/blocks.h runs it: sequential residual, bidirectional attention, scale head_dim^-0.5
// as HF SiglipAttention):
//   x = x + out_proj(attn(LN1(x)));  x = x + fc2(act(fc1(LN2(x))))
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

}  // namespace lumen
