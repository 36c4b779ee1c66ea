#include "lumen/models/siglip_encoder.h"

#include <cmath>


namespace lumen {

namespace {
// The layer's tensor-name table (suffixes after the layer prefix); loading and the spec list
// below both read it.
constexpr const char* kLayerNorm1 = ".layer_norm1";
constexpr const char* kLayerNorm2 = ".layer_norm2";
constexpr const char* kQ = ".self_attn.q_proj";
constexpr const char* kK = ".self_attn.k_proj";
constexpr const char* kV = ".self_attn.v_proj";
constexpr const char* kOut = ".self_attn.out_proj";
constexpr const char* kFc1 = ".mlp.fc1";
constexpr const char* kFc2 = ".mlp.fc2";
}  // namespace

SiglipEncoderLayer load_siglip_encoder_layer(const TensorStore& store, const std::string& prefix,
                                             const SiglipEncoderShape& s) {
  SiglipEncoderLayer layer;
  layer.layer_norm1 = load_layer_norm(store, prefix + kLayerNorm1, s.hidden, s.layer_norm_eps);
  layer.layer_norm2 = load_layer_norm(store, prefix + kLayerNorm2, s.hidden, s.layer_norm_eps);
  layer.q_proj = load_linear(store, prefix + kQ, s.hidden, s.hidden);
  layer.k_proj = load_linear(store, prefix + kK, s.hidden, s.hidden);
  layer.v_proj = load_linear(store, prefix + kV, s.hidden, s.hidden);
  layer.out_proj = load_linear(store, prefix + kOut, s.hidden, s.hidden);
  layer.fc1 = load_linear(store, prefix + kFc1, s.intermediate, s.hidden);
  layer.fc2 = load_linear(store, prefix + kFc2, s.hidden, s.intermediate);
  return layer;
}

void append_siglip_encoder_layer_specs(std::vector<TensorSpec>& out, const std::string& prefix,
                                       const SiglipEncoderShape& s) {
  append_norm_specs(out, prefix + kLayerNorm1, s.hidden);
  append_norm_specs(out, prefix + kLayerNorm2, s.hidden);
  for (const char* proj : {kQ, kK, kV, kOut}) append_linear_specs(out, prefix + proj, s.hidden, s.hidden);
  append_linear_specs(out, prefix + kFc1, s.intermediate, s.hidden);
  append_linear_specs(out, prefix + kFc2, s.hidden, s.intermediate);
}

HostLayer to_host_layer(const SiglipEncoderLayer& l) {
  HostLayer layer;
  layer.norm1 = {NormKind::kLayerNorm, l.layer_norm1};
  layer.norm2 = {NormKind::kLayerNorm, l.layer_norm2};
  layer.qkv = {l.q_proj, l.k_proj, l.v_proj};
  layer.out = l.out_proj;
  layer.up = {l.fc1};
  layer.down = l.fc2;
  return layer;
}

}  // namespace lumen
