#include "lumen/models/siglip_encoder.h"

#include <cmath>

#include "lumen/kernels/cpu/attention.h"
#include "lumen/kernels/cpu/elementwise.h"

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

void SiglipScratch::reserve(int64_t tokens, const SiglipEncoderShape& s) {
  auto grow = [](std::vector<float>& buffer, int64_t n) {
    if (buffer.size() < static_cast<size_t>(n)) buffer.resize(static_cast<size_t>(n));
  };
  grow(normed, tokens * s.hidden);
  grow(q, tokens * s.hidden);
  grow(k, tokens * s.hidden);
  grow(v, tokens * s.hidden);
  grow(attn, tokens * s.hidden);
  grow(proj, tokens * s.hidden);
  grow(mlp, tokens * s.intermediate);
}

void siglip_encoder_layer_forward(const SiglipEncoderLayer& layer, const SiglipEncoderShape& s, float* x,
                                  int64_t n_sequences, int64_t seq_len, SiglipScratch& scratch) {
  const int64_t tokens = n_sequences * seq_len;
  const int64_t d = s.hidden;
  scratch.reserve(tokens, s);

  // Attention block. normed, q, k, v, attn: [tokens, hidden].
  layer.layer_norm1.forward(x, tokens, scratch.normed.data());
  layer.q_proj.forward(scratch.normed.data(), tokens, scratch.q.data());
  layer.k_proj.forward(scratch.normed.data(), tokens, scratch.k.data());
  layer.v_proj.forward(scratch.normed.data(), tokens, scratch.v.data());
  AttentionShape shape;
  shape.n_queries = seq_len;
  shape.n_keys = seq_len;
  shape.n_heads = s.heads;
  shape.n_kv_heads = s.heads;
  shape.head_dim = d / s.heads;
  shape.q_stride = shape.kv_stride = shape.out_stride = d;
  shape.causal = false;
  shape.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(shape.head_dim)));
  for (int64_t seq = 0; seq < n_sequences; ++seq) {
    const int64_t offset = seq * seq_len * d;
    attention(scratch.q.data() + offset, scratch.k.data() + offset, scratch.v.data() + offset,
              scratch.attn.data() + offset, shape);
  }
  layer.out_proj.forward(scratch.attn.data(), tokens, scratch.proj.data());
  add_inplace(x, scratch.proj.data(), tokens * d);

  // MLP block. mlp: [tokens, intermediate].
  layer.layer_norm2.forward(x, tokens, scratch.normed.data());
  layer.fc1.forward(scratch.normed.data(), tokens, scratch.mlp.data());
  activation_inplace(s.activation, scratch.mlp.data(), tokens * s.intermediate);
  layer.fc2.forward(scratch.mlp.data(), tokens, scratch.proj.data());
  add_inplace(x, scratch.proj.data(), tokens * d);
}

}  // namespace lumen
