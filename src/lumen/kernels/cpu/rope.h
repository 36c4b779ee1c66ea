// Rotary position embedding, NeoX style (rotate halves) on the first rotary_dim dims of each
// head, as HF's Phi applies it (partial rotary).
#pragma once

#include <cstdint>

namespace lumen {

// x: [n_tokens, n_heads, head_dim] with row stride `token_stride` floats; token t has position
// first_position + t.
void rope_neox_inplace(float* x, int64_t n_tokens, int64_t token_stride, int64_t n_heads, int64_t head_dim,
                       int64_t rotary_dim, int64_t first_position, double theta);

}  // namespace lumen
