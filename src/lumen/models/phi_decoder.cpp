#include "lumen/models/phi_decoder.h"

#include <cmath>

#include "lumen/core/error.h"
#include "lumen/kernels/cpu/attention.h"
#include "lumen/kernels/cpu/elementwise.h"
#include "lumen/kernels/cpu/rope.h"

namespace lumen {

AttentionShape phi_attention_shape(const PhiConfig& c, int64_t n_queries, int64_t n_keys) {
  AttentionShape shape;
  shape.n_queries = n_queries;
  shape.n_keys = n_keys;
  shape.n_heads = c.num_heads;
  shape.n_kv_heads = c.num_kv_heads;
  shape.head_dim = c.head_dim();
  shape.q_stride = c.hidden_size;
  shape.kv_stride = c.num_kv_heads * c.head_dim();
  shape.out_stride = c.hidden_size;
  shape.causal = true;
  // softmax(q k^T / sqrt(head_dim)), as in HF PhiAttention.
  shape.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.head_dim())));
  return shape;
}

PhiDecoder PhiDecoder::load(const TensorStore& store, const PhiConfig& c, WeightLayout layout) {
  PhiDecoder decoder;
  decoder.config_ = c;
  const int64_t d = c.hidden_size;
  const int64_t kv = c.num_kv_heads * c.head_dim();
  const bool msft = layout == WeightLayout::kPhiMsft;
  decoder.embed_tokens_ =
      load_matrix(store, msft ? "transformer.embd.wte.weight" : "model.embed_tokens.weight", c.vocab_size, d);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    PhiLayer layer;
    if (msft) {
      const std::string p = "transformer.h." + std::to_string(i);
      layer.input_layernorm = load_layer_norm(store, p + ".ln", d, c.layer_norm_eps);
      // Fused Wqkv: rows [q (d); k (kv); v (kv)].
      Linear qkv = load_linear(store, p + ".mixer.Wqkv", d + 2 * kv, d);
      layer.q_proj = {slice_rows(qkv.weight, 0, d), {qkv.bias.begin(), qkv.bias.begin() + d}};
      layer.k_proj = {slice_rows(qkv.weight, d, kv), {qkv.bias.begin() + d, qkv.bias.begin() + d + kv}};
      layer.v_proj = {slice_rows(qkv.weight, d + kv, kv), {qkv.bias.begin() + d + kv, qkv.bias.end()}};
      layer.dense = load_linear(store, p + ".mixer.out_proj", d, d);
      layer.fc1 = load_linear(store, p + ".mlp.fc1", c.intermediate_size, d);
      layer.fc2 = load_linear(store, p + ".mlp.fc2", d, c.intermediate_size);
    } else {
      const std::string p = "model.layers." + std::to_string(i);
      layer.input_layernorm = load_layer_norm(store, p + ".input_layernorm", d, c.layer_norm_eps);
      layer.q_proj = load_linear(store, p + ".self_attn.q_proj", d, d);
      layer.k_proj = load_linear(store, p + ".self_attn.k_proj", kv, d);
      layer.v_proj = load_linear(store, p + ".self_attn.v_proj", kv, d);
      layer.dense = load_linear(store, p + ".self_attn.dense", d, d);
      layer.fc1 = load_linear(store, p + ".mlp.fc1", c.intermediate_size, d);
      layer.fc2 = load_linear(store, p + ".mlp.fc2", d, c.intermediate_size);
    }
    decoder.layers_.push_back(std::move(layer));
  }
  decoder.final_layernorm_ =
      load_layer_norm(store, msft ? "lm_head.ln" : "model.final_layernorm", d, c.layer_norm_eps);
  decoder.lm_head_ = load_linear(store, msft ? "lm_head.linear" : "lm_head", c.vocab_size, d);
  // A reduced-precision decoder already rounds its activations to bf16 or int8 inside every
  // matmul; f16 keys and values (10-bit mantissa) add less error than that and halve the
  // bytes decode attention reads.
  const bool reduced =
      !decoder.layers_.empty() && decoder.layers_[0].q_proj.weight.precision == MatmulPrecision::kReduced;
  decoder.kv_dtype_ = reduced ? DType::kF16 : DType::kF32;
  return decoder;
}

