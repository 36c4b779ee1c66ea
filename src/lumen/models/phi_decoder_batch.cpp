// PhiDecoder::forward_batch: one decode step for several sequences at once, the server's
// continuous batching. Decode is bound by reading weights (a [1, K] x [K, N] product reads
// N*K weights for 2*N*K flops), so running B sequences through each linear() together reads
// every matrix once instead of B times. Only attention, which reads each sequence's own
// cache, runs per sequence.
//
// The computation per row is the one PhiDecoder::run_layers does for a single position
// (same kernels, same order), so a sequence gets the same logits batched or alone.
#include <cmath>

#include "lumen/core/error.h"
#include "lumen/kernels/cpu/attention.h"
#include "lumen/kernels/cpu/elementwise.h"
#include "lumen/kernels/cpu/rope.h"
#include "lumen/models/phi_decoder.h"

namespace lumen {

void PhiDecoder::forward_batch(const float* x, int64_t batch, KvCache* const* caches, float* logits) const {
  if (batch <= 0) fail("forward_batch needs at least one sequence");
  const PhiConfig& c = config_;
  const int64_t d = c.hidden_size;
  const int64_t head_dim = c.head_dim();
  const int64_t kv = c.num_kv_heads * head_dim;
  for (int64_t b = 0; b < batch; ++b) {
    if (caches[b] == nullptr) fail_kind(ErrorKind::kInternal, "forward_batch: sequence ", b, " has no cache");
    if (caches[b]->length() + 1 > caches[b]->capacity()) {
      fail_kind(ErrorKind::kLimitExceeded, "sequence ", b, " of the batch is at its context limit of ",
                caches[b]->capacity());
    }
  }

  // Activations, [batch, width] each; row b belongs to sequence b.
  const size_t rows = static_cast<size_t>(batch);
  std::vector<float> hidden(x, x + batch * d);
  std::vector<float> normed(rows * d), q(rows * d), attn(rows * d), out(rows * d);
  std::vector<float> keys(rows * kv), values(rows * kv);
  std::vector<float> mlp(rows * c.intermediate_size);

  AttentionShape shape = phi_attention_shape(c, 1, 0);  // n_keys set per sequence below

  for (size_t li = 0; li < layers_.size(); ++li) {
    const PhiLayer& layer = layers_[li];
    const int64_t l = static_cast<int64_t>(li);
    layer.input_layernorm.forward(hidden.data(), batch, normed.data());
    layer.q_proj.forward(normed.data(), batch, q.data());
    layer.k_proj.forward(normed.data(), batch, keys.data());
    layer.v_proj.forward(normed.data(), batch, values.data());
    for (int64_t b = 0; b < batch; ++b) {
      KvCache& cache = *caches[b];
      const int64_t position = cache.length();
      float* qb = q.data() + b * d;
      float* kb = keys.data() + b * kv;
      rope_neox_inplace(qb, 1, d, c.num_heads, head_dim, c.rotary_dim, position, c.rope_theta);
      rope_neox_inplace(kb, 1, kv, c.num_kv_heads, head_dim, c.rotary_dim, position, c.rope_theta);
      // This step's row of sequence b's cache.
      store_kv_rows(kb, 1, kv, cache.dtype(), cache.key_row(l, position));
      store_kv_rows(values.data() + b * kv, 1, kv, cache.dtype(), cache.value_row(l, position));
      shape.n_keys = position + 1;
      shape.kv_dtype = cache.dtype();
      attention(qb, cache.keys(l), cache.values(l), attn.data() + b * d, shape);
    }
    layer.dense.forward(attn.data(), batch, out.data());
    // Parallel MLP on the same normed input.
    layer.fc1.forward(normed.data(), batch, mlp.data());
    activation_inplace(c.activation, mlp.data(), batch * c.intermediate_size);
    add_inplace(hidden.data(), out.data(), batch * d);
    layer.fc2.forward(mlp.data(), batch, out.data());
    add_inplace(hidden.data(), out.data(), batch * d);
  }
  for (int64_t b = 0; b < batch; ++b) caches[b]->advance(1);
  final_layernorm_.forward(hidden.data(), batch, normed.data());
  lm_head_.forward(normed.data(), batch, logits);
}

}  // namespace lumen
