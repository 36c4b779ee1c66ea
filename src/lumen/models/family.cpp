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