void PhiDecoder::embed(const int32_t* ids, int64_t n, float* out) const {
  const int64_t d = config_.hidden_size;
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] < 0 || ids[i] >= config_.vocab_size) {
      fail("token id ", ids[i], " is outside the vocabulary of ", config_.vocab_size);
    }
    convert_row_to_f32(embed_tokens_.dtype, embed_tokens_.row(ids[i]), d, out + i * d);
  }
}

KvCache PhiDecoder::make_cache(int64_t capacity, DType dtype) const {
  return KvCache(config_.num_layers, capacity, config_.num_kv_heads * config_.head_dim(), dtype);
}

void PhiDecoder::run_layers(std::vector<float>& hidden, int64_t n, KvCache& cache) const {
  const PhiConfig& c = config_;
  const int64_t d = c.hidden_size;
  const int64_t head_dim = c.head_dim();
  const int64_t kv = c.num_kv_heads * head_dim;
  const int64_t past = cache.length();
  if (past + n > cache.capacity()) {
    fail_kind(ErrorKind::kLimitExceeded, "sequence of ", past + n, " positions exceeds the context of ",
              cache.capacity());
  }
  // Scratch, [n, width] each.
  std::vector<float> normed(static_cast<size_t>(n * d)), q(static_cast<size_t>(n * d));
  std::vector<float> attn(static_cast<size_t>(n * d)), out(static_cast<size_t>(n * d));
  std::vector<float> mlp(static_cast<size_t>(n * c.intermediate_size));
  std::vector<float> keys(static_cast<size_t>(n * kv)), values(static_cast<size_t>(n * kv));  // this step's, fp32

  AttentionShape shape = phi_attention_shape(c, n, past + n);
  shape.kv_dtype = cache.dtype();

  for (size_t li = 0; li < layers_.size(); ++li) {
    const PhiLayer& layer = layers_[li];
    const int64_t l = static_cast<int64_t>(li);
    layer.input_layernorm.forward(hidden.data(), n, normed.data());
    layer.q_proj.forward(normed.data(), n, q.data());
    layer.k_proj.forward(normed.data(), n, keys.data());
    layer.v_proj.forward(normed.data(), n, values.data());
    rope_neox_inplace(q.data(), n, d, c.num_heads, head_dim, c.rotary_dim, past, c.rope_theta);
    rope_neox_inplace(keys.data(), n, kv, c.num_kv_heads, head_dim, c.rotary_dim, past, c.rope_theta);
    store_kv_rows(keys.data(), n, kv, cache.dtype(), cache.key_row(l, past));
    store_kv_rows(values.data(), n, kv, cache.dtype(), cache.value_row(l, past));
    attention(q.data(), cache.keys(l), cache.values(l), attn.data(), shape);
    layer.dense.forward(attn.data(), n, out.data());
    // Parallel MLP on the same normed input.
    layer.fc1.forward(normed.data(), n, mlp.data());
    activation_inplace(c.activation, mlp.data(), n * c.intermediate_size);
    add_inplace(hidden.data(), out.data(), n * d);
    layer.fc2.forward(mlp.data(), n, out.data());
    add_inplace(hidden.data(), out.data(), n * d);
  }
  cache.advance(n);
}

void PhiDecoder::forward(const float* x, int64_t n, KvCache& cache, float* logits, int64_t n_logits) const {
  if (n <= 0) fail("forward needs at least one position");
  const int64_t d = config_.hidden_size;
  std::vector<float> hidden(x, x + n * d);
  run_layers(hidden, n, cache);
  if (n_logits <= 0) return;
  n_logits = std::min(n_logits, n);
  const float* last = hidden.data() + (n - n_logits) * d;
  std::vector<float> normed(static_cast<size_t>(n_logits * d));
  final_layernorm_.forward(last, n_logits, normed.data());
  lm_head_.forward(normed.data(), n_logits, logits);
}

void PhiDecoder::forward_hidden(const float* x, int64_t n, KvCache& cache, float* last_hidden) const {
  if (n <= 0) fail("forward needs at least one position");
  const int64_t d = config_.hidden_size;
  std::vector<float> hidden(x, x + n * d);
  run_layers(hidden, n, cache);
  final_layernorm_.forward(hidden.data() + (n - 1) * d, 1, last_hidden);
}

}  // namespace lumen
