#include "lumen/models/family.h"

#include "lumen/core/error.h"

namespace lumen {

void HostDecoder::embed(const int32_t* ids, int64_t n, float* out) const {
  const int64_t d = embed_tokens.cols;
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= vocab_size) fail("token id ", ids[i], " is outside the vocabulary of ", vocab_size);
    convert_row_to_f32(embed_tokens.dtype, embed_tokens.row(ids[i]), d, out + i * d);
  }
}

MatmulPrecision HostDecoder::precision() const {
  return layers.empty() ? MatmulPrecision::kExact : layers.front().qkv.front().weight.precision;
}

LayerGeometry decoder_geometry(const PhiConfig& c, bool gated_mlp, bool parallel_residual) {
  LayerGeometry g;
  g.hidden = c.hidden_size;
  g.heads = c.num_heads;
  g.kv_heads = c.num_kv_heads;
  g.head_dim = c.head_dim();
  g.rotary_dim = c.rotary_dim;
  g.rope_theta = c.rope_theta;
  g.intermediate = c.intermediate_size;
  g.activation = c.activation;
  g.gated_mlp = gated_mlp;
  g.parallel_residual = parallel_residual;
  return g;
}

void append_linear_specs(std::vector<TensorSpec>& out, const std::string& prefix, int64_t rows, int64_t cols,
                         bool bias) {
  out.push_back({prefix + ".weight", {rows, cols}});
  if (bias) out.push_back({prefix + ".bias", {rows}});
}

void append_norm_specs(std::vector<TensorSpec>& out, const std::string& prefix, int64_t n, bool bias) {
  out.push_back({prefix + ".weight", {n}});
  if (bias) out.push_back({prefix + ".bias", {n}});
}

}  // namespace lumen
