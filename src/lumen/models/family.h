// The seam between a checkpoint and the forward pass: what a model family's file produces.
// A family file (models/phi for decoders, models/siglip_vision for vision towers) holds its
// tensor-name table once, and from it both lists the tensors a checkpoint of a given config
// has (in-memory random checkpoints for `lumen bench`, synthetic test checkpoints) and loads
// them into the generic host descriptions below, which models/imp_device_model uploads into
// the shared blocks (models/blocks.h). models/registry picks the families from config.json.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "lumen/formats/checkpoint.h"
#include "lumen/models/blocks.h"
#include "lumen/models/imp_config.h"

namespace lumen {

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
};

// A text decoder as loaded: views into the checkpoint plus fp32 copies of small vectors.
struct HostDecoder {
  LayerGeometry geometry;
  int64_t vocab_size = 0;
  WeightMatrix embed_tokens;  // [vocab, hidden]
  std::vector<HostLayer> layers;
  HostNorm final_norm;
  Linear lm_head;             // bias optional

  // Token embeddings on the host, from the mapped table: out [n, hidden] (prompt splicing).
  // Throws Error for an id outside the vocabulary.
  void embed(const int32_t* ids, int64_t n, float* out) const;
  // Whether --quant chose reduced-precision matmuls for the decoder's matrices.
  MatmulPrecision precision() const;
};

// A ViT-style vision tower as loaded: a patch embedding (a conv with stride = kernel, seen as a
// linear map over im2col patches), learned positions, and the layers that run (up to the
// selected one; its output is the feature, without post-norm). CLIP adds a class token before
// the patches and a LayerNorm before the layers (config.class_token, config.pre_layernorm).
struct HostVisionTower {
  LayerGeometry geometry;
  SiglipVisionConfig config;
  Linear patch_embedding;                  // [hidden, channels p p]; bias empty for CLIP
  std::vector<float> class_embedding;      // [hidden] when config.class_token
  std::vector<float> position_embedding;   // [sequence_length, hidden] (the class token's row first)
  HostNorm pre_norm;                       // when config.pre_layernorm
  std::vector<HostLayer> layers;
};

struct DecoderFamily {
  const char* name;  // e.g. "phi"
  // The rotary share of head_dim when config.json names neither rotary_dim nor
  // partial_rotary_factor: Phi-2 0.4, the Llama lineage 1.
  double default_rotary_fraction;
  // Appends the decoder's tensors of a checkpoint with this config and layout.
  void (*tensor_specs)(const ImpConfig& config, WeightLayout layout, std::vector<TensorSpec>& out);
  // Loads them; throws Error naming a missing or mis-shaped tensor.
  HostDecoder (*load)(const TensorStore& store, const ImpConfig& config, WeightLayout layout);
};

struct VisionFamily {
  const char* name;  // e.g. "siglip"
  void (*tensor_specs)(const ImpConfig& config, WeightLayout layout, std::vector<TensorSpec>& out);
  HostVisionTower (*load)(const TensorStore& store, const ImpConfig& config, WeightLayout layout);
};

// A decoder layer's geometry from its config: the MLP plain or gated, the residual parallel
// (Phi) or sequential (the Llama lineage).
LayerGeometry decoder_geometry(const PhiConfig& config, bool gated_mlp, bool parallel_residual);

// Appends a linear layer's (or a norm's) "PREFIX.weight" [out, in] and "PREFIX.bias" [out].
void append_linear_specs(std::vector<TensorSpec>& out, const std::string& prefix, int64_t rows, int64_t cols,
                         bool bias = true);
void append_norm_specs(std::vector<TensorSpec>& out, const std::string& prefix, int64_t n, bool bias = true);

}  // namespace lumen
